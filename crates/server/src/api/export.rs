//! `GET /api/identity/export/customers.csv` and `/export/verifications.csv` (internal).
//!
//! Streamed: rows are read a batch at a time by id (keyset paging, a pooled connection per
//! batch) and written to the response as they are encoded, so memory stays flat whatever the
//! row count and a slow client holds no database connection. RFC 4180 (CRLF, quotes only where
//! needed); cells that a spreadsheet would run as a formula are neutralised. Each export is
//! audited with its filter before the first byte is sent.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kenali_core::search::neutralize_cell;
use kenali_core::time_fmt::format_timestamp;
use serde::Deserialize;
use serde_json::json;
use time::{Duration, OffsetDateTime, Time};
use tokio::sync::mpsc;

use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth};
use crate::keys::Keys;
use crate::ledger::{self, open_pii, Actor};
use crate::service::validate;
use crate::state::AppState;
use crate::store::customers::{self, CustomerRow};
use crate::store::verifications::{self, VerificationRow};
use crate::store::{StoreResult, TimeWindow};

/// Rows read per query, and so the most held in memory at once.
const BATCH_ROWS: i64 = 500;
/// Encoded batches queued ahead of a slow client.
const QUEUED_BATCHES: usize = 2;

const CUSTOMER_HEADER: [&str; 12] = [
    "id",
    "externalRef",
    "fullName",
    "nik",
    "email",
    "phone",
    "dateOfBirth",
    "gender",
    "tier",
    "createdAt",
    "updatedAt",
    "erasedAt",
];
const VERIFICATION_HEADER: [&str; 9] =
    ["id", "customerId", "kind", "status", "reasons", "actor", "actorUserId", "createdAt", "details"];

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportQuery {
    /// Created at or after: an RFC 3339 time, or a date (its start, UTC).
    from: Option<String>,
    /// Created before: an RFC 3339 time, or a date (the whole day included).
    to: Option<String>,
}

impl ExportQuery {
    fn window(&self) -> Result<TimeWindow, ApiError> {
        let from = self.from.as_deref().map(|v| bound("from", v, false)).transpose()?;
        let to = self.to.as_deref().map(|v| bound("to", v, true)).transpose()?;
        if let (Some(from), Some(to)) = (from, to) {
            if from >= to {
                return Err(ApiError::invalid_field("to", "must be after `from`"));
            }
        }
        Ok(TimeWindow { from: from.map(format_timestamp), to: to.map(format_timestamp) })
    }
}

/// A time, or a date taken as its first instant (for `to`, the next day's, so the day counts).
fn bound(field: &str, value: &str, end_of_day: bool) -> Result<OffsetDateTime, ApiError> {
    if let Some(at) = kenali_core::time_fmt::parse_timestamp(value) {
        return Ok(at);
    }
    let date = validate::date(field, value).map_err(|_| {
        ApiError::invalid_field(field, "must be an RFC 3339 time (2026-05-24T08:15:52Z) or a date (2026-05-24)")
    })?;
    let start = date.with_time(Time::MIDNIGHT).assume_utc();
    Ok(if end_of_day { start + Duration::days(1) } else { start })
}

#[utoipa::path(get, path = "/api/identity/export/customers.csv", tag = "operations", params(ExportQuery), responses((status = 200, description = "customers as CSV (RFC 4180), streamed", body = String, content_type = "text/csv"), crate::error::ErrorResponse))]
pub async fn customers_csv(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let principal = auth.require(Scope::Internal)?;
    let window = query.window()?;
    audit_export(&state, &Actor::from_principal(principal), "customers", &window).await?;
    let (org_id, keys) = (principal.org_id.clone(), state.keys.clone());
    let body = stream_csv(state, &CUSTOMER_HEADER, move |conn, after| {
        let (org_id, window, keys) = (org_id.clone(), window.clone(), keys.clone());
        Box::pin(async move {
            let rows = customers::export_batch(conn, &org_id, &window, &after, BATCH_ROWS).await?;
            let last = rows.last().map(|r| r.id.clone());
            let records = rows.iter().map(|row| customer_record(&keys, row)).collect();
            Ok((records, last))
        })
    });
    Ok(csv_response("customers.csv", body))
}

