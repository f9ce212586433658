-- Webhook endpoints, and one delivery row per (event, endpoint) written with the event in the
-- change's own transaction; workers claim due deliveries with a lease, so a process that dies
-- mid-delivery leaves the row to be retried (at least once, same event id).

CREATE TABLE webhooks (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations(id),
    url            TEXT NOT NULL,
    description    TEXT,
    -- JSON array of event types.
    events         TEXT NOT NULL,
    -- The signing secret, sealed with a key derived from the master key (the server signs with it).
    secret_sealed  TEXT NOT NULL,
    enabled        BIGINT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    deleted_at     TEXT
);
CREATE INDEX webhooks_org ON webhooks (org_id, id);

CREATE TABLE webhook_deliveries (
    event_id         TEXT NOT NULL REFERENCES webhook_events(id),
    webhook_id       TEXT NOT NULL REFERENCES webhooks(id),
    org_id           TEXT NOT NULL,
    -- pending | delivered | failed
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  TEXT NOT NULL,
    -- A worker holds the row until then; past it, another may take it over.
    claimed_until    TEXT,
    -- Retried until then, then marked failed (the org's webhookRetryHours).
    give_up_at       TEXT NOT NULL,
    last_status      BIGINT,
    last_error       TEXT,
    last_latency_ms  BIGINT,
    delivered_at     TEXT,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (event_id, webhook_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, event_id);

-- Every attempt, for the delivery log.
CREATE TABLE webhook_attempts (
    event_id     TEXT NOT NULL,
    webhook_id   TEXT NOT NULL,
    attempt      BIGINT NOT NULL,
    started_at   TEXT NOT NULL,
    status_code  BIGINT,
    error        TEXT,
    latency_ms   BIGINT NOT NULL,
    PRIMARY KEY (event_id, webhook_id, attempt)
);
