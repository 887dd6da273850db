COPY staging_config_items (id, type, external_id, name, parent_id) FROM STDIN
