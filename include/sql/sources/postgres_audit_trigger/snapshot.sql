-- The first statement of the reading transaction (REPEATABLE READ), so it fixes the snapshot
-- every page is read in. Every transaction below its xmin had ended when the snapshot was
-- taken; rows of the others may still commit behind the cursor, and the next read picks them
-- up by transaction_id >= this xmin.
SELECT txid_snapshot_xmin(txid_current_snapshot()) AS snapshot_xmin
