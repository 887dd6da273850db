DELETE FROM etl.repeatable_scripts
