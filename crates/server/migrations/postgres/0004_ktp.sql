-- KTP capture bundles (seed 001), the analyst review queue, and native-SDK devices (SPEC §5).

CREATE TABLE ktp_bundles (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL REFERENCES organizations(id),
    customer_id         TEXT NOT NULL REFERENCES customers(id),
    verification_id     TEXT NOT NULL,
    challenge_id        TEXT NOT NULL,
    -- passed | failed | requires_review
    verdict             TEXT NOT NULL,
    -- high | standard | low
    assurance_tier      TEXT NOT NULL,
    anti_spoof          TEXT NOT NULL,
    tamper              TEXT NOT NULL,
    -- JSON {"antiSpoof": [voters], "tamper": [voters]}; no PII.
    voters              TEXT NOT NULL,
    -- The fields read from the card are PII: sealed with the customer's data key.
    reading_sealed      BYTEA NOT NULL,
    frames_stored       BIGINT NOT NULL,
    face_enrollment_id  TEXT,
    created_at          TEXT NOT NULL
);
CREATE INDEX ktp_bundles_customer ON ktp_bundles (org_id, customer_id);

CREATE TABLE review_items (
    id                        TEXT PRIMARY KEY,
    org_id                    TEXT NOT NULL REFERENCES organizations(id),
    customer_id               TEXT NOT NULL REFERENCES customers(id),
    -- ktp_capture | face_liveness
    kind                      TEXT NOT NULL,
    -- the ktpb_ bundle or the ver_ verification under review
    subject_id                TEXT NOT NULL,
    verification_id           TEXT NOT NULL,
    reasons                   TEXT NOT NULL,
    voters                    TEXT NOT NULL,
    -- open | approved | rejected
    status                    TEXT NOT NULL,
    decided_by                TEXT,
    decision_reason           TEXT,
    decision_verification_id  TEXT,
    decided_at                TEXT,
    created_at                TEXT NOT NULL
);
CREATE INDEX review_items_status ON review_items (org_id, status, id);

CREATE TABLE devices (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations(id),
    customer_id   TEXT NOT NULL REFERENCES customers(id),
    platform      TEXT NOT NULL,
    label         TEXT,
    -- The device secret; the server derives signing keys from it, so it is sealed, not hashed.
    secret_sealed TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT
);
CREATE INDEX devices_customer ON devices (org_id, customer_id);

-- Which retention window applies to a capture (onboarding: 3 years, step_up: 90 days).
ALTER TABLE captures ADD COLUMN retention_class TEXT;
