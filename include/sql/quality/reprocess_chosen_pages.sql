-- The pages a re-processing batch will have: one per batch the chosen records first came from.
SELECT page_no, from_batch_id, window_start, window_end, count(*)::integer AS records
FROM reprocess_chosen
GROUP BY page_no, from_batch_id, window_start, window_end
ORDER BY page_no
