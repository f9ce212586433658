//! The backend-to-backend face match (seed 003): a partner's backend creates a submission, PUTs
//! its two images to presigned URLs, confirms, polls (or waits for the callback) and reads the
//! details. The job itself runs in `crate::submission_jobs`.
//!
//! Images are uploaded in plaintext to a staging key (an S3 presigned PUT cannot seal), so the
//! confirm reads each one back, checks it, seals it with the submission's own data key under a
//! new object key and deletes the staged copy. A staged object is also journaled for deletion
//! an hour after the submission is created, so one that is never confirmed does not stay.

use kenali_core::id::{is_id_of, new_id, IdKind};
use kenali_core::seal::DataKey;
use kenali_core::time_fmt::format_timestamp;
use kenali_vision::{decode_image, DecodeLimits};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::customers::load_customer;
use super::faces::face_service;
use super::{Error, Result};
use crate::blobs::{self, StoredObject};
use crate::faces::{decode_error, media_type_of, MAX_IMAGE_BYTES};
use crate::ledger::{self, Actor};
use crate::state::AppState;
use crate::store::submissions::{self as store, ImageRow, SubmissionRow};
use crate::store::webhooks::{self as webhook_store, WebhookRow, PURPOSE_CALLBACK};
use crate::store::{events, StoreError};

/// How long upload URLs stay valid.
pub const UPLOAD_TTL: time::Duration = time::Duration::minutes(15);
/// Largest image a partner may upload.
pub const MAX_UPLOAD_BYTES: usize = MAX_IMAGE_BYTES;
/// Longest `correlationId`.
const CORRELATION_MAX: usize = 128;

/// The comparison asked for, and the images it needs: the selfie first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    SelfieToKtp,
    SelfieToSelfie,
}

impl Mode {
    pub fn parse(value: &str) -> Option<Mode> {
        match value {
            "selfie_to_ktp" => Some(Mode::SelfieToKtp),
            "selfie_to_selfie" => Some(Mode::SelfieToSelfie),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::SelfieToKtp => "selfie_to_ktp",
            Mode::SelfieToSelfie => "selfie_to_selfie",
        }
    }

