-- Vendor KYC pushes (seed 004): an integration is a vendor's server allowed to push finished
-- KYCs, with its OAuth client, its AES-256 keys and the mapping from its JSON to Kenali's fields.
CREATE TABLE integrations (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations(id),
    name             TEXT NOT NULL,
    -- The OAuth client whose tokens may push (oauth_clients.id).
    oauth_client_id  TEXT NOT NULL,
    -- The field mapping (kenali_core::vendor::FieldMapping, JSON).
    mapping          TEXT NOT NULL,
    -- 1 while pushes are taken, 0 once disabled.
    enabled          BIGINT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX integrations_org ON integrations (org_id, id);

-- An integration's keys, sealed with a key derived from the master key. The newest key without
-- retires_at encrypts confirmations; every key decrypts pushes until its retires_at.
CREATE TABLE integration_keys (
    id              TEXT PRIMARY KEY,
    integration_id  TEXT NOT NULL REFERENCES integrations(id),
    key_sealed      BYTEA NOT NULL,
    created_at      TEXT NOT NULL,
    retires_at      TEXT
);
CREATE INDEX integration_keys_integration ON integration_keys (integration_id, id);

-- Every push taken, by the vendor's submission id: a repeat gets the first confirmation (its
-- plaintext holds ids and reason codes, never a field's value). `payload_mac` is a keyed hash
-- of the decrypted payload, to tell a retry from another body under the same id.
CREATE TABLE vendor_pushes (
    integration_id   TEXT NOT NULL REFERENCES integrations(id),
    submission_id    TEXT NOT NULL,
    org_id           TEXT NOT NULL,
    payload_mac      TEXT NOT NULL,
    customer_id      TEXT,
    verification_id  TEXT,
    confirmation     TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (integration_id, submission_id)
);

-- The IVs seen under each key: a body whose IV was used before is a replay.
CREATE TABLE integration_ivs (
    key_id      TEXT NOT NULL,
    iv          TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (key_id, iv)
);
