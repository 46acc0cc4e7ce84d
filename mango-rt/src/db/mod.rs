//! The database: `Db` (the connection a tool receives) and `RunQueryDsl` for apps;
//! inside the crate, a pool created at start-up from `[database]`, a connection handed to
//! every call that asks for one (`db: &mut Db`), inside a transaction by default.
//!
//! The backend is a cargo feature of `mango-rt`: `sqlite` (the default: a file in the
//! project, no server) or `postgres`. A URL of the other kind stops start-up with a
//! message saying which feature to enable.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "sqlite")]
use diesel_async::AsyncConnection;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};

use crate::settings::DatabaseSettings;

pub(crate) mod inspect;
pub(crate) mod migrate;
#[cfg(feature = "postgres")]
pub(crate) mod pg;
mod slot;

pub(crate) use migrate::{MigrateError, Migrator};
pub use slot::DbLease;
pub(crate) use slot::{BeforeWrite, CommitPoint, DbMode, DbSlot, Ended};

#[cfg(all(feature = "sqlite", feature = "postgres"))]
compile_error!(
    "mango-rt: enable one database backend: `sqlite` (the default) or `postgres` (with default-features = false)"
);
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!("mango-rt: enable a database backend feature: `sqlite` (the default) or `postgres`");

pub use diesel_async::RunQueryDsl;

/// The database connection a tool receives (`db: &mut Db`): a Diesel async connection,
/// so `diesel_async::RunQueryDsl` methods (`.execute(db)`, `.load(db)` …) take it.
#[cfg(feature = "sqlite")]
pub type Db =
    diesel_async::sync_connection_wrapper::SyncConnectionWrapper<diesel::SqliteConnection>;
/// The database connection a tool receives (`db: &mut Db`).
#[cfg(feature = "postgres")]
pub type Db = diesel_async::AsyncPgConnection;

/// Why a call (or mango's own work) got no connection: what the call's caller is told.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CheckoutError {
    #[error(
        "the database is unreachable: could not connect to `{url}` ({reason}); the call did nothing, try it again once the database is back"
    )]
    Unreachable { url: String, reason: String },

    #[error(
        "the database is unreachable: no connection to `{url}` within {waited:?}; the call did nothing, try it again once the database is back"
    )]
    NoAnswer { url: String, waited: Duration },

    #[error(
        "no database connection was free within {waited:?} (all {size} were in use); raise [database] pool_size or checkout_timeout in Mango.toml"
    )]
    Busy { waited: Duration, size: usize },

    #[error(
        "the database stayed locked by other calls' writes for {waited:?}: a tool holds its transaction too long, or the machine is overloaded (or raise [database] busy_timeout)"
    )]
    Locked { waited: Duration },
}

/// Why a query of mango's own (the audit log, the rounds' claims, notifications) failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum QueryError {
    #[error(transparent)]
    Checkout(#[from] CheckoutError),

    #[error("could not connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),

    #[error("the database refused a query: {0}")]
    Query(#[from] diesel::result::Error),
}

/// What `/readyz` and the admin say of a database that cannot be reached now (the
/// details are logged, not shown to whoever asks).
#[derive(Debug, thiserror::Error)]
#[error("unreachable")]
pub(crate) struct Unreachable;

/// The compiled backend: Diesel's `Sqlite` or `Pg`.
#[cfg(feature = "sqlite")]
pub type Backend = diesel::sqlite::Sqlite;
/// The compiled backend: Diesel's `Sqlite` or `Pg`.
#[cfg(feature = "postgres")]
pub type Backend = diesel::pg::Pg;

/// The backend's `db.system.name` (OpenTelemetry's semantic conventions), for spans.
pub(crate) const SYSTEM_NAME: &str = if cfg!(feature = "postgres") {
    "postgresql"
} else {
    "sqlite"
};

/// A condition on the rows of `T` (a Diesel `table!`), boxed: what a `#[model]`'s
/// `scope` hook returns to narrow every query of the model to the caller's rows.
///
/// ```
/// # diesel::table! { notes (id) { id -> BigInt, owner -> Text } }
/// use mango_rt::db::RowFilter;
/// use mango_rt::diesel::ExpressionMethods;
///
/// /// The caller's own notes.
/// fn own(ctx: &mango_rt::Context) -> RowFilter<notes::table> {
///     let me = ctx.identity().map(|i| i.subject().to_owned()).unwrap_or_default();
///     Box::new(notes::owner.eq(me))
/// }
/// ```
pub type RowFilter<T> =
    Box<dyn diesel::expression::BoxableExpression<T, Backend, SqlType = diesel::sql_types::Bool>>;

/// The compiled backend's name, for messages.
#[cfg(feature = "sqlite")]
pub(crate) const BACKEND: &str = "sqlite";
#[cfg(feature = "postgres")]
pub(crate) const BACKEND: &str = "postgres";

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    #[error(
        "[database] url `{url}` is not a {BACKEND} URL, and this project is built for {BACKEND}; {hint}"
    )]
    BackendMismatch { url: String, hint: &'static str },

    #[error("[database] url `{url}` is not valid: {why}")]
    BadUrl { url: String, why: String },

    #[error("could not connect to the database at `{url}`: {reason}")]
    Unreachable { url: String, reason: String },

    #[error("could not set up the connection pool for `{url}`: {reason}")]
    Pool { url: String, reason: String },
}

