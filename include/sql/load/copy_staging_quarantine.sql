COPY staging_quarantine (record_key, payload_hash, payload, raw, reasons) FROM STDIN