#[utoipa::path(get, path = "/api/identity/export/verifications.csv", tag = "operations", params(ExportQuery), responses((status = 200, description = "verifications as CSV (RFC 4180), streamed", body = String, content_type = "text/csv"), crate::error::ErrorResponse))]
pub async fn verifications_csv(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let principal = auth.require(Scope::Internal)?;
    let window = query.window()?;
    audit_export(&state, &Actor::from_principal(principal), "verifications", &window).await?;
    let org_id = principal.org_id.clone();
    let body = stream_csv(state, &VERIFICATION_HEADER, move |conn, after| {
        let (org_id, window) = (org_id.clone(), window.clone());
        Box::pin(async move {
            let rows = verifications::export_batch(conn, &org_id, &window, &after, BATCH_ROWS).await?;
            let last = rows.last().map(|r| r.id.clone());
            Ok((rows.iter().map(verification_record).collect(), last))
        })
    });
    Ok(csv_response("verifications.csv", body))
}

async fn audit_export(state: &AppState, actor: &Actor, what: &str, window: &TimeWindow) -> ApiResult<()> {
    let mut tx = state.store.begin().await?;
    ledger::audit(&mut tx, actor, "export.created", what, json!({"from": window.from, "to": window.to})).await?;
    tx.commit().await?;
    Ok(())
}

/// A customer's row; an erased customer keeps its id, tier and times, and no personal data.
fn customer_record(keys: &Keys, row: &CustomerRow) -> Result<Vec<String>, ApiError> {
    let pii = if row.erased_at.is_some() { None } else { Some(open_pii(keys, row)?) };
    let gender = pii.as_ref().and_then(|p| p.gender).map(|g| g.as_str().to_string());
    let pii = pii.unwrap_or_default();
    Ok(vec![
        row.id.clone(),
        row.external_ref.clone().unwrap_or_default(),
        pii.full_name,
        pii.nik.unwrap_or_default(),
        pii.email.unwrap_or_default(),
        pii.phone.unwrap_or_default(),
        pii.date_of_birth.unwrap_or_default(),
        gender.unwrap_or_default(),
        row.tier.clone(),
        row.created_at.clone(),
        row.updated_at.clone(),
        row.erased_at.clone().unwrap_or_default(),
    ])
}

fn verification_record(row: &VerificationRow) -> Result<Vec<String>, ApiError> {
    let reasons: Vec<String> = serde_json::from_str(&row.reasons).unwrap_or_default();
    Ok(vec![
        row.id.clone(),
        row.customer_id.clone(),
        row.kind.clone(),
        row.status.clone(),
        reasons.join(";"),
        row.actor.clone(),
        row.actor_user_id.clone().unwrap_or_default(),
        row.created_at.clone(),
        row.details.clone(),
    ])
}

type Batch = (Vec<Result<Vec<String>, ApiError>>, Option<String>);
type BatchFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = StoreResult<Batch>> + Send + 'a>>;

/// Runs `next_batch` from the start until it returns no rows, encoding each batch as CSV and
/// sending it down the response. A failure midway ends the body with an error, so the client
/// sees a broken transfer rather than a file that looks complete.
fn stream_csv<F>(state: AppState, header: &'static [&'static str], mut next_batch: F) -> Body
where
    F: for<'c> FnMut(&'c mut sqlx::AnyConnection, String) -> BatchFuture<'c> + Send + 'static,
{
    let (sender, mut receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(QUEUED_BATCHES);
    tokio::spawn(async move {
        let result: Result<(), String> = async {
            let mut chunk = encode(std::iter::once(Ok(header.iter().map(|h| h.to_string()).collect())))?;
            let mut after = String::new();
            loop {
                let (records, last) = {
                    let mut conn = state.store.reader().acquire().await.map_err(|e| e.to_string())?;
                    next_batch(&mut conn, after.clone()).await.map_err(|e| e.to_string())?
                };
                chunk.extend(encode(records.into_iter())?);
                if sender.send(Ok(Bytes::from(std::mem::take(&mut chunk)))).await.is_err() {
                    return Ok(()); // the client went away
                }
                match last {
                    Some(last) => after = last,
                    None => return Ok(()),
                }
            }
        }
        .await;
        if let Err(cause) = result {
            tracing::error!(%cause, "export stopped midway");
            let _ = sender.send(Err(std::io::Error::other("export failed"))).await;
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    Body::from_stream(stream)
}

fn encode(records: impl Iterator<Item = Result<Vec<String>, ApiError>>) -> Result<Vec<u8>, String> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    for record in records {
        let record = record.map_err(|e| e.internal.unwrap_or(e.message))?;
        writer.write_record(record.iter().map(|cell| neutralize_cell(cell).into_owned())).map_err(|e| e.to_string())?;
    }
    writer.into_inner().map_err(|e| e.to_string())
}

fn csv_response(filename: &str, body: Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}