#[cfg(feature = "sqlite")]
const MISMATCH_HINT: &str = "for PostgreSQL, build mango-rt with its `postgres` feature: in the project's Cargo.toml, mango-rt = { …, default-features = false, features = [\"postgres\"] }";
#[cfg(feature = "postgres")]
const MISMATCH_HINT: &str = "for SQLite, build mango-rt with its default `sqlite` feature (remove default-features = false and features = [\"postgres\"] from the project's Cargo.toml)";

pub(crate) use crate::util::redact_url as redact;

/// What the driver is given: for SQLite a file path (relative ones are relative to the
/// project root, where Mango.toml is), for PostgreSQL the URL as it is.
pub(crate) fn connection_string(url: &str, root: &Path) -> Result<String, DbError> {
    let bad = |why: &str| DbError::BadUrl {
        url: redact(url),
        why: why.to_owned(),
    };
    let is_sqlite = url.starts_with("sqlite:");
    let is_postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if !is_sqlite && !is_postgres {
        return Err(bad(
            "use sqlite://<path> (relative to the project root) or postgres://user:password@host/db",
        ));
    }
    if (cfg!(feature = "sqlite") && !is_sqlite) || (cfg!(feature = "postgres") && !is_postgres) {
        return Err(DbError::BackendMismatch {
            url: redact(url),
            hint: MISMATCH_HINT,
        });
    }
    if is_postgres {
        return Ok(url.to_owned());
    }
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    if path.is_empty() {
        return Err(bad("it names no file: use sqlite://db.sqlite3"));
    }
    if path == ":memory:" {
        return Err(bad(
            "an in-memory database is one per connection, so calls would not see each other's data; use a file",
        ));
    }
    let path = Path::new(path);
    let path = if path.is_absolute() {
        path.to_owned()
    } else {
        root.join(path)
    };
    Ok(path.to_string_lossy().into_owned())
}

/// How long start-up (and `migrate`) waits for a first connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

tokio::task_local! {
    /// The database of the read (a resource, a prompt) this task runs, whose own
    /// transaction cannot write: `Job::enqueue` writes there instead.
    pub(crate) static IN_A_READ: Database;
}

/// The pool, and what calls need to know about it (a clone shares the pool).
#[derive(Clone)]
pub(crate) struct Database {
    pool: Pool<Db>,
    /// How connections are opened (a connection of its own listens for changes on
    /// PostgreSQL): the URL read once, its TLS set up.
    #[cfg(feature = "postgres")]
    connector: Arc<pg::Connector>,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    options: ConnectionOptions,
    /// The URL for messages (password hidden).
    pub(crate) url: String,
    checkout_timeout: Duration,
    /// Whether tools run in a transaction unless they say `atomic = false`.
    pub(crate) atomic_by_default: bool,
    /// SQLite: whose turn it is to write. Calls that would write wait for their turn
    /// here, in order, instead of in SQLite's busy handler (docs/decisions.md,
    /// "Performance").
    writer: Arc<tokio::sync::Semaphore>,
    /// SQLite: how long a call waits for its turn to write (`[database] busy_timeout`,
    /// also SQLite's own `busy_timeout` for other processes' locks).
    write_wait: Duration,
}

