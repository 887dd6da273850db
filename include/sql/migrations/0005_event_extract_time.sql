-- When the content of each event was extracted (the landing batch's start): a batch extracted
-- earlier but loaded later never overwrites newer content.
ALTER TABLE audit.access_events ADD COLUMN extracted_at timestamptz;
