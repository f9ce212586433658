-- Faces: every liveness / match / step-up call is an attempt row; selfies and reference
-- images are kept sealed with the customer's data key, with their SHA-256.

CREATE TABLE attempts (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations(id),
    customer_id      TEXT,
    kind             TEXT NOT NULL,
    -- passed | failed | refused (bad input, no reference, rate limited)
    outcome          TEXT NOT NULL,
    reasons          TEXT NOT NULL,
    latency_ms       BIGINT NOT NULL,
    client_ip        TEXT,
    verification_id  TEXT,
    created_at       TEXT NOT NULL
);
CREATE INDEX attempts_org ON attempts (org_id, id);
CREATE INDEX attempts_customer ON attempts (org_id, customer_id, id);

CREATE TABLE captures (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations(id),
    customer_id      TEXT NOT NULL REFERENCES customers(id),
    -- selfie | reference | dukcapil_photo | frame
    kind             TEXT NOT NULL,
    sha256           TEXT NOT NULL,
    media_type       TEXT NOT NULL,
    sealed           BYTEA NOT NULL,
    verification_id  TEXT,
    created_at       TEXT NOT NULL
);
CREATE INDEX captures_customer ON captures (org_id, customer_id);

ALTER TABLE face_enrollments ADD COLUMN detection_score DOUBLE PRECISION;
