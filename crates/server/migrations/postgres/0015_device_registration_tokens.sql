-- Device registration tokens (issue 20): the integrator's backend mints one for one customer,
-- the native app registers its device with it instead of an API key it must never ship. Kept
-- by the token's SHA-256; used once, within minutes.
CREATE TABLE device_registration_tokens (
    token_hash   TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id),
    customer_id  TEXT NOT NULL REFERENCES customers(id),
    -- The credential that minted it (`key_...`, `ocl_...`, `usr_...`).
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT,
    -- The device it registered.
    device_id    TEXT
);
CREATE INDEX device_registration_tokens_expiry ON device_registration_tokens (expires_at);
