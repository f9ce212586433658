-- Search and retention (issue 6).

-- Each word of a customer's name as a blind index (a keyed hash, kenali_core::search::name_words),
-- so analysts find names without a plaintext column; rebuilt when the name changes, deleted on
-- erasure.
CREATE TABLE customer_name_words (
    org_id       TEXT NOT NULL REFERENCES organizations(id),
    customer_id  TEXT NOT NULL REFERENCES customers(id),
    word_index   TEXT NOT NULL,
    PRIMARY KEY (customer_id, word_index)
);
CREATE INDEX customer_name_words_lookup ON customer_name_words (org_id, word_index);
-- Which NAME_INDEX_VERSION built the customer's name words; 0: not built yet (the server
-- builds them at start, so customers stored before this migration become searchable).
ALTER TABLE customers ADD COLUMN name_index_version BIGINT NOT NULL DEFAULT 0;

-- The sweeper deletes by age within each org's windows.
CREATE INDEX captures_retention ON captures (org_id, retention_class, created_at);
CREATE INDEX verifications_age ON verifications (org_id, created_at);
CREATE INDEX audit_log_age ON audit_log (org_id, created_at);

-- The last audit entry the sweeper pruned, per org: the chain is verified from here.
CREATE TABLE audit_checkpoints (
    org_id      TEXT PRIMARY KEY REFERENCES organizations(id),
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Periodic jobs that several processes share: one holds a job until claimed_until.
CREATE TABLE job_leases (
    name              TEXT PRIMARY KEY,
    holder            TEXT NOT NULL,
    claimed_until     TEXT NOT NULL,
    last_finished_at  TEXT
);