    /// The images, selfie first: the reference is a KTP photo or a baseline selfie.
    pub fn roles(self) -> [&'static str; 2] {
        match self {
            Mode::SelfieToKtp => ["selfie", "ktp"],
            Mode::SelfieToSelfie => ["selfie", "baseline"],
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSubmission {
    /// `selfie_to_ktp` (a live selfie against the portrait on a photo of a KTP) or
    /// `selfie_to_selfie` (a new selfie against a baseline selfie).
    pub mode: String,
    /// The partner's own id for this submission, unique in the org (1–128 of `A-Z a-z 0-9 . _ : -`);
    /// the status and details routes accept it in place of the submission id.
    pub correlation_id: Option<String>,
    /// A customer of the org: the match is then recorded as a `face_match` verification.
    pub customer_id: Option<String>,
    /// Where the signed `face_match.completed` callback goes; without it, the org's webhook
    /// endpoints subscribed to that event receive it.
    pub callback_url: Option<String>,
}

/// Where and how to upload one image.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadTarget {
    /// `selfie`, `ktp` or `baseline`.
    pub role: &'static str,
    /// Always `PUT`, with the image's bytes (JPEG or PNG) as the body.
    pub method: &'static str,
    /// The presigned URL: S3's own with an S3 blob store, Kenali's signed upload route with a
    /// local one. Valid for one object until `expiresAt`.
    pub url: String,
    pub expires_at: String,
    /// Largest accepted image, in bytes.
    pub max_bytes: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionError {
    pub code: String,
    pub message: String,
}

/// A submission's state, for polling.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionView {
    pub id: String,
    /// `pending_upload`, `queued`, `processing`, `completed` or `failed`.
    pub status: String,
    pub mode: String,
    pub correlation_id: Option<String>,
    pub customer_id: Option<String>,
    pub created_at: String,
    pub upload_expires_at: String,
    pub confirmed_at: Option<String>,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    /// Why it failed (`failed` only).
    pub error: Option<SubmissionError>,
    /// The `face_match` verification recorded for the named customer.
    pub verification_id: Option<String>,
}

impl From<&SubmissionRow> for SubmissionView {
    fn from(row: &SubmissionRow) -> Self {
        SubmissionView {
            id: row.id.clone(),
            status: row.status.clone(),
            mode: row.mode.clone(),
            correlation_id: row.correlation_id.clone(),
            customer_id: row.customer_id.clone(),
            created_at: row.created_at.clone(),
            upload_expires_at: row.upload_expires_at.clone(),
            confirmed_at: row.confirmed_at.clone(),
            started_at: row.started_at.clone(),
            completed_at: row.completed_at.clone(),
            error: row.error_code.as_ref().map(|code| SubmissionError {
                code: code.clone(),
                message: row.error_message.clone().unwrap_or_default(),
            }),
            verification_id: row.verification_id.clone(),
        }
    }
}

/// A new submission with its upload URLs, and the callback's signing secret (shown this once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionCreated {
    pub submission: SubmissionView,
    pub uploads: Vec<UploadTarget>,
    /// Signs the callback (`X-Identity-Signature`, as webhooks are signed); present when a
    /// `callbackUrl` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_secret: Option<String>,
}

/// The AAD under which a submission's image is sealed.
pub fn image_context(submission_id: &str, role: &str) -> String {
    format!("submission/{submission_id}/{role}")
}

/// Every object of a submission lives under this prefix.
pub fn submission_prefix(org_id: &str, submission_id: &str) -> String {
    blobs::submission_prefix(org_id, submission_id)
}

fn staging_key(org_id: &str, submission_id: &str, role: &str) -> String {
    format!("{}upload/{role}", submission_prefix(org_id, submission_id))
}

/// What Kenali's own upload URL signs: the method, the object and the expiry.
fn upload_message(submission_id: &str, role: &str, expires: i64) -> String {
    format!("PUT\n{submission_id}\n{role}\n{expires}")
}

fn upload_signing_key(state: &AppState) -> kenali_core::seal::MacKey {
    state.keys.master.mac_key("submission-upload")
}

fn check_correlation_id(value: &str) -> Result<()> {
    let valid = !value.is_empty()
        && value.len() <= CORRELATION_MAX
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
    if !valid {
        return Err(Error::invalid_field(
            "correlationId",
            format!("must be 1 to {CORRELATION_MAX} characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'"),
        ));
    }
    if is_id_of(IdKind::Submission, value) {
        return Err(Error::invalid_field("correlationId", "must not look like a submission id (sub_...)"));
    }
    Ok(())
}

pub fn data_key(state: &AppState, row: &SubmissionRow) -> Result<DataKey> {
    let wrapped = row.wrapped_data_key.as_deref().ok_or_else(|| Error::Gone {
        code: "images_deleted",
        message: "this submission's images were deleted".into(),
    })?;
    state.keys.master.unwrap_key(wrapped, &row.id).map_err(|e| Error::internal(format!("key of {}: {e}", row.id)))
}

/// Creates a submission: validates the request, writes the row (with a callback target when
/// asked) and returns one upload URL per image. `base_url` is where this server is reached
/// (for Kenali's own upload URLs).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    base_url: &str,
    body: CreateSubmission,
) -> Result<SubmissionCreated> {
    face_service(state)?;
    let mode = Mode::parse(&body.mode)
        .ok_or_else(|| Error::invalid_field("mode", "must be selfie_to_ktp or selfie_to_selfie"))?;
    if let Some(correlation_id) = &body.correlation_id {
        check_correlation_id(correlation_id)?;
    }
    let callback_url = match &body.callback_url {
        Some(url) => Some(
            crate::webhooks::check_target_url(url, state.config.webhook_allow_private)
                .await
                .map_err(|e| Error::invalid_field("callbackUrl", e))?,
        ),
        None => None,
    };
    crate::ratelimit::check(state, crate::ratelimit::FACE_MATCH_SUBMISSION, &actor.org_id).await?;
    if let Some(customer_id) = &body.customer_id {
        let mut conn = state.store.reader().acquire().await?;
        load_customer(&mut conn, &actor.org_id, customer_id).await?;
    }
    let now = state.clock.now();
    let created_at = format_timestamp(now);
    let expires = now + UPLOAD_TTL;
    let id = new_id(IdKind::Submission);
    let key = DataKey::generate();
    let callback = callback_url.map(|url| {
        let secret = crate::webhooks::generate_secret();
        let webhook_id = new_id(IdKind::Webhook);
        let sealed = state.keys.webhook.seal(secret.as_bytes(), &crate::webhooks::secret_context(&webhook_id));
        let row = WebhookRow {
            id: webhook_id,
            org_id: actor.org_id.clone(),
            url,
            description: Some(format!("callback of {id}")),
            events: vec![events::kind::FACE_MATCH_COMPLETED.to_string()],
            secret_sealed: hex::encode(sealed),
            enabled: true,
            created_at: created_at.clone(),
            updated_at: created_at.clone(),
        };
        (row, secret)
    });
    let row = SubmissionRow {
        id: id.clone(),
        org_id: actor.org_id.clone(),
        status: store::PENDING_UPLOAD.into(),
        mode: mode.as_str().into(),
        correlation_id: body.correlation_id.clone(),
        customer_id: body.customer_id.clone(),
        callback_webhook_id: callback.as_ref().map(|(w, _)| w.id.clone()),
        created_by: actor.actor.clone(),
        wrapped_data_key: Some(state.keys.master.wrap(&key, &id)),
        upload_expires_at: format_timestamp(expires),
        attempts: 0,
        result: None,
        error_code: None,
        error_message: None,
        verification_id: None,
        created_at: created_at.clone(),
        confirmed_at: None,
        started_at: None,
        completed_at: None,
        updated_at: created_at.clone(),
        images_deleted_at: None,
    };
    let images: Vec<ImageRow> = mode
        .roles()
        .iter()
        .map(|role| ImageRow {
            submission_id: id.clone(),
            role: (*role).to_string(),
            staging_key: staging_key(&actor.org_id, &id, role),
            media_type: None,
            object: None,
            image_sha256: None,
        })
        .collect();
    let mut uploads = Vec::with_capacity(images.len());
    for (image, role) in images.iter().zip(mode.roles()) {
        let url = match state.blobs.presigned_put(&image.staging_key, UPLOAD_TTL.unsigned_abs()).await? {
            Some(url) => url,
            None => {
                let signature =
                    upload_signing_key(state).tag(upload_message(&id, role, expires.unix_timestamp()).as_bytes());
                format!(
                    "{}/api/b2b/uploads/{id}/{role}?expires={}&signature={signature}",
                    base_url.trim_end_matches('/'),
                    expires.unix_timestamp()
                )
            }
        };
        uploads.push(UploadTarget {
            role,
            method: "PUT",
            url,
            expires_at: row.upload_expires_at.clone(),
            max_bytes: MAX_UPLOAD_BYTES,
        });
    }
    let mut tx = state.store.begin().await?;
    if let Some((webhook, _)) = &callback {
        webhook_store::insert_for(&mut tx, webhook, PURPOSE_CALLBACK).await?;
    }
    let staged: Vec<String> = images.iter().map(|i| i.staging_key.clone()).collect();
    // A staged upload is plaintext: whatever happens to the submission, it goes within the hour.
    blobs::journal_in(&mut tx, &staged, now + blobs::UPLOAD_GRACE, now).await?;
    if let Err(e) = store::insert(&mut tx, &row, &images).await {
        return Err(match e {
            e if e.is_unique_violation() => Error::Conflict {
                code: "duplicate_correlation_id",
                message: "a submission with this correlationId exists already".into(),
            },
            e => e.into(),
        });
    }
    ledger::audit(
        &mut tx,
        actor,
        "face_match_submission.created",
        &id,
        json!({"mode": row.mode, "customerId": row.customer_id, "callback": row.callback_webhook_id.is_some()}),
    )
    .await?;
    tx.commit().await?;
    Ok(SubmissionCreated {
        submission: SubmissionView::from(&row),
        uploads,
        callback_secret: callback.map(|(_, secret)| secret),
    })
}

