use std::sync::Arc;

use crate::config::Config;
use crate::faces::FaceService;
use crate::keys::Keys;
use crate::metrics::Metrics;
use crate::store::Store;

/// Everything a request handler may use, passed explicitly (no globals).
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub keys: Arc<Keys>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    /// The face pipeline; absent only in commands that need no models.
    pub faces: Option<FaceService>,
}
