-- One source's rows in one partition (its primary key: an index-only count).
SELECT count(*) FROM {partition} WHERE source_id = %(source_id)s
