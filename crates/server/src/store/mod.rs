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
pub mod integrations;
pub mod ktp;
#[cfg(test)]
mod migrations_parity;
pub mod oauth;
pub mod org_settings;
pub mod orgs;
pub mod retention;
pub mod search;
pub mod submissions;
pub mod tier_events;
pub mod users;
pub mod verifications;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Transaction};
use tokio::sync::{watch, Mutex, OwnedMutexGuard};

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

/// The database handle shared by every request: a read handle and the one write path.
///
/// On SQLite, reads go through a pool of `query_only` connections (a write through it fails),
/// and every write through a separate writer connection under the process's write lock, in
/// `BEGIN IMMEDIATE` transactions: SQLite has one writer, and queueing writers here instead of
/// in SQLite turns `SQLITE_BUSY` under load into an orderly wait. PostgreSQL uses row locks
/// and one pool serves both.
#[derive(Clone)]
pub struct Store {
    reader: AnyPool,
    writer: AnyPool,
    backend: Backend,
    write_lock: Option<Arc<Mutex<()>>>,
    /// Counts committed write transactions: the background workers (webhook outbox, face-match
    /// jobs) each watch it and wake to look for new work instead of polling (bursts coalesce).
    committed: Arc<watch::Sender<u64>>,
}

/// One write outside a transaction (an autocommit statement or a few), holding the write path.
pub struct WriteConn {
    conn: sqlx::pool::PoolConnection<Any>,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl std::ops::Deref for WriteConn {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl std::ops::DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

/// A write transaction. Fields drop in order: the transaction (rolled back unless
/// committed) before the SQLite writer lock.
pub struct WriteTx {
    pub tx: Transaction<'static, Any>,
    _writer: Option<OwnedMutexGuard<()>>,
    committed: Arc<watch::Sender<u64>>,
}

impl WriteTx {
    pub async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        self.committed.send_modify(|n| *n = n.wrapping_add(1));
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
        let (reader, writer) = match backend {
            Backend::Sqlite => {
                let url = sqlite_url_creating_dirs(url)?;
                let connect = |options: AnyPoolOptions, connections: u32, query_only: bool| {
                    options
                        .max_connections(connections)
                        .after_connect(move |conn, _| {
                            Box::pin(async move {
                                // WAL lets readers run beside the writer; secure_delete
                                // overwrites freed pages so erased data does not linger.
                                conn.execute(
                                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; \
                                     PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; \
                                     PRAGMA secure_delete=ON;",
                                )
                                .await?;
                                if query_only {
                                    conn.execute("PRAGMA query_only=ON;").await?;
                                }
                                Ok(())
                            })
                        })
                        .connect(&url)
                };
                // The writer first: it creates the file and switches it to WAL.
                let writer = connect(options.clone(), 1, false).await?;
                // An in-memory database exists per connection: one pool must serve both.
                let reader = if url.contains(":memory:") {
                    writer.clone()
                } else {
                    connect(options, max_connections.max(2), true).await?
                };
                (reader, writer)
            }
            Backend::Postgres => {
                let schema = pg_schema.map(|s| s.replace('"', ""));
                if let Some(schema) = &schema {
                    let setup = AnyPoolOptions::new().max_connections(1).connect(url).await?;
                    setup.execute(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"").as_str()).await?;
                    setup.close().await;
                }
                let pool = options
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
                    .await?;
                (pool.clone(), pool)
            }
        };
        let write_lock = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Store { reader, writer, backend, write_lock, committed: Arc::new(watch::channel(0).0) })
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        let _writer = self.write_guard().await;
        match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&self.writer).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&self.writer).await?,
        }
        Ok(())
    }

    /// The read handle. On SQLite its connections are `query_only`: writes go through
    /// [`Store::begin`] or [`Store::write`].
    pub fn reader(&self) -> &AnyPool {
        &self.reader
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A watch on this process's committed write transactions: `changed()` resolves after the
    /// next commit (or at once when one committed since the last look).
    pub fn commits(&self) -> watch::Receiver<u64> {
        self.committed.subscribe()
    }

    async fn write_guard(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }

    /// A write transaction: on SQLite under the write lock and `BEGIN IMMEDIATE`, so that it
    /// holds SQLite's write lock from its first statement and can never fail to upgrade.
    pub async fn begin(&self) -> StoreResult<WriteTx> {
        let writer = self.write_guard().await;
        let tx = match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        };
        Ok(WriteTx { tx, _writer: writer, committed: self.committed.clone() })
    }

    /// A connection for writes outside a transaction, holding the write path while it lives.
    pub async fn write(&self) -> StoreResult<WriteConn> {
        let writer = self.write_guard().await;
        let conn = self.writer.acquire().await?;
        Ok(WriteConn { conn, _writer: writer })
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
        match sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&self.writer).await {
            Ok(row) if col::<i64>(&row, "busy").unwrap_or(1) == 0 => {}
            Ok(_) => {
                tracing::warn!("WAL checkpoint after an erasure was blocked by a reader; the next one completes it")
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint after an erasure failed"),
        }
    }

    /// A cheap round trip for health checks.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").fetch_one(&self.reader).await.is_ok()
    }

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
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

/// `LISTEN {channel}` on a PostgreSQL connection of its own, turning each notification into a
/// wake-up of a background worker (notifications are sent inside the transactions that create
/// work, so they arrive only when that work is committed). Reconnects after a lost connection
/// (sqlx's listener does); gives up quietly when it cannot connect at all, leaving the worker to
/// its poll.
pub async fn listen(
    database_url: String,
    channel: &'static str,
    wake: Arc<tokio::sync::Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let mut listener = match sqlx::postgres::PgListener::connect(&database_url).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, channel, "cannot LISTEN; polling instead");
            return;
        }
    };
    if let Err(e) = listener.listen(channel).await {
        tracing::warn!(error = %e, channel, "cannot LISTEN; polling instead");
        return;
    }
    loop {
        let received = tokio::select! {
            received = listener.recv() => received,
            _ = stop.wait_for(|stopped| *stopped) => return,
        };
        match received {
            Ok(_) => wake.notify_one(),
            Err(e) => {
                tracing::warn!(error = %e, channel, "the listener failed; polling until it reconnects");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