/// What every connection is set up with.
#[derive(Debug, Clone, Copy)]
struct ConnectionOptions {
    /// PostgreSQL's `statement_timeout`, in milliseconds.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    statement_timeout: Option<u64>,
    /// SQLite's `busy_timeout`.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    busy_timeout: Duration,
}

impl Database {
    /// Creates the pool (connections are opened when first needed).
    pub(crate) fn new(settings: &DatabaseSettings, root: &Path) -> Result<Database, DbError> {
        let target = connection_string(&settings.url, root)?;
        let url = redact(&settings.url);
        let mut config = ManagerConfig::<Db>::default();
        // A pooled SQLite connection is a file handle: nothing on the other end can drop
        // it, so checking it out needs no test query (`SELECT 1`, one more trip to a
        // blocking thread per call). PostgreSQL's connections are tested.
        #[cfg(feature = "sqlite")]
        {
            config.recycling_method = diesel_async::pooled_connection::RecyclingMethod::Fast;
        }
        let write_wait = Duration::from_secs_f64(settings.busy_timeout.clamp(0.001, 3600.0));
        let options = ConnectionOptions {
            statement_timeout: settings.statement_timeout,
            busy_timeout: write_wait,
        };
        #[cfg(feature = "sqlite")]
        {
            config.custom_setup = Box::new(move |target| {
                let target = target.to_owned();
                Box::pin(async move { setup(&target, options).await })
            });
        }
        #[cfg(feature = "postgres")]
        let connector = {
            let connector =
                Arc::new(pg::Connector::new(&target).map_err(|why| DbError::BadUrl {
                    url: url.clone(),
                    why: why.to_string(),
                })?);
            let each = connector.clone();
            config.custom_setup = Box::new(move |_| {
                let connector = each.clone();
                Box::pin(async move { setup(&connector, options).await })
            });
            connector
        };
        let manager = AsyncDieselConnectionManager::<Db>::new_with_config(target.clone(), config);
        // The connection used last is the next one given (LIFO): its SQLite page cache
        // is the warmest. Handed out in turn (FIFO), each connection would find the
        // pages the others changed since its last use invalid, and read them again:
        // as soon as the pool had two connections (a worker's claim, a read beside a
        // write), writes on SQLite lost a third of their speed.
        let pool = Pool::builder(manager)
            .queue_mode(deadpool::managed::QueueMode::Lifo)
            .max_size(settings.pool_size.max(1))
            .build()
            .map_err(|e| DbError::Pool {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        Ok(Database {
            pool,
            #[cfg(feature = "postgres")]
            connector,
            options,
            url,
            checkout_timeout: Duration::from_secs_f64(settings.checkout_timeout.max(0.001)),
            atomic_by_default: settings.atomic,
            writer: Arc::new(tokio::sync::Semaphore::new(1)),
            write_wait,
        })
    }

    /// On SQLite, waits for this process's turn to write (see `writer`); `None` on
    /// PostgreSQL, where writers do not exclude each other.
    pub(crate) async fn write_turn(
        &self,
    ) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, CheckoutError> {
        if !cfg!(feature = "sqlite") {
            return Ok(None);
        }
        match tokio::time::timeout(self.write_wait, self.writer.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            Ok(Err(_)) => Ok(None),
            Err(_) => Err(CheckoutError::Locked {
                waited: self.write_wait,
            }),
        }
    }

    /// SQLite: this process's turn to write if no call holds it now (`None`: one
    /// does); PostgreSQL: no turn is needed (`Some(None)`).
    pub(crate) fn try_write_turn(&self) -> Option<Option<tokio::sync::OwnedSemaphorePermit>> {
        if !cfg!(feature = "sqlite") {
            return Some(None);
        }
        self.writer.clone().try_acquire_owned().ok().map(Some)
    }

    /// A connection from the pool, waiting at most the checkout timeout.
    pub(crate) async fn get(&self) -> Result<Object<Db>, CheckoutError> {
        match tokio::time::timeout(self.checkout_timeout, self.pool.get()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(CheckoutError::Unreachable {
                url: self.url.clone(),
                reason: e.to_string(),
            }),
            Err(_) => {
                let status = self.pool.status();
                Err(if status.size >= status.max_size {
                    CheckoutError::Busy {
                        waited: self.checkout_timeout,
                        size: status.max_size,
                    }
                } else {
                    CheckoutError::NoAnswer {
                        url: self.url.clone(),
                        waited: self.checkout_timeout,
                    }
                })
            }
        }
    }

    /// Whether the database can be reached now (a pooled connection that passes the
    /// pool's check, or a new one, within at most 2 s; a pool whose connections are all
    /// at work is busy, not broken): what `/readyz` reports.
    pub(crate) async fn ready(&self) -> Result<(), Unreachable> {
        let limit = self.checkout_timeout.min(Duration::from_secs(2));
        match tokio::time::timeout(limit, self.pool.get()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                // The details (hosts, the driver's words) go to the log, not to whoever
                // probes readiness.
                tracing::warn!(database = %self.url, error = %e, "not ready: the database is unreachable");
                Err(Unreachable)
            }
            Err(_) => {
                let status = self.pool.status();
                if status.size >= status.max_size && status.available == 0 {
                    // Busy, not broken: every connection is at work and calls queue
                    // for the next one (each within its checkout timeout).
                    Ok(())
                } else {
                    tracing::warn!(database = %self.url, "not ready: no connection within {limit:?}");
                    Err(Unreachable)
                }
            }
        }
    }

    /// Opens one connection now: start-up fails early, with the reason, when the
    /// database cannot be reached.
    pub(crate) async fn check(&self) -> Result<Object<Db>, DbError> {
        let unreachable = |reason: String| DbError::Unreachable {
            url: self.url.clone(),
            reason,
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, self.pool.get()).await {
            Ok(result) => result.map_err(|e| unreachable(e.to_string())),
            Err(_) => Err(unreachable(format!("no answer within {CONNECT_TIMEOUT:?}"))),
        }
    }

    /// The pool's connections: open, idle, and the most it opens.
    pub(crate) fn pool_status(&self) -> (usize, usize, usize) {
        let s = self.pool.status();
        (s.size, s.available, s.max_size)
    }

    /// Calls waiting for a connection of the pool.
    pub(crate) fn pool_waiting(&self) -> usize {
        self.pool.status().waiting
    }

    /// Closes the pool: idle connections are dropped, checked-out ones when returned.
    pub(crate) fn close(&self) {
        self.pool.close();
    }
}

/// PostgreSQL's notifications: what one process says (`NOTIFY`), every process that
/// listens on the channel hears once the saying transaction commits.
#[cfg(feature = "postgres")]
impl Database {
    /// Says each payload on `channel` (`pg_notify`, on a pooled connection).
    pub(crate) async fn notify(
        &self,
        channel: &str,
        payloads: &[String],
    ) -> Result<(), QueryError> {
        use diesel::sql_types::Text;
        let mut conn = self.get().await?;
        for payload in payloads {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(channel)
                .bind::<Text, _>(payload)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// A connection of its own (not the pool's) that listens on `channel`.
    pub(crate) async fn listener(&self, channel: &str) -> Result<Db, QueryError> {
        use diesel_async::SimpleAsyncConnection;
        let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, setup(&self.connector, self.options))
            .await
            .map_err(|_| {
                QueryError::Checkout(CheckoutError::NoAnswer {
                    url: self.url.clone(),
                    waited: CONNECT_TIMEOUT,
                })
            })??;
        conn.batch_execute(&format!("LISTEN {channel}")).await?;
        Ok(conn)
    }
}

/// Opens a connection and sets it up for concurrent use.
#[cfg(feature = "sqlite")]
async fn setup(target: &str, options: ConnectionOptions) -> diesel::ConnectionResult<Db> {
    use diesel::connection::SimpleConnection;
    let mut conn = Db::establish(target).await.map_err(|e| match e {
        // SQLite says "unable to open database file": the system says why.
        diesel::ConnectionError::BadConnection(message) => {
            diesel::ConnectionError::BadConnection(match why_unopenable(target) {
                Some(why) => format!("{message}: {why}"),
                None => message,
            })
        }
        other => other,
    })?;
    // Without these, concurrent writers fail with "database is locked"
    // (docs/decisions.md, "Database").
    let pragmas = format!(
        "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        options.busy_timeout.as_millis().max(1)
    );
    // Turning a new file to WAL needs it to itself, and SQLite answers "database is
    // locked" at once, without its busy handler, while another process holds it (two
    // servers, or a server and `migrate`, starting on one new file): tried again until
    // `busy_timeout`, as a write would wait.
    let deadline = std::time::Instant::now() + options.busy_timeout;
    loop {
        let pragmas = pragmas.clone();
        match conn
            .spawn_blocking(move |c| c.batch_execute(&pragmas))
            .await
        {
            Ok(()) => return Ok(conn),
            Err(e) if e.to_string().contains("locked") && std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(diesel::ConnectionError::BadConnection(e.to_string())),
        }
    }
}

/// Why the system will not let SQLite open (or create) the file `path`, when it will
/// not: the folder is missing, or the file or folder may not be written.
#[cfg(feature = "sqlite")]
fn why_unopenable(path: &str) -> Option<String> {
    let path = Path::new(path);
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Err(e) = std::fs::metadata(folder) {
        return Some(format!(
            "the folder {} cannot be used ({e}); create it, or point [database] url elsewhere",
            folder.display()
        ));
    }
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
    {
        Ok(_) => None,
        Err(e) => Some(format!(
            "{} cannot be opened for writing ({e}); check the permissions of the file and its folder, or point [database] url elsewhere",
            path.display()
        )),
    }
}

#[cfg(feature = "postgres")]
async fn setup(
    connector: &pg::Connector,
    options: ConnectionOptions,
) -> diesel::ConnectionResult<Db> {
    use diesel_async::SimpleAsyncConnection;
    let mut conn = connector.connect().await?;
    if let Some(ms) = options.statement_timeout {
        conn.batch_execute(&format!("SET statement_timeout = {ms}"))
            .await
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact("sqlite://db.sqlite3"), "sqlite://db.sqlite3");
    }

