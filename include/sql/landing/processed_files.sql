SELECT path, size, modified_at, sha256, records FROM landing.processed_files
WHERE source_id = %(source_id)s
