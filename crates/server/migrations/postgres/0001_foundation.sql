-- Foundation: organizations, API keys, dashboard users, customers, the verification ledger,
-- tier events, Dukcapil verdicts, the hash-chained audit log and idempotency records.
-- Times are fixed-width RFC 3339 UTC text (see kenali_core::time_fmt) so that text order is
-- time order in both databases. Booleans are BIGINT 0/1 for the same reason of one code path.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id),
    name         TEXT NOT NULL,
    -- The first characters of the secret, shown in lists so people can tell keys apart.
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX api_keys_org ON api_keys (org_id, id);

CREATE TABLE dashboard_users (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id),
    email          TEXT NOT NULL,
    role           TEXT NOT NULL,
    password_hash  TEXT,
    created_at     TEXT NOT NULL,
    UNIQUE (org_id, email)
);

CREATE TABLE customers (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations(id),
    external_ref      TEXT,
    -- The customer's data key, wrapped by the master key. Erasure deletes it (crypto-shredding).
    wrapped_data_key  BYTEA,
    -- fullName, email, phone, nik, dateOfBirth, gender as JSON sealed with the data key.
    pii_sealed        BYTEA,
    -- Blind indexes (keyed hashes) for equality search over sealed values.
    nik_index         TEXT,
    email_index       TEXT,
    phone_index       TEXT,
    tier              TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    erased_at         TEXT,
    UNIQUE (org_id, external_ref)
);
CREATE INDEX customers_org ON customers (org_id, id);
CREATE INDEX customers_nik ON customers (org_id, nik_index);
CREATE INDEX customers_email ON customers (org_id, email_index);
CREATE INDEX customers_phone ON customers (org_id, phone_index);

CREATE TABLE verifications (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id),
    customer_id    TEXT NOT NULL REFERENCES customers(id),
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    reasons        TEXT NOT NULL,
    -- Kind-specific facts that are not PII (assurance, target tier, enrollment source...).
    details        TEXT NOT NULL,
    actor          TEXT NOT NULL,
    actor_user_id  TEXT,
    created_at     TEXT NOT NULL
);
CREATE INDEX verifications_customer ON verifications (org_id, customer_id, id);
CREATE INDEX verifications_org ON verifications (org_id, id);

CREATE TABLE tier_events (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations(id),
    customer_id      TEXT NOT NULL REFERENCES customers(id),
    from_tier        TEXT NOT NULL,
    to_tier          TEXT NOT NULL,
    reason           TEXT NOT NULL,
    verification_id  TEXT,
    actor            TEXT NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE INDEX tier_events_org ON tier_events (org_id, id);
CREATE INDEX tier_events_customer ON tier_events (org_id, customer_id, id);

CREATE TABLE dukcapil_verdicts (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations(id),
    customer_id      TEXT NOT NULL REFERENCES customers(id),
    verification_id  TEXT NOT NULL REFERENCES verifications(id),
    valid            BIGINT NOT NULL,
    -- The photo and raw response are sealed with the customer's data key.
    photo_sealed     BYTEA,
    photo_sha256     TEXT,
    photo_media_type TEXT,
    raw_sealed       BYTEA,
    created_at       TEXT NOT NULL
);
CREATE INDEX dukcapil_customer ON dukcapil_verdicts (org_id, customer_id);

-- Face references (filled by the faces issue). Embeddings are sealed with the customer's
-- data key and never compared across model ids.
CREATE TABLE face_enrollments (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations(id),
    customer_id       TEXT NOT NULL REFERENCES customers(id),
    source            TEXT NOT NULL,
    model_id          TEXT NOT NULL,
    embedding_sealed  BYTEA,
    image_sha256      TEXT,
    created_at        TEXT NOT NULL,
    retired_at        TEXT
);
CREATE INDEX face_enrollments_customer ON face_enrollments (org_id, customer_id);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    seq         BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    details     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    UNIQUE (org_id, seq)
);

-- The newest link of each org's chain; updated in the same transaction as each append.
CREATE TABLE audit_heads (
    org_id  TEXT PRIMARY KEY REFERENCES organizations(id),
    seq     BIGINT NOT NULL,
    hash    TEXT NOT NULL
);

CREATE TABLE idempotency_keys (
    org_id         TEXT NOT NULL REFERENCES organizations(id),
    scope_key      TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    -- 'pending' while the first request runs, then 'done' with its response.
    state          TEXT NOT NULL,
    status_code    BIGINT,
    -- The first response, sealed with a key derived from the master key (it may hold PII);
    -- records older than 24 hours are deleted.
    response_sealed BYTEA,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (org_id, scope_key)
);