    #[test]
    fn sqlite_paths_are_relative_to_the_project() {
        let root = Path::new("/srv/site");
        if cfg!(feature = "sqlite") {
            assert_eq!(
                connection_string("sqlite://db.sqlite3", root)
                    .ok()
                    .as_deref(),
                Some("/srv/site/db.sqlite3")
            );
            assert_eq!(
                connection_string("sqlite:///var/x.db", root)
                    .ok()
                    .as_deref(),
                Some("/var/x.db")
            );
            let err = connection_string("postgres://u:pw@h/d", root)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains("postgres") && err.contains("u:***@h") && !err.contains("pw"),
                "{err}"
            );
        }
        assert!(connection_string("mysql://x", root).is_err());
        assert!(connection_string("sqlite://", root).is_err());
    }

    /// A new SQLite file whose first write another process holds (a server and
    /// `migrate`, or two servers, starting on it): turning it to WAL cannot wait in
    /// SQLite's busy handler (it answers "database is locked" at once), so the
    /// connection tries again until `busy_timeout`, and opens once the write commits.
    #[cfg(feature = "sqlite")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_file_another_writer_holds_opens_once_it_commits() {
        use diesel::Connection;
        use diesel::connection::SimpleConnection;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("new.db");
        let path = path.to_str().unwrap_or_default().to_owned();
        let mut writer =
            diesel::SqliteConnection::establish(&path).unwrap_or_else(|e| panic!("{e}"));
        writer
            .batch_execute("BEGIN IMMEDIATE; CREATE TABLE t (x INTEGER);")
            .unwrap_or_else(|e| panic!("{e}"));
        let committer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            writer
                .batch_execute("COMMIT")
                .unwrap_or_else(|e| panic!("{e}"));
        });
        let options = ConnectionOptions {
            statement_timeout: None,
            busy_timeout: Duration::from_secs(5),
        };
        let started = std::time::Instant::now();
        let opened = setup(&path, options).await;
        let waited = started.elapsed();
        committer
            .join()
            .unwrap_or_else(|_| panic!("the committing thread panicked"));
        assert!(opened.is_ok(), "{:?}", opened.err());
        assert!(waited >= Duration::from_millis(250), "{waited:?}");
    }

    /// SQLite's writers take turns in the process: 8 concurrent write transactions on a
    /// real file all commit, and a reader does not queue behind them (without the turns,
    /// the writers would hold all 4 connections while SQLite makes them wait, and the
    /// reader would wait 100 ms for one).
    #[cfg(feature = "sqlite")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_writers_take_turns_and_readers_do_not_wait() {
        use diesel::connection::SimpleConnection;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let settings = DatabaseSettings {
            url: "sqlite://turns.db".into(),
            pool_size: 4,
            ..DatabaseSettings::default()
        };
        let database =
            Arc::new(Database::new(&settings, dir.path()).unwrap_or_else(|e| panic!("{e}")));
        let mut conn = database.get().await.unwrap_or_else(|e| panic!("{e}"));
        conn.spawn_blocking(|c| c.batch_execute("CREATE TABLE t (n INTEGER NOT NULL)"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        drop(conn);
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let database = database.clone();
                tokio::spawn(async move {
                    let slot = DbSlot::default();
                    let mut lease = slot
                        .lease(
                            &database,
                            DbMode {
                                atomic: Some(true),
                                ..DbMode::default()
                            },
                        )
                        .await?;
                    lease
                        .spawn_blocking(move |c| {
                            c.batch_execute(&format!("INSERT INTO t (n) VALUES ({i})"))
                        })
                        .await
                        .map_err(crate::ToolError::from)?;
                    // Hold the turn, as a tool doing more work would.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    drop(lease);
                    slot.finish(true).await
                })
            })
            .collect();
        // A read-only call meanwhile gets its connection without waiting for the writers.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = std::time::Instant::now();
        let reader = DbSlot::default();
        let lease = reader
            .lease(
                &database,
                DbMode {
                    atomic: Some(true),
                    read_only: true,
                    enforce_read_only: false,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            started.elapsed() < Duration::from_millis(60),
            "the reader waited {:?}",
            started.elapsed()
        );
        drop(lease);
        let _ = reader.finish(true).await;
        for w in writers {
            let result = w.await.unwrap_or_else(|e| panic!("{e}"));
            assert!(result.is_ok(), "{result:?}");
        }
        let mut conn = database.get().await.unwrap_or_else(|e| panic!("{e}"));
        let count = conn
            .spawn_blocking(|c| {
                diesel::RunQueryDsl::get_result::<i64>(
                    diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT COUNT(*) FROM t"),
                    c,
                )
            })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(count, 8);
    }

    /// A read (`DbMode::READS`) cannot write, and the connection it used writes again
    /// for the next call (SQLite's `query_only` does not stay on in the pool).
    #[cfg(feature = "sqlite")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_cannot_write_and_leave_the_pool_writable() {
        use diesel::connection::SimpleConnection;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let settings = DatabaseSettings {
            url: "sqlite://reads.db".into(),
            pool_size: 1,
            ..DatabaseSettings::default()
        };
        let database = Database::new(&settings, dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let write = |lease: &mut DbLease, sql: &'static str| {
            let conn: &mut Db = lease;
            conn.spawn_blocking(move |c| c.batch_execute(sql))
        };
        let slot = DbSlot::default();
        let mut lease = slot
            .lease(&database, DbMode::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        write(&mut lease, "CREATE TABLE t (n INTEGER)")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        drop(lease);
        slot.finish(true).await.unwrap_or_else(|e| panic!("{e}"));
        let reader = DbSlot::default();
        let mut lease = reader
            .lease(&database, DbMode::READS)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let refused = write(&mut lease, "INSERT INTO t (n) VALUES (1)").await;
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.to_string().contains("readonly")),
            "{refused:?}"
        );
        drop(lease);
        let _ = reader.finish(false).await;
        // The pool has one connection: the same one, writable again.
        let writer = DbSlot::default();
        let mut lease = writer
            .lease(&database, DbMode::default())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        write(&mut lease, "INSERT INTO t (n) VALUES (2)")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        drop(lease);
        writer.finish(true).await.unwrap_or_else(|e| panic!("{e}"));
    }
}
