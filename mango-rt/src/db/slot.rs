//! A call's connection: checked out the first time something in the call asks for it,
//! in the call's transaction, ended (commit or rollback) once the call's result is known.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AsyncConnection, TransactionManager};

use super::{Database, Db};
use crate::error::ToolError;

/// How an item uses its connection: in a transaction or not (`atomic`, `None` for the
/// settings' default), and whether it only reads (SQLite then takes no write lock).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DbMode {
    pub atomic: Option<bool>,
    pub read_only: bool,
    /// The database refuses writes (reads of resources, prompts, completions): SQLite's
    /// `query_only` for the call, PostgreSQL's `READ ONLY` transaction.
    pub enforce_read_only: bool,
}

impl DbMode {
    /// What reads get: a transaction that cannot write.
    pub(crate) const READS: DbMode = DbMode {
        atomic: None,
        read_only: true,
        enforce_read_only: true,
    };
}

type Tm = <Db as AsyncConnection>::TransactionManager;

/// Begins the call's transaction. On SQLite a tool that may write gets `BEGIN
/// IMMEDIATE`: it takes the write lock up front instead of failing half-way with
/// "database is locked" when another call writes; a `read_only` tool gets a plain
/// `BEGIN`, so that readers never wait for writers (WAL). A read that is held to it
/// gets a transaction that cannot write (PostgreSQL).
async fn begin(conn: &mut Db, mode: DbMode) -> diesel::QueryResult<()> {
    #[cfg(feature = "sqlite")]
    {
        let sql = if mode.read_only {
            "BEGIN"
        } else {
            "BEGIN IMMEDIATE"
        };
        conn.spawn_blocking(move |c| {
            diesel::connection::AnsiTransactionManager::begin_transaction_sql(c, sql)
        })
        .await
    }
    #[cfg(feature = "postgres")]
    {
        use diesel_async::SimpleAsyncConnection;
        Tm::begin_transaction(conn).await?;
        if mode.enforce_read_only {
            conn.batch_execute("SET TRANSACTION READ ONLY").await?;
        }
        Ok(())
    }
}

/// SQLite: turns `query_only` on or off for the connection (writes are refused while
/// it is on). PostgreSQL's read-only transactions need nothing more.
async fn query_only(conn: &mut Db, on: bool) -> diesel::QueryResult<()> {
    #[cfg(feature = "sqlite")]
    {
        use diesel::connection::SimpleConnection;
        let sql = if on {
            "PRAGMA query_only = ON"
        } else {
            "PRAGMA query_only = OFF"
        };
        conn.spawn_blocking(move |c| c.batch_execute(sql)).await
    }
    #[cfg(feature = "postgres")]
    {
        let _ = (conn, on);
        Ok(())
    }
}

/// A call's connection: checked out for the call, in a transaction unless the tool
/// says `atomic = false`. The call keeps it (in its [`DbSlot`]), not the tool, so that
/// the transaction ends after everything that runs in the call: the pipeline commits
/// when the call's result is a success and rolls back otherwise (an `Err`, a panic).
/// Dropped without either (a cancelled call), the connection is closed instead of going
/// back to the pool, which rolls the transaction back.
pub(crate) struct CallDb {
    /// Always `Some` until [`CallDb::finish`] or drop.
    conn: Option<Object<Db>>,
    in_transaction: bool,
    /// SQLite's `query_only` is on for this call: it is turned off before the
    /// connection goes back to the pool (or the connection is closed).
    query_only: bool,
    /// SQLite: this call's turn to write, held until its transaction ends (dropped
    /// with the `CallDb`, after the commit or rollback).
    _write_turn: Option<tokio::sync::OwnedSemaphorePermit>,
    /// The transaction may write (the item is not `read_only`, the read not held to it).
    writes: bool,
}

impl CallDb {
    /// Ends the call's transaction: commit when `ok`, else roll back.
    async fn finish(mut self, ok: bool) -> Result<(), ToolError> {
        let result = self.end(ok).await;
        if self.query_only
            && let Some(conn) = self.conn.as_deref_mut()
            && query_only(conn, false).await.is_ok()
        {
            self.query_only = false;
        }
        result
    }

