-- Every load of one source, oldest first: what it read and where it left the bookmark.
SELECT coalesce(b.bookmark_to::text, '(nothing new)'), extracted, loaded, quarantined, excluded,
       details -> 'excluded_by_rule', details -> 'redacted_values', new_users,
       details -> 'new_stub_users'
FROM audit.batches b
LEFT JOIN landing.extract_batches l USING (batch_id)
WHERE b.source_id = %(source_id)s
ORDER BY sequence_no
