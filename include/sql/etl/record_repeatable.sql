INSERT INTO etl.repeatable_scripts (name, checksum) VALUES (%(name)s, %(checksum)s)
