-- The backend-to-backend face match (seed 003): a partner creates a submission, uploads its two
-- images to presigned URLs, confirms, and a leased job (any `kenali serve` process) scores them.

-- `wrapped_data_key` seals the submission's images (its own key, wrapped by the master key with
-- the submission id bound); deleting it shreds them. Jobs are claimed like webhook deliveries:
-- `claimed_until` is the lease, `claim_token` fences a process whose lease ran out, so a job's
-- result is written once.
CREATE TABLE face_match_submissions (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations(id),
    -- pending_upload | queued | processing | completed | failed
    status            TEXT NOT NULL,
    mode              TEXT NOT NULL,
    correlation_id    TEXT,
    customer_id       TEXT,
    -- The hidden webhook row the callback goes to (webhooks.purpose = 'callback'), when the
    -- submission named a callbackUrl.
    callback_webhook_id TEXT,
    -- The API key or OAuth client that created it.
    created_by        TEXT NOT NULL,
    wrapped_data_key  BLOB,
    upload_expires_at TEXT NOT NULL,
    attempts          BIGINT NOT NULL,
    claimed_until     TEXT,
    claim_token       TEXT,
    -- The scores and measures (JSON), once completed; never an image.
    result            TEXT,
    error_code        TEXT,
    error_message     TEXT,
    verification_id   TEXT,
    created_at        TEXT NOT NULL,
    confirmed_at      TEXT,
    started_at        TEXT,
    completed_at      TEXT,
    updated_at        TEXT NOT NULL,
    -- When its images were deleted (retention, or an abandoned upload).
    images_deleted_at TEXT
);
CREATE UNIQUE INDEX face_match_submissions_correlation ON face_match_submissions (org_id, correlation_id);
CREATE INDEX face_match_submissions_due ON face_match_submissions (status, claimed_until);
CREATE INDEX face_match_submissions_org ON face_match_submissions (org_id, id);

-- One row per image: where the partner uploads it (`staging_key`, plaintext, deleted at
-- confirm) and, once confirmed, the sealed object.
CREATE TABLE face_match_submission_images (
    submission_id  TEXT NOT NULL REFERENCES face_match_submissions(id),
    role           TEXT NOT NULL,
    staging_key    TEXT NOT NULL,
    media_type     TEXT,
    object_key     TEXT,
    object_sha256  TEXT,
    object_size    BIGINT,
    -- SHA-256 of the image as uploaded (before sealing).
    image_sha256   TEXT,
    PRIMARY KEY (submission_id, role)
);

-- Webhook rows are either endpoints an admin registered or a submission's callback target
-- (hidden from the endpoint list, signed with a secret shown to the partner once).
ALTER TABLE webhooks ADD COLUMN purpose TEXT NOT NULL DEFAULT 'endpoint';