/// A submission of the org by its id or the partner's correlation id.
pub async fn find(state: &AppState, org_id: &str, id_or_correlation: &str) -> Result<SubmissionRow> {
    let mut conn = state.store.reader().acquire().await?;
    let row = if is_id_of(IdKind::Submission, id_or_correlation) {
        store::find(&mut conn, org_id, id_or_correlation).await?
    } else {
        store::find_by_correlation(&mut conn, org_id, id_or_correlation).await?
    };
    row.ok_or(Error::NotFound("submission"))
}

/// Kenali's own upload route (a local blob store): checks the URL's signature and expiry, then
/// stores the image as the submission's staged upload.
pub async fn upload(
    state: &AppState,
    submission_id: &str,
    role: &str,
    expires: i64,
    signature: &str,
    body: bytes::Bytes,
) -> Result<()> {
    if !upload_signing_key(state).verify(upload_message(submission_id, role, expires).as_bytes(), signature) {
        return Err(Error::Forbidden {
            code: "upload_url_invalid",
            message: "this upload URL's signature does not match it; use the URL exactly as it was given".into(),
        });
    }
    if state.clock.now().unix_timestamp() > expires {
        return Err(Error::Forbidden {
            code: "upload_url_expired",
            message: "this upload URL has expired; create a new submission".into(),
        });
    }
    let row = {
        let mut conn = state.store.reader().acquire().await?;
        store::get(&mut conn, submission_id).await?.ok_or(Error::NotFound("submission"))?
    };
    if row.status != store::PENDING_UPLOAD {
        return Err(Error::Conflict {
            code: "already_confirmed",
            message: format!("this submission is {}; its images can no longer change", row.status),
        });
    }
    check_image(role, &body, None)?;
    state.blobs.put(&staging_key(&row.org_id, &row.id, role), body.to_vec()).await?;
    Ok(())
}

