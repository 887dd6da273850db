-- include_row_data: the row's values and the changed ones, as the trail holds them.
jsonb_build_object('row_data', to_jsonb(c.row_data), 'changed_fields', to_jsonb(c.changed_fields))
