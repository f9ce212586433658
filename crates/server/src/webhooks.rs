//! Delivering webhook events. Every `kenali serve` process runs a worker that claims due
//! deliveries in batches under a lease (store::webhooks::claim_due), posts each event signed as
//! SPEC §8 says, logs the attempts in batches, and schedules a retry with exponential backoff
//! and jitter until the org's retry window ends. A process that dies mid-delivery leaves its
//! lease to expire, so the event is delivered again by another: at least once, always under the
//! same event id.
//!
//! The worker wakes when a transaction of its own process commits (`Store::commits`) and, on
//! PostgreSQL, when any process commits a delivery (`LISTEN kenali_outbox`, notified in the
//! publishing transaction); it polls only as a fallback and for retries coming due. HTTP clients
//! are kept per target (host and checked addresses) and reused, connections and all.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kenali_core::time_fmt::format_timestamp;
use kenali_core::webhook::{is_public_address, retry_delay_secs, signature};
use rand::Rng;
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio::task::JoinSet;

use crate::state::AppState;
use crate::store::webhooks::{self, AttemptOutcome, Claimed, WebhookRow};
use crate::store::{listen, Backend, StoreResult};

/// How long a receiver has to answer.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a claimed delivery is held; longer than any attempt can take.
const LEASE: Duration = Duration::from_secs(60);
/// Deliveries in flight at once per process.
const CONCURRENCY: usize = 32;
/// The longest pause when nothing is due: retries coming due, leases of dead processes, and a
/// missed wake-up are found by this poll.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// Attempt outcomes written in one transaction at most.
const FINISH_BATCH: usize = 256;
/// HTTP clients kept at most (one per target); past it the cache starts over.
const CLIENT_CACHE: usize = 256;

/// The AAD under which an endpoint's secret is sealed.
pub fn secret_context(webhook_id: &str) -> String {
    format!("webhook-secret/{webhook_id}")
}

/// A new signing secret for an endpoint or a submission's callback.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    format!("qe_whsec_{}", hex::encode(bytes))
}

/// A claimed delivery with what sending it needs.
struct Job {
    claimed: Claimed,
    endpoint: Option<Arc<WebhookRow>>,
    payload: Option<Arc<str>>,
}

/// An attempt made, to be logged with its next step.
struct Finished {
    claimed: Claimed,
    outcome: AttemptOutcome,
    retry_at: Option<String>,
}

/// Runs until `stop` turns true, then finishes the deliveries in hand and logs them. At most
/// `CONCURRENCY` deliveries are in flight; a receiver that hangs holds one slot until its
/// timeout, never the worker.
pub async fn run_worker(state: AppState, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let clients = Arc::new(ClientPool::default());
    let (finished_tx, finished_rx) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(record_attempts(state.clone(), finished_rx));
    let wake = Arc::new(Notify::new());
    let listener = (state.store.backend() == Backend::Postgres).then(|| {
        tokio::spawn(listen(state.config.database_url(), webhooks::OUTBOX_CHANNEL, wake.clone(), stop.clone()))
    });
    let mut commits = state.store.commits();
    let mut sending = JoinSet::new();
    loop {
        while sending.try_join_next().is_some() {}
        let free = slots.available_permits();
        if free == 0 {
            // Every slot busy: wait for one to free up rather than spinning.
            tokio::select! {
                _ = sending.join_next() => {}
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
            continue;
        }
        let jobs = claim(&state, free).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "claiming webhook deliveries failed");
            Vec::new()
        });
        let idle = jobs.is_empty();
        for job in jobs {
            let Ok(slot) = slots.clone().acquire_owned().await else { break };
            let (state, clients, finished_tx) = (state.clone(), clients.clone(), finished_tx.clone());
            sending.spawn(async move {
                let finished = deliver(&state, &clients, job).await;
                // The recorder outlives every sender; a send fails only at shutdown's very end.
                let _ = finished_tx.send(finished);
                drop(slot);
            });
        }
        if *stop.borrow() {
            break;
        }
        if idle {
            tokio::select! {
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = commits.changed() => {}
                () = wake.notified() => {}
                _ = stop.wait_for(|stopped| *stopped) => break,
            }
        }
    }
    while sending.join_next().await.is_some() {}
    drop(finished_tx);
    let _ = recorder.await;
    if let Some(listener) = listener {
        listener.abort();
    }
}

