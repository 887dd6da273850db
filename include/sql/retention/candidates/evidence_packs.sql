-- Records of evidence packs whose period ended before the cutoff (the packs' folders are not
-- the warehouse's: they stay where they were written); any hold on the period keeps them.
SELECT t.ctid AS row_id, NULL::text AS source_id,
       t.period_end::timestamp AT TIME ZONE 'UTC' AS at, t.pack_id::text AS key, 1 AS weight,
       'legal hold ' || h.hold_id AS kept_by
FROM reporting.evidence_packs t
LEFT JOIN LATERAL (
    SELECT etl.first_hold(%(holds)s::jsonb, NULL,
                          tstzrange(t.period_start::timestamp AT TIME ZONE 'UTC',
                          (t.period_end + 1)::timestamp AT TIME ZONE 'UTC')) AS hold_id
) h ON true
WHERE t.period_end < (%(cutoff)s::timestamptz AT TIME ZONE 'UTC')::date
