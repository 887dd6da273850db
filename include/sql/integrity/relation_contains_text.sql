-- Whether any row of {relation} holds %(text)s in its text form or in one of its bytea
-- columns read as UTF-8 ({binary_checks}: "OR strpos(convert_from(t.<col>, 'UTF8'), ...) > 0").
SELECT 1 FROM {relation} t WHERE strpos(t::text, %(text)s) > 0 {binary_checks} LIMIT 1