/// Claims up to `limit` due deliveries under a lease, with their endpoints and payloads read
/// in two queries for the batch. A cheap read first, so that a wake-up with nothing due (most
/// commits publish no event) costs no write.
async fn claim(state: &AppState, limit: usize) -> StoreResult<Vec<Job>> {
    let now = OffsetDateTime::now_utc();
    let mut conn = state.store.reader().acquire().await?;
    if !webhooks::any_due(&mut conn, &format_timestamp(now)).await? {
        return Ok(Vec::new());
    }
    drop(conn);
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
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let mut conn = state.store.reader().acquire().await?;
    let mut event_ids: Vec<String> = claimed.iter().map(|c| c.event_id.clone()).collect();
    event_ids.sort();
    event_ids.dedup();
    let mut webhook_ids: Vec<String> = claimed.iter().map(|c| c.webhook_id.clone()).collect();
    webhook_ids.sort();
    webhook_ids.dedup();
    let payloads: HashMap<String, Arc<str>> =
        webhooks::event_payloads(&mut conn, &event_ids).await?.into_iter().map(|(k, v)| (k, Arc::from(v))).collect();
    let endpoints: HashMap<String, Arc<WebhookRow>> = webhooks::find_many(&mut conn, &webhook_ids)
        .await?
        .into_iter()
        .filter(|(_, (_, deleted))| !deleted)
        .map(|(id, (row, _))| (id, Arc::new(row)))
        .collect();
    Ok(claimed
        .into_iter()
        .map(|claimed| Job {
            endpoint: endpoints.get(&claimed.webhook_id).cloned(),
            payload: payloads.get(&claimed.event_id).cloned(),
            claimed,
        })
        .collect())
}

/// Makes one attempt and decides the next step; the recorder logs it.
async fn deliver(state: &AppState, clients: &ClientPool, job: Job) -> Finished {
    let started = OffsetDateTime::now_utc();
    let clock = Instant::now();
    let result = match (&job.endpoint, &job.payload) {
        (Some(webhook), Some(payload)) => send(state, clients, webhook, &job.claimed.event_id, payload, started).await,
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
    let attempt = u32::try_from(job.claimed.attempts + 1).unwrap_or(u32::MAX);
    let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
    let retry_at = format_timestamp(started + Duration::from_secs_f64(retry_delay_secs(attempt, jitter)));
    let retry_at = (retry_at <= job.claimed.give_up_at).then_some(retry_at);
    if let Some(error) = &outcome.error {
        let gave_up = retry_at.is_none();
        tracing::info!(event = %job.claimed.event_id, webhook = %job.claimed.webhook_id, attempt, gave_up, error, "webhook delivery failed");
    }
    Finished { claimed: job.claimed, outcome, retry_at }
}

/// Logs attempts as they come, as many as are waiting (up to `FINISH_BATCH`) in one
/// transaction. A batch that cannot be written leaves its deliveries leased: they are sent
/// again when the lease ends (at least once).
async fn record_attempts(state: AppState, mut finished: mpsc::UnboundedReceiver<Finished>) {
    let mut batch = Vec::with_capacity(FINISH_BATCH);
    while finished.recv_many(&mut batch, FINISH_BATCH).await > 0 {
        let written = async {
            let mut tx = state.store.begin().await?;
            for done in &batch {
                webhooks::finish_attempt(&mut tx, &done.claimed, &done.outcome, done.retry_at.as_deref()).await?;
            }
            tx.commit().await
        }
        .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, deliveries = batch.len(),
                           "webhook attempts could not be recorded; they are retried when their lease ends");
        }
        batch.clear();
    }
}

/// HTTP clients by target, reused across deliveries (a client holds its connection pool and
/// TLS configuration, which are costly to build per request).
#[derive(Default)]
struct ClientPool {
    clients: Mutex<HashMap<(String, Vec<SocketAddr>), reqwest::Client>>,
}

impl ClientPool {
    fn get(&self, host: &str, addresses: &[SocketAddr]) -> reqwest::Result<reqwest::Client> {
        let key = (host.to_string(), addresses.to_vec());
        let mut clients = self.clients.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        if clients.len() >= CLIENT_CACHE {
            clients.clear();
        }
        let client = delivery_client(host, addresses)?;
        clients.insert(key, client.clone());
        Ok(client)
    }
}

/// Checks where the URL points, then posts the signed payload; the receiver's status code.
async fn send(
    state: &AppState,
    clients: &ClientPool,
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
    let client = clients.get(&host, &addresses).map_err(|e| format!("HTTP client: {}", e.without_url()))?;
    let signed = signature(&secret, payload.as_bytes());
    let shown = redacted_url(&url);
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
        .map_err(|e| delivery_error(e, &shown))?;
    Ok(response.status().as_u16())
}

/// What a failed request tells the delivery log. reqwest's own message names the whole URL,
/// whose query may carry a token, so the URL is put back redacted.
fn delivery_error(e: reqwest::Error, shown: &str) -> String {
    if e.is_timeout() {
        "the receiver did not answer in time".to_string()
    } else {
        format!("{} for url ({shown})", e.without_url())
    }
}

