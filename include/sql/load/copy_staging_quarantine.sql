COPY staging_quarantine (record_key, payload_hash, payload, reasons) FROM STDIN
