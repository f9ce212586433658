-- Images move to the blob store (KENALI_BLOB_URL): the row keeps the object's key, its SHA-256
-- and size. `sealed` / `photo_sealed` hold the image only for rows written before this, until
-- `kenali blobs migrate` moves them (then `sealed` is empty and `photo_sealed` NULL).

ALTER TABLE captures ADD COLUMN object_key TEXT;
ALTER TABLE captures ADD COLUMN object_sha256 TEXT;
ALTER TABLE captures ADD COLUMN object_size BIGINT;

ALTER TABLE dukcapil_verdicts ADD COLUMN photo_object_key TEXT;
ALTER TABLE dukcapil_verdicts ADD COLUMN photo_object_sha256 TEXT;
ALTER TABLE dukcapil_verdicts ADD COLUMN photo_object_size BIGINT;

-- Objects (or, with is_prefix, every object under a key prefix) whose rows are gone, queued in
-- the deleting transaction and deleted from the store after it commits.
CREATE TABLE blob_deletions (
    object_key  TEXT PRIMARY KEY,
    is_prefix   BIGINT NOT NULL,
    created_at  TEXT NOT NULL
);
