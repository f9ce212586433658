//! The 1:N face index (issue 21): each org's live enrolled faces in memory as int8 codes
//! (`kenali_core::face_index`), searched exactly.
//!
//! The database stays the truth, so several `serve` processes agree without talking: before a
//! search the org's index takes in the faces enrolled since its last look (ids begin with their
//! creation time; the look reaches back `REFRESH_OVERLAP` for transactions that committed
//! late), and every hit it returns is checked against the database and re-scored from its
//! sealed embedding. A face retired, rejected or erased since is dropped there and never
//! returned; the process that erases a customer also drops its faces at once.

use std::collections::HashMap;
use std::sync::Arc;

use kenali_core::face_index::FaceIndex;
use kenali_core::id::{id_floor, IdKind};
use kenali_vision::embed::cosine;
use kenali_vision::engine::MODEL_ID;
use time::OffsetDateTime;
use tokio::sync::RwLock;

use crate::faces::open_sealed_embedding;
use crate::keys::Keys;
use crate::ledger::unwrap_data_key;
use crate::service::Error;
use crate::state::AppState;
use crate::store::faces::{self, IndexableFace, ENROLLMENT_ACTIVE};

/// ArcFace `w600k_mbf` embeddings.
const DIM: usize = 512;
/// How far before its last look the index looks again: longer than a request may run
/// (`request_timeout_secs`), so an enrollment whose transaction began earlier but committed
/// after the look is still taken in.
const REFRESH_OVERLAP: time::Duration = time::Duration::minutes(2);
/// Candidates checked against the database per hit asked for: room for faces dropped since.
const OVERSAMPLE: usize = 3;

/// A customer's best face for a probe, scored exactly.
#[derive(Debug, Clone)]
pub struct FaceHit {
    pub customer_id: String,
    pub enrollment_id: String,
    pub score: f32,
}

#[derive(Default)]
struct OrgIndex {
    index: Option<FaceIndex>,
    /// When the last look began; `None` before the first.
    looked_at: Option<OffsetDateTime>,
}

/// Every org's index, built on first use (or at start by [`FaceIndexes::warm`]).
#[derive(Default)]
pub struct FaceIndexes {
    orgs: std::sync::Mutex<HashMap<String, Arc<RwLock<OrgIndex>>>>,
}

fn open_face(keys: &Keys, face: &IndexableFace) -> Result<Vec<f32>, Error> {
    let key = unwrap_data_key(keys, &face.customer_id, &face.wrapped_data_key)?;
    open_sealed_embedding(&key, &face.enrollment_id, &face.embedding_sealed)
}

impl FaceIndexes {
    fn org(&self, org_id: &str) -> Arc<RwLock<OrgIndex>> {
        let mut orgs = self.orgs.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        orgs.entry(org_id.to_string()).or_default().clone()
    }

    /// Takes in the org's faces enrolled since the last look; how many faces the index holds.
    async fn refresh(&self, state: &AppState, org_id: &str) -> Result<usize, Error> {
        let org = self.org(org_id);
        let mut guard = org.write().await;
        let now = state.clock.now();
        let from = match guard.looked_at {
            Some(at) => {
                let ms = (at - REFRESH_OVERLAP).unix_timestamp_nanos() / 1_000_000;
                id_floor(IdKind::FaceEnrollment, u64::try_from(ms).unwrap_or(0))
            }
            None => id_floor(IdKind::FaceEnrollment, 0),
        };
        let mut conn = state.store.reader().acquire().await?;
        let found = faces::indexable_faces_since(&mut conn, org_id, MODEL_ID, &from).await?;
        drop(conn);
        let guard = &mut *guard;
        let index = guard.index.get_or_insert_with(|| FaceIndex::new(DIM));
        for face in &found {
            if !index.contains(&face.enrollment_id) {
                index.insert(&face.enrollment_id, &face.customer_id, &open_face(&state.keys, face)?);
            }
        }
        guard.looked_at = Some(now);
        Ok(index.len())
    }

    /// The `limit` customers of the org whose live faces are most like `probe`, best first,
    /// and how many faces were searched. Every hit is checked against the database and scored
    /// from its sealed embedding.
    pub async fn search(
        &self,
        state: &AppState,
        org_id: &str,
        probe: &[f32],
        limit: usize,
    ) -> Result<(Vec<FaceHit>, usize), Error> {
        let searched = self.refresh(state, org_id).await?;
        let org = self.org(org_id);
        let candidates = {
            let guard = org.read().await;
            guard.index.as_ref().map(|index| index.search(probe, limit * OVERSAMPLE)).unwrap_or_default()
        };
        let ids: Vec<String> = candidates.iter().map(|hit| hit.enrollment_id.clone()).collect();
        let mut conn = state.store.reader().acquire().await?;
        let live = faces::indexable_faces_among(&mut conn, org_id, MODEL_ID, &ids).await?;
        drop(conn);
        let live: HashMap<&str, &IndexableFace> = live.iter().map(|f| (f.enrollment_id.as_str(), f)).collect();
        let mut hits = Vec::new();
        let mut gone = Vec::new();
        for candidate in &candidates {
            match live.get(candidate.enrollment_id.as_str()) {
                Some(face) if face.status == ENROLLMENT_ACTIVE => hits.push(FaceHit {
                    customer_id: face.customer_id.clone(),
                    enrollment_id: face.enrollment_id.clone(),
                    score: cosine(probe, &open_face(&state.keys, face)?),
                }),
                // Awaiting review: kept, not returned.
                Some(_) => {}
                None => gone.push(candidate.enrollment_id.clone()),
            }
        }
        if !gone.is_empty() {
            let mut guard = org.write().await;
            if let Some(index) = guard.index.as_mut() {
                for id in &gone {
                    index.remove(id);
                }
            }
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.enrollment_id.cmp(&b.enrollment_id)));
        hits.truncate(limit);
        Ok((hits, searched - gone.len()))
    }

    /// Drops an erased customer's faces from this process's index at once.
    pub async fn forget_customer(&self, org_id: &str, customer_id: &str) {
        let org = self.org(org_id);
        let mut guard = org.write().await;
        if let Some(index) = guard.index.as_mut() {
            index.remove_customer(customer_id);
        }
    }

    /// Builds every org's index (at start, so the first search does not wait for it).
    pub async fn warm(&self, state: &AppState) -> Result<usize, Error> {
        let mut conn = state.store.reader().acquire().await?;
        let orgs = faces::orgs_with_faces(&mut conn).await?;
        drop(conn);
        let mut total = 0;
        for org_id in orgs {
            total += self.refresh(state, &org_id).await?;
        }
        Ok(total)
    }
}
