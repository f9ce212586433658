-- Operations: erasure (UU PDP, SPEC §8), the event outbox, org settings.

-- Which customer a stored idempotent response names, so that erasing the customer deletes it.
ALTER TABLE idempotency_keys ADD COLUMN customer_id TEXT;
CREATE INDEX idempotency_keys_customer ON idempotency_keys (org_id, customer_id);

-- Answers kept for a challenge's idempotent retry are now sealed with the customer's data key;
-- drop any kept in clear before that (a retry of one gets 409 instead of the first answer).
UPDATE flash_challenges SET result = NULL WHERE result LIKE '{%';

-- Events for the org's webhooks, written in the same transaction as the change they report
-- (transactional outbox); a worker delivers them.
CREATE TABLE webhook_events (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations(id),
    event_type  TEXT NOT NULL,
    -- The JSON body delivered, without personal data.
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX webhook_events_org ON webhook_events (org_id, id);

-- What an admin tuned (kenali_core::settings::OrgSettings as JSON); absent means the defaults.
CREATE TABLE org_settings (
    org_id      TEXT PRIMARY KEY REFERENCES organizations(id),
    settings    TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
