-- No load writes to the partition while it is counted, folded and dropped; loads writing to
-- other months go on (SHARE on the partition only).
LOCK TABLE {partition} IN SHARE MODE
