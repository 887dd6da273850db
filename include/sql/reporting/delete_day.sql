-- The table is one of the day-keyed reporting tables, named by build.py (never user input).
DELETE FROM reporting.{table} WHERE day = %(day)s