/// The image's media type, refusing what is not a JPEG or PNG within the size limit. With
/// `decode`, the whole image is decoded too.
fn check_image(role: &str, bytes: &[u8], decode: Option<DecodeLimits>) -> Result<&'static str> {
    use crate::service::ImageProblem;
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(Error::image(role, ImageProblem::TooLarge(format!("must be at most {MAX_UPLOAD_BYTES} bytes"))));
    }
    let media_type = media_type_of(bytes).ok_or_else(|| Error::image(role, ImageProblem::Unsupported))?;
    if let Some(limits) = decode {
        decode_image(bytes, limits).map_err(|e| decode_error(role, e))?;
    }
    Ok(media_type)
}

/// Confirms the uploads: each image must be there, within the size limit, and decode. Each is
/// sealed under the submission's key into a new object and the staged copy deleted; then the
/// job is queued. Confirming a submission that is already past this point answers its state.
pub async fn confirm(state: &AppState, actor: &Actor, id_or_correlation: &str) -> Result<SubmissionRow> {
    let row = find(state, &actor.org_id, id_or_correlation).await?;
    if row.status != store::PENDING_UPLOAD {
        return Ok(row);
    }
    let now = state.clock.now();
    if format_timestamp(now) > row.upload_expires_at {
        return Err(Error::Gone {
            code: "upload_expired",
            message: "the upload window of this submission has closed; create a new submission".into(),
        });
    }
    let mut images = {
        let mut conn = state.store.reader().acquire().await?;
        store::images(&mut conn, &row.id).await?
    };
    // The selfie first, as the upload URLs are listed.
    images.sort_by_key(|image| image.role != "selfie");
    let mut missing = Vec::new();
    for image in &images {
        match state.blobs.size(&image.staging_key).await? {
            None => missing.push(image.role.clone()),
            Some(size) if size as usize > MAX_UPLOAD_BYTES => {
                return Err(Error::image(
                    image.role.clone(),
                    crate::service::ImageProblem::TooLarge(format!(
                        "is {size} bytes; at most {MAX_UPLOAD_BYTES} are accepted"
                    )),
                ));
            }
            Some(_) => {}
        }
    }
    if !missing.is_empty() {
        return Err(Error::Conflict {
            code: "upload_missing",
            message: format!("not uploaded yet: {}", missing.join(", ")),
        });
    }
    let service = face_service(state)?.clone();
    let key = data_key(state, &row)?;
    let mut sealed = Vec::with_capacity(images.len());
    for image in &images {
        let bytes = bytes::Bytes::from(state.blobs.get_unrecorded(&image.staging_key).await?);
        let role = image.role.clone();
        let limits = DecodeLimits { max_bytes: MAX_UPLOAD_BYTES, ..DecodeLimits::default() };
        let checked = bytes.clone();
        let media_type = service.run_blocking(move || check_image(&role, &checked, Some(limits))).await?;
        let object_key = format!("{}{}-{}", submission_prefix(&row.org_id, &row.id), image.role, ulid::Ulid::new());
        sealed.push((image, media_type, hex::encode(Sha256::digest(&bytes)), object_key, bytes));
    }
    let keys: Vec<String> = sealed.iter().map(|s| s.3.clone()).collect();
    blobs::journal_uploads(&state.store, &keys, now).await?;
    let mut uploaded = blobs::Uploaded::new(&state.blobs);
    let mut objects: Vec<StoredObject> = Vec::with_capacity(sealed.len());
    for (image, _, _, object_key, bytes) in &sealed {
        let object = state.blobs.put(object_key, key.seal(bytes, &image_context(&row.id, &image.role))).await?;
        uploaded.push(object.key.clone());
        objects.push(object);
    }
    let mut tx = state.store.begin().await?;
    for ((image, media_type, sha256, _, _), object) in sealed.iter().zip(&objects) {
        store::set_image_object(&mut tx, image, media_type, object, sha256).await?;
        blobs::settle_upload(&mut tx, &object.key).await?;
    }
    if !store::queue(&mut tx, &row.id, &format_timestamp(now)).await? {
        // Another confirm won: its objects are the recorded ones; these are deleted on drop.
        drop(tx);
        return find(state, &actor.org_id, &row.id).await;
    }
    ledger::audit(&mut tx, actor, "face_match_submission.confirmed", &row.id, json!({})).await?;
    tx.commit().await?;
    uploaded.committed();
    for image in &images {
        if let Err(e) = state.blobs.delete(&image.staging_key).await {
            tracing::warn!(error = %e, "deleting a staged upload failed; its journaled deletion removes it within the hour");
        }
    }
    find(state, &actor.org_id, &row.id).await
}

