//! Delivering webhook events. Every `kenali serve` process runs a worker that claims due
//! deliveries under a lease (store::webhooks::claim_due), posts each event signed as SPEC §8
//! says, logs the attempt, and schedules a retry with exponential backoff and jitter until the
//! org's retry window ends. A process that dies mid-delivery leaves its lease to expire, so the
//! event is delivered again by another: at least once, always under the same event id.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kenali_core::time_fmt::format_timestamp;
use kenali_core::webhook::{is_public_address, retry_delay_secs, signature};
use rand::Rng;
use time::OffsetDateTime;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::state::AppState;
use crate::store::webhooks::{self, AttemptOutcome, Claimed, WebhookRow};
use crate::store::StoreResult;

/// How long a receiver has to answer.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed delivery is held; longer than any attempt can take.
const LEASE: Duration = Duration::from_secs(60);
/// Deliveries in flight at once per process.
const CONCURRENCY: usize = 16;
/// Pause when nothing is due.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// The AAD under which an endpoint's secret is sealed.
pub fn secret_context(webhook_id: &str) -> String {
    format!("webhook-secret/{webhook_id}")
}

/// Runs until `stop` turns true, then finishes the deliveries in hand. At most `CONCURRENCY`
/// deliveries are in flight; a receiver that hangs holds one slot until its timeout, never the
/// worker.
pub async fn run_worker(state: AppState, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let mut sending = JoinSet::new();
    loop {
        while sending.try_join_next().is_some() {}
        let free = slots.available_permits();
        let claimed = if free == 0 {
            Vec::new()
        } else {
            claim(&state, free).await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "claiming webhook deliveries failed");
                Vec::new()
            })
        };
        let idle = claimed.is_empty();
        for delivery in claimed {
            let Ok(slot) = slots.clone().acquire_owned().await else { break };
            let state = state.clone();
            sending.spawn(async move {
                if let Err(e) = deliver(&state, &delivery).await {
                    tracing::warn!(error = %e, event = %delivery.event_id, webhook = %delivery.webhook_id,
                                   "webhook delivery could not be recorded; it is retried when its lease ends");
                }
                drop(slot);
            });
        }
        if *stop.borrow() {
            break;
        }
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
        }
    }
    while sending.join_next().await.is_some() {}
}

/// Claims up to `limit` due deliveries under a lease.
async fn claim(state: &AppState, limit: usize) -> StoreResult<Vec<Claimed>> {
    let now = OffsetDateTime::now_utc();
    let mut tx = state.store.begin().await?;
    let claimed = webhooks::claim_due(
        &mut tx,
        state.store.backend(),
        &format_timestamp(now),
        &format_timestamp(now + LEASE),
        i64::try_from(limit).unwrap_or(1),
    )
    .await?;
    tx.commit().await?;
    Ok(claimed)
}

async fn deliver(state: &AppState, claimed: &Claimed) -> StoreResult<()> {
    let mut conn = state.store.pool().acquire().await?;
    let endpoint = webhooks::find_any(&mut conn, &claimed.webhook_id).await?;
    let payload = webhooks::event_payload(&mut conn, &claimed.event_id).await?;
    drop(conn);
    let started = OffsetDateTime::now_utc();
    let clock = Instant::now();
    let result = match (endpoint, payload) {
        (Some((webhook, false)), Some(payload)) => send(state, &webhook, &claimed.event_id, &payload, started).await,
        _ => Err("the endpoint or the event no longer exists".to_string()),
    };
    let latency_ms = i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX);
    let (status_code, error) = match result {
        Ok(status) if (200..300).contains(&status) => (Some(status), None),
        Ok(status) => (Some(status), Some(format!("the receiver answered {status}"))),
        Err(error) => (None, Some(error)),
    };
    let delivered = error.is_none();
    let outcome = AttemptOutcome { started_at: format_timestamp(started), status_code, error, latency_ms, delivered };
    let attempt = u32::try_from(claimed.attempts + 1).unwrap_or(u32::MAX);
    let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
    let retry_at = started + Duration::from_secs_f64(retry_delay_secs(attempt, jitter));
    let retry_at = format_timestamp(retry_at);
    let retry = (retry_at <= claimed.give_up_at).then_some(retry_at.as_str());
    let mut tx = state.store.begin().await?;
    webhooks::finish_attempt(&mut tx, claimed, &outcome, retry).await?;
    tx.commit().await?;
    if let Some(error) = &outcome.error {
        let gave_up = retry.is_none();
        tracing::info!(event = %claimed.event_id, webhook = %claimed.webhook_id, attempt, gave_up, error, "webhook delivery failed");
    }
    Ok(())
}

/// Checks where the URL points, then posts the signed payload; the receiver's status code.
async fn send(
    state: &AppState,
    webhook: &WebhookRow,
    event_id: &str,
    payload: &str,
    at: OffsetDateTime,
) -> Result<u16, String> {
    let url = reqwest::Url::parse(&webhook.url).map_err(|e| format!("bad URL: {e}"))?;
    let addresses = resolve_target(&url, state.config.webhook_allow_private).await?;
    let host = url.host_str().unwrap_or_default().to_string();
    let sealed = hex::decode(&webhook.secret_sealed).map_err(|_| "stored secret unreadable".to_string())?;
    let secret = state
        .keys
        .webhook
        .open(&sealed, &secret_context(&webhook.id))
        .map_err(|_| "stored secret unreadable".to_string())?;
    // The checked addresses are the ones connected to: a DNS answer that changes between the
    // check and the connection (rebinding) cannot point the request elsewhere.
    let client = reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(&host, &addresses)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let signed = signature(&secret, payload.as_bytes());
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", concat!("kenali-webhooks/", env!("CARGO_PKG_VERSION")))
        .header("x-identity-signature", &signed)
        .header("x-quantum-signature", &signed)
        .header("x-identity-event-id", event_id)
        .header("x-identity-timestamp", format_timestamp(at))
        .body(payload.to_string())
        .send()
        .await
        .map_err(|e| if e.is_timeout() { "the receiver did not answer in time".to_string() } else { format!("{e}") })?;
    Ok(response.status().as_u16())
}

/// The addresses `url` resolves to; refused when any is private, loopback or link-local,
/// unless the operator allows private targets.
pub async fn resolve_target(url: &reqwest::Url, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> =
        tokio::net::lookup_host((host, port)).await.map_err(|_| format!("{host} does not resolve"))?.collect();
    if addresses.is_empty() {
        return Err(format!("{host} does not resolve"));
    }
    if !allow_private && addresses.iter().any(|a| !is_public_address(a.ip())) {
        return Err(format!(
            "{host} resolves to a private, loopback or link-local address (set KENALI_WEBHOOK_ALLOW_PRIVATE=true to allow)"
        ));
    }
    Ok(addresses)
}
