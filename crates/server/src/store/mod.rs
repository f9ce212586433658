//! Storage: one code path over SQLite (embedded default) and PostgreSQL through sqlx's `Any`
//! driver. SQL is written once with `$1` placeholders, which both databases accept; only the
//! migrations differ (column types), kept side by side in `migrations/{sqlite,postgres}`.

pub mod api_keys;
pub mod audit;
pub mod challenges;
pub mod customers;
pub mod devices;
pub mod dukcapil;
pub mod erasure;
pub mod events;
pub mod faces;
pub mod idempotency;
pub mod ktp;
pub mod org_settings;
pub mod orgs;
pub mod retention;
pub mod search;
pub mod tier_events;
pub mod verifications;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("creating the data directory: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Whether the error is a unique-constraint violation (a concurrent duplicate insert).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => db.is_unique_violation(),
            _ => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The database handle shared by every request.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time; taking this lock before `BEGIN` turns what would be
    /// `SQLITE_BUSY` failures under concurrent writes into an orderly queue. PostgreSQL uses
    /// row locks instead and needs none.
    write_lock: Option<Arc<Mutex<()>>>,
}

/// A write transaction. Fields drop in order: the transaction (rolled back unless
/// committed) before the SQLite writer lock.
pub struct WriteTx {
    pub tx: Transaction<'static, Any>,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Transaction<'static, Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl Store {
    /// Connects; `pg_schema` puts every table of this handle in its own PostgreSQL schema
    /// (created if absent), which tests use so that runs cannot collide.
    pub async fn connect(url: &str, max_connections: u32, pg_schema: Option<&str>) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(10));
        let pool = match backend {
            Backend::Sqlite => {
                let url = sqlite_url_creating_dirs(url)?;
                options
                    .max_connections(max_connections.max(2))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets readers run beside the writer; secure_delete overwrites
                            // freed pages so erased data does not linger in the file.
                            conn.execute(
                                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                                 PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; \
                                 PRAGMA secure_delete=ON;",
                            )
                            .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => {
                let schema = pg_schema.map(|s| s.replace('"', ""));
                if let Some(schema) = &schema {
                    let setup = AnyPoolOptions::new().max_connections(1).connect(url).await?;
                    setup.execute(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"").as_str()).await?;
                    setup.close().await;
                }
                options
                    .max_connections(max_connections)
                    .after_connect(move |conn, _| {
                        let schema = schema.clone();
                        Box::pin(async move {
                            if let Some(schema) = schema {
                                conn.execute(format!("SET search_path TO \"{schema}\"").as_str()).await?;
                            }
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
        };
        let write_lock = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Store { pool, backend, write_lock })
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&self.pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&self.pool).await?,
        }
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn begin(&self) -> StoreResult<WriteTx> {
        let writer = match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let tx = self.pool.begin().await?;
        Ok(WriteTx { tx, _writer: writer })
    }

    /// After an erasure, on SQLite: copy the write-ahead log into the database file and empty
    /// it, so that older copies of the erased rows' pages (kept in the log until a checkpoint)
    /// are gone too; `secure_delete` has zeroed them in the file. Best effort: a reader still
    /// on an older snapshot keeps the log, and the next checkpoint finishes the work.
    /// PostgreSQL keeps dead row versions until VACUUM reuses their space; there the
    /// destroyed data key is what makes them unreadable.
    pub async fn flush_erased(&self) {
        let Some(lock) = &self.write_lock else {
            return;
        };
        let _writer = lock.lock().await;
        match sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&self.pool).await {
            Ok(row) if col::<i64>(&row, "busy").unwrap_or(1) == 0 => {}
            Ok(_) => {
                tracing::warn!("WAL checkpoint after an erasure was blocked by a reader; the next one completes it")
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint after an erasure failed"),
        }
    }

    /// A cheap round trip for health checks.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").fetch_one(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Makes `sqlite://path` create the file (and its folder) on first start.
fn sqlite_url_creating_dirs(url: &str) -> StoreResult<String> {
    let path_part = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let (path, query) = path_part.split_once('?').unwrap_or((path_part, ""));
    if path != ":memory:" && !path.is_empty() {
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)?;
            }
        }
    }
    Ok(if query.is_empty() { format!("sqlite://{path}?mode=rwc") } else { url.to_string() })
}

/// Reads a column, turning a type mismatch into a store error.
pub fn col<T>(row: &AnyRow, name: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    use sqlx::Row;
    Ok(row.try_get(name)?)
}

/// A page request: `limit` items after `cursor` (an id; lists run newest first).
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: i64,
    pub cursor: Option<String>,
}

/// Splits one extra fetched row off into the next cursor.
pub fn paginate<T>(mut rows: Vec<T>, limit: i64, id_of: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(id_of);
        (rows, next)
    } else {
        (rows, None)
    }
}

/// A `[from, to)` range of creation times (fixed-width RFC 3339); either end may be open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeWindow {
    pub from: Option<String>,
    pub to: Option<String>,
}