/// A finished submission's result (scores and measures, never an image).
pub async fn details(
    state: &AppState,
    org_id: &str,
    id_or_correlation: &str,
) -> Result<(SubmissionRow, serde_json::Value)> {
    let row = find(state, org_id, id_or_correlation).await?;
    match row.status.as_str() {
        store::COMPLETED | store::FAILED => {}
        other => {
            return Err(Error::Conflict {
                code: "not_completed",
                message: format!("this submission is {other}; its details exist once it is completed or failed"),
            })
        }
    }
    let result = match &row.result {
        Some(text) => serde_json::from_str(text).map_err(|e| Error::internal(format!("result of {}: {e}", row.id)))?,
        None => serde_json::Value::Null,
    };
    Ok((row, result))
}

/// The callback delivery of a submission: `(event id, status, attempts, last HTTP status, last
/// error)`, `None` when it has no callback URL or the event is not written yet.
pub async fn callback_state(
    state: &AppState,
    row: &SubmissionRow,
) -> Result<Option<(String, String, i64, Option<i64>, Option<String>)>> {
    let Some(webhook_id) = &row.callback_webhook_id else { return Ok(None) };
    let mut conn = state.store.reader().acquire().await?;
    Ok(store::callback_delivery(&mut conn, webhook_id).await?)
}

/// Queues a failed callback again, due now, with a fresh retry window.
pub async fn redeliver_callback(state: &AppState, actor: &Actor, id_or_correlation: &str) -> Result<String> {
    let row = find(state, &actor.org_id, id_or_correlation).await?;
    let not_failed =
        || Error::Conflict { code: "not_failed", message: "this submission has no failed callback".into() };
    let Some(webhook_id) = &row.callback_webhook_id else { return Err(not_failed()) };
    let Some((event_id, status, ..)) = callback_state(state, &row).await? else { return Err(not_failed()) };
    if status != "failed" {
        return Err(not_failed());
    }
    let mut tx = state.store.begin().await?;
    if !super::webhooks::requeue_failed(&mut tx, &actor.org_id, webhook_id, &event_id).await? {
        return Err(not_failed());
    }
    ledger::audit(&mut tx, actor, "face_match_submission.callback_redelivered", &row.id, json!({"eventId": event_id}))
        .await?;
    tx.commit().await?;
    Ok(event_id)
}

/// Deletes the images of an org's finished submissions older than the step-up retention
/// window, and fails (and deletes the staged uploads of) submissions whose upload window
/// closed without a confirm. Returns how many submissions lost their images.
pub async fn sweep(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    step_up_before: &str,
    now: &str,
) -> std::result::Result<u64, StoreError> {
    let mut swept = 0;
    for row in store::abandoned(&mut *conn, org_id, now, 500).await? {
        drop_images(&mut *conn, &row, now).await?;
        notify_finished(&mut *conn, &row, store::FAILED).await?;
        swept += 1;
    }
    for row in store::images_past(&mut *conn, org_id, step_up_before, 500).await? {
        drop_images(&mut *conn, &row, now).await?;
        swept += 1;
    }
    Ok(swept)
}

/// Queues the deletion of every object of the submission and shreds its key, in the caller's
/// transaction.
pub async fn drop_images(
    conn: &mut sqlx::AnyConnection,
    row: &SubmissionRow,
    now: &str,
) -> std::result::Result<(), StoreError> {
    blobs::queue_deletion(&mut *conn, &submission_prefix(&row.org_id, &row.id), true, now).await?;
    store::drop_images(conn, &row.id, now).await
}

/// Writes the `face_match.completed` event (ids and status only) for the submission's callback
/// target, or for the org's endpoints when it has none.
pub async fn notify_finished(
    conn: &mut sqlx::AnyConnection,
    row: &SubmissionRow,
    status: &str,
) -> std::result::Result<(), StoreError> {
    let data = json!({"submissionId": row.id, "correlationId": row.correlation_id, "status": status});
    match &row.callback_webhook_id {
        Some(webhook_id) => {
            events::publish_callback(conn, &row.org_id, events::kind::FACE_MATCH_COMPLETED, data, webhook_id).await?
        }
        None => events::publish(conn, &row.org_id, events::kind::FACE_MATCH_COMPLETED, data).await?,
    };
    Ok(())
}
