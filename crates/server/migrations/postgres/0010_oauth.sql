-- OAuth2 client credentials (RFC 6749 §4.4) for partner backends (seeds 003, 004).

-- A client's id is its client_id; its secret is stored only as a SHA-256 hash, as API keys are.
CREATE TABLE oauth_clients (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id),
    name         TEXT NOT NULL,
    -- The first characters of the secret, shown in lists so people can tell clients apart.
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT
);
CREATE INDEX oauth_clients_org ON oauth_clients (org_id, id);

-- The Ed25519 keys access tokens are signed with, shared by every process. The newest key
-- without retired_at signs; every key still here verifies and is published in the JWKS. The
-- private key is sealed with a key derived from the master key.
CREATE TABLE oauth_signing_keys (
    kid                 TEXT PRIMARY KEY,
    public_key          TEXT NOT NULL,
    private_key_sealed  BYTEA NOT NULL,
    created_at          TEXT NOT NULL,
    retired_at          TEXT
);
