-- Dashboard sign-in (SPEC §2, issue 19): sessions behind a cookie, passkeys (WebAuthn), the
-- ceremonies between a passkey's begin and finish, and one-time enrollment tokens.

-- A disabled user cannot sign in, and every session of theirs stops working at once.
ALTER TABLE dashboard_users ADD COLUMN disabled_at TEXT;
-- The WebAuthn user handle (a UUID): passkeys carry it, never the email.
ALTER TABLE dashboard_users ADD COLUMN webauthn_handle TEXT;

-- A session is known by the SHA-256 of its cookie's random value, never the value itself.
-- `purpose` is `full`, or `enroll` for one that may only register a first passkey.
CREATE TABLE user_sessions (
    id_hash       TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations(id),
    user_id       TEXT NOT NULL REFERENCES dashboard_users(id),
    purpose       TEXT NOT NULL,
    -- `password`, `passkey` or `enrollment`: how the session was opened.
    method        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    -- The absolute end; the idle end is last_seen_at plus the idle window.
    expires_at    TEXT NOT NULL,
    revoked_at    TEXT
);
CREATE INDEX user_sessions_user ON user_sessions (user_id, created_at);

-- A user's passkeys: the credential (webauthn-rs's Passkey, JSON: the public key and counter).
CREATE TABLE user_passkeys (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id),
    user_id        TEXT NOT NULL REFERENCES dashboard_users(id),
    -- base64url of the credential id, unique across every user.
    credential_id  TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    passkey        TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    last_used_at   TEXT
);
CREATE INDEX user_passkeys_user ON user_passkeys (user_id, created_at);

-- A begun registration or sign-in: its challenge state, taken (deleted) by the one finish that
-- uses it, so an assertion can never be replayed against it.
CREATE TABLE webauthn_ceremonies (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    org_id      TEXT,
    user_id     TEXT,
    state       TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX webauthn_ceremonies_expiry ON webauthn_ceremonies (expires_at);

-- One-time links for a user's first passkey (`kenali user create`), by the token's SHA-256.
CREATE TABLE user_enrollments (
    token_hash  TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    user_id     TEXT NOT NULL REFERENCES dashboard_users(id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
