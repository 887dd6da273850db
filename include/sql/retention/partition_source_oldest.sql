-- One source's oldest row in one partition.
SELECT min(occurred_at) FROM {partition} WHERE source_id = %(source_id)s