    async fn end(&mut self, ok: bool) -> Result<(), ToolError> {
        if !self.in_transaction {
            return Ok(());
        }
        self.in_transaction = false;
        let Some(conn) = self.conn.as_deref_mut() else {
            return Ok(());
        };
        let operation = if ok { "COMMIT" } else { "ROLLBACK" };
        let end = async {
            if ok {
                Tm::commit_transaction(conn).await
            } else {
                Tm::rollback_transaction(conn).await
            }
        };
        let span = || {
            crate::telemetry::Spec::new(operation, crate::telemetry::Kind::Client)
                .attr("db.system.name", super::SYSTEM_NAME)
                .attr("db.operation.name", operation)
        };
        let result = crate::telemetry::within(span, end).await;
        if let Err(e) = result {
            // The transaction's state is unknown: never reuse this connection.
            if let Some(conn) = self.conn.take() {
                drop(Object::take(conn));
            }
            return Err(ToolError::new(if ok {
                format!("the call's changes could not be committed: {e}")
            } else {
                format!("the call's changes could not be rolled back: {e}")
            }));
        }
        Ok(())
    }
}

impl Drop for CallDb {
    fn drop(&mut self) {
        if (self.in_transaction || self.query_only)
            && let Some(conn) = self.conn.take()
        {
            // Closing the connection rolls its transaction back (and never lends a
            // `query_only` connection to the next call).
            drop(Object::take(conn));
        }
    }
}

/// The point past which a call is no longer stopped: it has begun to end its
/// transaction. Whoever may stop a call (a cancellation, the session's end, the
/// shutdown deadline, `mango.timeout`) asks it first, so that a call told "rolled back"
/// committed nothing and one that committed is answered with its result.
#[derive(Clone, Default, Debug)]
pub(crate) struct CommitPoint(Arc<std::sync::atomic::AtomicBool>);

/// How a call that could be stopped ended.
pub(crate) enum Ended<T> {
    /// It ran to its end before anything stopped it.
    Done(T),
    /// It was to be stopped, but had already begun to end its transaction: it ran to
    /// its end, and this is what it did.
    Late(T),
    /// It was stopped before its transaction began to end: what it did is rolled back.
    Stopped,
}

impl CommitPoint {
    fn pass(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the call has begun to end its transaction.
    pub(crate) fn passed(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// `work`, unless `stop` comes first while the call has not passed this point:
    /// then `work` is dropped (its transaction rolls back as its connection closes).
    /// Past the point `work` runs to its end however long `stop` has been due. The
    /// check cannot race the commit: `work` is not being polled while it is made.
    pub(crate) async fn unless<T>(
        &self,
        stop: impl Future<Output = ()>,
        work: impl Future<Output = T>,
    ) -> Ended<T> {
        tokio::pin!(work);
        tokio::select! {
            biased;
            done = &mut work => Ended::Done(done),
            () = stop => {
                if self.passed() {
                    Ended::Late(work.await)
                } else {
                    Ended::Stopped
                }
            }
        }
    }
}

/// What must be done before a call's transaction takes SQLite's write turn (a task
/// writes its row then: the call's transaction would hold the database until it
/// ends). Its error fails the call.
pub(crate) type BeforeWrite =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), ToolError>> + Send>> + Send + Sync>;

/// Where a call keeps its connection, from the first time something in the call asks
/// for it until the call's result is known.
#[derive(Clone, Default)]
pub(crate) struct DbSlot {
    conn: Arc<tokio::sync::Mutex<Option<CallDb>>>,
    commit: CommitPoint,
    before_write: Option<BeforeWrite>,
}

impl DbSlot {
    /// A slot whose call passes `commit` when it ends its transaction.
    pub(crate) fn new(commit: CommitPoint, before_write: Option<BeforeWrite>) -> DbSlot {
        DbSlot {
            conn: Default::default(),
            commit,
            before_write,
        }
    }

    /// The call's commit point.
    pub(crate) fn commit_point(&self) -> &CommitPoint {
        &self.commit
    }

