-- The names of the columns an UPDATE changed, sorted, without their values.
jsonb_build_object('changed_field_names', CASE jsonb_typeof(to_jsonb(c.changed_fields))
    WHEN 'object' THEN (SELECT jsonb_agg(k ORDER BY k) FROM jsonb_object_keys(to_jsonb(c.changed_fields)) AS k)
END)
