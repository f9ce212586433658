use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::Config;
use crate::faces::FaceService;
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::store::Store;

/// Everything a request handler may use, passed explicitly (no globals).
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Where images live, sealed (`KENALI_BLOB_URL`).
    pub blobs: crate::blobs::BlobStore,
    pub keys: Arc<Keys>,
    /// The public keys OAuth access tokens are verified with, cached.
    pub oauth: Arc<crate::oauth::KeyRing>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// The face pipeline; absent only in commands that need no models.
    pub faces: Option<FaceService>,
    pub clock: Clock,
    /// The WebAuthn relying party of dashboard passkeys.
    pub webauthn: Arc<webauthn_rs::Webauthn>,
    /// Every org's live enrolled faces, for 1:N search.
    pub face_index: Arc<crate::face_index::FaceIndexes>,
    /// The demo page's API key, when `KENALI_DEMO` is on.
    pub demo: Option<Arc<crate::demo::DemoKey>>,
}

/// The time as the server sees it: the system clock plus an offset that tests move forward,
/// so that they age challenges, idempotency records and rate-limit windows without rewriting
/// rows. The offset is zero outside tests.
#[derive(Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + time::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    /// `now` in the stored fixed-width form.
    pub fn now_timestamp(&self) -> String {
        kenali_core::time_fmt::format_timestamp(self.now())
    }

    /// Moves this server's time forward (tests).
    pub fn advance(&self, by: time::Duration) {
        let ms = i64::try_from(by.whole_milliseconds()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }
}