/// The client for one target (kept by `ClientPool`). It connects only to `addresses`, the ones checked for `host`:
/// a DNS answer that changes between the check and the connection (rebinding) cannot point the
/// request elsewhere. It never goes through a proxy (an `HTTP(S)_PROXY` or `ALL_PROXY` in the
/// environment would otherwise carry the request to wherever the proxy reaches, past the check),
/// and it follows no redirect (the next location was never checked).
fn delivery_client(host: &str, addresses: &[SocketAddr]) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(DELIVERY_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .resolve_to_addrs(host, addresses)
        .build()
}

/// A webhook URL as it may appear in logs and error messages: without its query and fragment
/// (a receiver may take a token there) and without user name or password.
pub fn redacted_url(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    // Both fail only for URLs that cannot have credentials, which then have none to remove.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// Longest URL a webhook endpoint or a callback may have.
pub const URL_MAX: usize = 2048;

/// A webhook or callback URL, normalised: absolute, http(s), and (unless the operator allows
/// private targets) resolving to public addresses only. The error says what is wrong with it.
pub async fn check_target_url(url: &str, allow_private: bool) -> Result<String, String> {
    let url = url.trim();
    if url.len() > URL_MAX {
        return Err(format!("must be at most {URL_MAX} characters"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|_| "must be an absolute URL".to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    resolve_target(&parsed, allow_private).await?;
    Ok(parsed.to_string())
}

/// The addresses `url` resolves to; refused when any is not public (`is_public_address`: private,
/// loopback, link-local, NAT64, 6to4 and the other special ranges), unless the operator allows
/// private targets.
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
            "{host} resolves to an address that is not public (private, loopback, link-local or special-purpose; set KENALI_WEBHOOK_ALLOW_PRIVATE=true to allow)"
        ));
    }
    Ok(addresses)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// Accepts connections and answers each with `status`, counting them.
    async fn answering(status: &'static str) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        (address, hits)
    }

    #[test]
    fn a_logged_url_has_no_query_fragment_or_credentials() {
        let url =
            reqwest::Url::parse("https://user:pw@hooks.example.com:8443/in/kenali?token=s3cret&x=1#frag").unwrap();
        assert_eq!(redacted_url(&url), "https://hooks.example.com:8443/in/kenali");
        let plain = reqwest::Url::parse("http://[2606:4700::1111]/hook").unwrap();
        assert_eq!(redacted_url(&plain), "http://[2606:4700::1111]/hook");
    }

    #[tokio::test]
    async fn a_failed_delivery_does_not_report_the_query() {
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = closed.local_addr().unwrap();
        drop(closed);
        let url = reqwest::Url::parse(&format!("http://127.0.0.1:{}/hook?token=s3cret#frag", address.port())).unwrap();
        let client = delivery_client("127.0.0.1", &[address]).unwrap();
        let error = client.post(url.clone()).send().await.expect_err("nothing listens there");
        let message = delivery_error(error, &redacted_url(&url));
        assert!(!message.contains("s3cret") && !message.contains("frag"), "{message}");
        assert!(message.contains(&format!("127.0.0.1:{}/hook", address.port())), "{message}");
    }

    /// Proxy variables in the server's environment must not carry deliveries: a proxy can reach
    /// what the address check refused (and it sees every payload).
    #[tokio::test]
    async fn deliveries_ignore_proxy_variables() {
        let (receiver, received) = answering("204 No Content").await;
        let (proxy, proxied) = answering("200 OK").await;
        const VARIABLES: [&str; 6] =
            ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];
        const EXCEPTIONS: [&str; 2] = ["NO_PROXY", "no_proxy"];
        let saved: Vec<_> = VARIABLES.iter().chain(&EXCEPTIONS).map(|v| (*v, std::env::var_os(v))).collect();
        for variable in VARIABLES {
            std::env::set_var(variable, format!("http://{proxy}"));
        }
        for variable in EXCEPTIONS {
            std::env::remove_var(variable);
        }
        // The environment is read when the client is built; put it back right after.
        let client = delivery_client("127.0.0.1", &[receiver]);
        for (variable, value) in saved {
            match value {
                Some(value) => std::env::set_var(variable, value),
                None => std::env::remove_var(variable),
            }
        }
        let url = format!("http://127.0.0.1:{}/hook?token=s3cret", receiver.port());
        let status = client.unwrap().post(url).body("{}").send().await.unwrap().status();
        assert_eq!(status.as_u16(), 204);
        assert_eq!(received.load(Ordering::SeqCst), 1);
        assert_eq!(proxied.load(Ordering::SeqCst), 0, "the delivery went through the proxy");
    }
}
