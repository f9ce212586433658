//! `POST /api/identity/face/search` (issue 21, internal scope): the customers of the org whose
//! enrolled faces are most like an image's face, best first (1:N, `crate::face_index`).

use kenali_vision::engine::MODEL_ID;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::faces::face_service;
use super::{Error, Result};
use crate::faces::image_field;
use crate::ledger::{self, Actor};
use crate::state::AppState;

/// Customers a search returns unless asked otherwise, and at most.
pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 50;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaceSearchRequest {
    /// Base64 JPEG or PNG with one face.
    image: String,
    /// Customers to return, 1 to 50 (default 10).
    limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FaceSearchHit {
    customer_id: String,
    /// The customer's enrolled face most like the image's.
    enrollment_id: String,
    /// Cosine similarity of the two embeddings.
    score: f32,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FaceSearchAnswer {
    /// Best first; each customer once, by its most similar face.
    matches: Vec<FaceSearchHit>,
    #[schema(value_type = String)]
    model_id: &'static str,
    /// How many live enrolled faces of the org were searched.
    searched: usize,
}

pub async fn search(state: &AppState, actor: &Actor, body: FaceSearchRequest) -> Result<FaceSearchAnswer> {
    let limit = body.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Error::invalid_field("limit", format!("must be 1 to {MAX_LIMIT}")));
    }
    let probe = image_field("image", &body.image)?;
    crate::ratelimit::check(state, crate::ratelimit::FACE_SEARCH, &actor.org_id).await?;
    let analyzed = face_service(state)?.analyze("image", probe).await?;
    let (hits, searched) = state.face_index.search(state, &actor.org_id, &analyzed.face.embedding, limit).await?;
    // A 1:N search looks at every customer's biometrics: it is on the record, with what it found.
    let mut tx = state.store.begin().await?;
    let found: Vec<&str> = hits.iter().map(|h| h.customer_id.as_str()).collect();
    ledger::audit(
        &mut tx,
        actor,
        "face.searched",
        &analyzed.input.sha256,
        json!({"limit": limit, "searched": searched, "customerIds": found}),
    )
    .await?;
    tx.commit().await?;
    Ok(FaceSearchAnswer {
        matches: hits
            .into_iter()
            .map(|h| FaceSearchHit { customer_id: h.customer_id, enrollment_id: h.enrollment_id, score: h.score })
            .collect(),
        model_id: MODEL_ID,
        searched,
    })
}
