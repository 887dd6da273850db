-- File sources: which files each extract read, and which files each source has loaded, so
-- that every file is loaded once and a file that changes is loaded again.
CREATE TABLE landing.batch_files (
    batch_id    uuid NOT NULL REFERENCES landing.extract_batches (batch_id) ON DELETE CASCADE,
    path        text NOT NULL,
    size        bigint NOT NULL,
    modified_at timestamptz,
    sha256      text NOT NULL,
    records     integer NOT NULL,
    PRIMARY KEY (batch_id, path)
);

-- Moved only by the load that committed the batch that read the file.
CREATE TABLE landing.processed_files (
    source_id   text NOT NULL,
    path        text NOT NULL,
    size        bigint NOT NULL,
    modified_at timestamptz,
    sha256      text NOT NULL,
    records     integer NOT NULL,
    batch_id    uuid NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_id, path)
);
