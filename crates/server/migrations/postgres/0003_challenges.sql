-- Flash challenges (SPEC §5) and fixed-window rate-limit counters shared by every process.

CREATE TABLE flash_challenges (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL REFERENCES organizations(id),
    customer_id         TEXT NOT NULL REFERENCES customers(id),
    purpose             TEXT NOT NULL,
    nonce               TEXT NOT NULL UNIQUE,
    colors              TEXT NOT NULL,
    hold_ms             TEXT NOT NULL,
    -- The HMAC secret the SDK signs with; the server needs it back to verify, so it is
    -- sealed with a key derived from the master key rather than hashed.
    secret_sealed       TEXT NOT NULL,
    expires_at          TEXT NOT NULL,
    consumed_at         TEXT,
    consumed_signature  TEXT,
    -- The answer given when the challenge was consumed, replayed for the same bundle.
    result              TEXT,
    created_at          TEXT NOT NULL
);
CREATE INDEX flash_challenges_customer ON flash_challenges (org_id, customer_id);

CREATE TABLE rate_limits (
    bucket        TEXT NOT NULL,
    window_start  BIGINT NOT NULL,
    hits          BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
