COPY landing.batch_files (batch_id, path, size, modified_at, sha256, records) FROM STDIN