    /// The call's connection, when the call holds one in a transaction that may write
    /// (what is written on it is committed with the call's work, or not at all); none
    /// when the call took no connection, or took it without a transaction or to read.
    pub(crate) async fn in_write_transaction(&self) -> Option<DbLease> {
        let slot = self.conn.clone().lock_owned().await;
        let holds = slot
            .as_ref()
            .is_some_and(|db| db.in_transaction && db.writes && db.conn.is_some());
        holds.then_some(DbLease(slot))
    }

    /// Commits (`ok`) or rolls back the call's transaction, if the call opened one.
    pub(crate) async fn finish(&self, ok: bool) -> Result<(), ToolError> {
        self.commit.pass();
        // Nobody else holds the slot once the call's result is known; `try_lock` spares
        // the common case (no connection taken) an await.
        let taken = match self.conn.try_lock() {
            Ok(mut slot) => slot.take(),
            Err(_) => self.conn.lock().await.take(),
        };
        match taken {
            Some(db) => db.finish(ok).await,
            None => Ok(()),
        }
    }
}

/// The call's connection, lent to an item or a middleware (`Request::db`): it derefs to
/// [`Db`]. One lender at a time: drop it before calling `next`.
pub struct DbLease(tokio::sync::OwnedMutexGuard<Option<CallDb>>);

impl DbLease {
    fn conn(&self) -> &Db {
        match self.0.as_ref().and_then(|db| db.conn.as_deref()) {
            Some(conn) => conn,
            // A lease is made only once the slot holds a connection (`build`), and the
            // slot is emptied only by `DbSlot::finish`, which waits for the lease.
            None => unreachable!("a database lease without a connection"),
        }
    }

    fn conn_mut(&mut self) -> &mut Db {
        match self.0.as_mut().and_then(|db| db.conn.as_deref_mut()) {
            Some(conn) => conn,
            None => unreachable!("a database lease without a connection"),
        }
    }
}

impl DbSlot {
    /// Lends the call's connection, checking one out (and beginning the transaction)
    /// the first time. One lender at a time: the tool, or a middleware.
    pub(crate) async fn lease(
        &self,
        database: &Database,
        mode: DbMode,
    ) -> Result<DbLease, ToolError> {
        let DbMode {
            atomic, read_only, ..
        } = mode;
        let Ok(mut slot) = self.conn.clone().try_lock_owned() else {
            return Err(ToolError::new(
                "the database connection is already lent out in this call: take it once at a time",
            ));
        };
        if slot.is_none() {
            let atomic = atomic.unwrap_or(database.atomic_by_default);
            // The turn first, then the connection: a queue of writers holds no
            // connections that readers could use.
            let write_turn = if atomic && !read_only {
                if let Some(before) = &self.before_write {
                    before().await?;
                }
                database.write_turn().await?
            } else {
                None
            };
            let checkout = async {
                let mut conn = database.get().await?;
                if atomic {
                    begin(&mut conn, mode).await.map_err(|e| {
                        ToolError::new(format!("could not begin the call's transaction: {e}"))
                    })?;
                }
                Ok::<_, ToolError>(conn)
            };
            let span = || {
                crate::telemetry::Spec::new("db.checkout", crate::telemetry::Kind::Client)
                    .attr("db.system.name", super::SYSTEM_NAME)
                    .attr("mango.db.atomic", atomic)
            };
            let conn = crate::telemetry::within(span, checkout).await?;
            let enforce = mode.enforce_read_only && cfg!(feature = "sqlite");
            let mut db = CallDb {
                conn: Some(conn),
                in_transaction: atomic,
                query_only: enforce,
                _write_turn: write_turn,
                writes: atomic && !read_only && !mode.enforce_read_only,
            };
            if enforce && let Some(conn) = db.conn.as_deref_mut() {
                query_only(conn, true).await.map_err(|e| {
                    ToolError::new(format!(
                        "could not make the call's connection read-only: {e}"
                    ))
                })?;
            }
            *slot = Some(db);
        }
        Ok(DbLease(slot))
    }
}

impl std::ops::Deref for DbLease {
    type Target = Db;

    fn deref(&self) -> &Db {
        self.conn()
    }
}

impl std::ops::DerefMut for DbLease {
    fn deref_mut(&mut self) -> &mut Db {
        self.conn_mut()
    }
}
