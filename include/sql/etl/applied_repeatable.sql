SELECT name, checksum FROM etl.repeatable_scripts
