-- Records of evidence packs whose period ended before the cutoff (the packs' folders are not
-- the warehouse's: they stay where they were written); any hold on the period keeps them.
SELECT t.ctid AS row_id, NULL::text AS source_id,
       t.period_end::timestamp AT TIME ZONE 'UTC' AS at, t.pack_id::text AS key, 1 AS weight,
       'legal hold ' || h.hold_id AS kept_by
FROM reporting.evidence_packs t
LEFT JOIN LATERAL (
    SELECT h.hold_id
    FROM jsonb_to_recordset(%(holds)s::jsonb)
         AS h (hold_id text, period_start timestamptz, period_end timestamptz, sources text[])
    WHERE tstzrange(h.period_start, h.period_end)
          && tstzrange(t.period_start::timestamp AT TIME ZONE 'UTC',
                       (t.period_end + 1)::timestamp AT TIME ZONE 'UTC')
    ORDER BY h.hold_id
    LIMIT 1
) h ON true
WHERE t.period_end < (%(cutoff)s::timestamptz AT TIME ZONE 'UTC')::date
