-- Output settings for the read transaction (local to it): the files' text form of times,
-- dates, intervals, floats and bytes must not depend on the server's or the role's defaults,
-- or the same warehouse state would not give the same bytes.
SELECT set_config('TimeZone', 'UTC', true) AS "TimeZone",
       set_config('DateStyle', 'ISO, YMD', true) AS "DateStyle",
       set_config('IntervalStyle', 'postgres', true) AS "IntervalStyle",
       set_config('extra_float_digits', '1', true) AS extra_float_digits,
       set_config('bytea_output', 'hex', true) AS bytea_output
