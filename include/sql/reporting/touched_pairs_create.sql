-- The (person, resource) pairs whose daily rows a build rewrote, before and after: their
-- first and last access are recomputed; the other pairs keep theirs.
CREATE TEMP TABLE touched_pairs (
    external_user_id uuid NOT NULL,
    config_id        uuid
) ON COMMIT DROP
