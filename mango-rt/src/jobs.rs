//! Background jobs: the apps' `#[job]` functions, enqueued as rows of `mango_jobs`
//! (mango's own migration, made by `migrate` when an app has a job) and run by workers
//! (`runtime::jobs`) in `serve` and in `run worker`.
//!
//! Enqueuing writes a row on the caller's connection: inside a call it is in the call's
//! transaction, so the job exists if and only if the call commits (a transactional
//! outbox: no lost job, no phantom one). A job's run is marked done in the run's own
//! transaction, under the lease its worker holds: its work and its "completed" are
//! committed together or not at all, and a worker that lost its lease commits nothing.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::db::Db;
use crate::error::ToolError;
use crate::util::now_ms;

diesel::table! {
    mango_jobs (id) {
        id -> Text,
        name -> Text,
        arguments -> Text,
        status -> Text,
        attempts -> BigInt,
        max_attempts -> Nullable<BigInt>,
        run_after_ms -> BigInt,
        lease -> Nullable<Text>,
        lease_until_ms -> Nullable<BigInt>,
        worker -> Nullable<Text>,
        result -> Nullable<Text>,
        error -> Nullable<Text>,
        cancel -> Bool,
        created_ms -> BigInt,
        updated_ms -> BigInt,
        finished_ms -> Nullable<BigInt>,
    }
}

/// mango's own migration of the jobs' table, applied with the apps' when an app has a
/// `#[job]`.
#[cfg(feature = "sqlite")]
pub(crate) static MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/sqlite-jobs");
#[cfg(feature = "postgres")]
pub(crate) static MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/postgres-jobs");

/// A job's states: `queued` (waiting for its time and a worker), `running` (a worker
/// holds its lease), then `completed`, `failed` (no attempt left, or not to be run
/// again) or `cancelled`.
pub(crate) mod status {
    pub const QUEUED: &str = "queued";
    pub const RUNNING: &str = "running";
    pub const COMPLETED: &str = "completed";
    pub const FAILED: &str = "failed";
    pub const CANCELLED: &str = "cancelled";
}

/// The id of an enqueued job (32 hex digits): what `run jobs` and the admin show.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobId(String);

impl JobId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A job to enqueue, made by the function `#[job]` generates beside the job's own
/// (`send_welcome::job(user_id)`): its arguments, and when it may run.
///
/// ```ignore
/// #[mango_rt::job(idempotent)]
/// async fn send_welcome(user_id: i64, db: &mut Db) -> mango_rt::Result<()> { … }
///
/// #[mango_rt::tool]
/// async fn signup(name: String, db: &mut Db) -> mango_rt::Result<String> {
///     let id = insert_user(&name, db).await?;
///     // In the call's transaction: enqueued if and only if the call commits.
///     send_welcome::job(id).after(Duration::from_secs(60)).enqueue(db).await?;
///     Ok(format!("welcome, {name}"))
/// }
/// ```
#[must_use = "a job does nothing until it is enqueued: `.enqueue(db).await`"]
pub struct Job {
    name: String,
    arguments: serde_json::Map<String, serde_json::Value>,
    /// Why an argument could not be made JSON (`enqueue` says so).
    unserializable: Option<String>,
    delay: Duration,
    max_attempts: Option<u32>,
}

impl Job {
    /// The job `app.name` with these arguments (and why one could not be made JSON).
    #[doc(hidden)]
    pub fn new(
        app: &str,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
        unserializable: Option<String>,
        max_attempts: Option<u32>,
    ) -> Job {
        Job {
            name: format!("{app}{}{name}", crate::registry::SEPARATOR),
            arguments,
            unserializable,
            delay: Duration::ZERO,
            max_attempts,
        }
    }

    /// Runs no sooner than `delay` from now.
    pub fn after(mut self, delay: Duration) -> Job {
        self.delay = delay;
        self
    }

    /// Runs at most `n` times (`[jobs] max_attempts`, or the job's own, otherwise).
    pub fn max_attempts(mut self, n: u32) -> Job {
        self.max_attempts = Some(n.max(1));
        self
    }

    /// Writes the job on `db`: in a call, in the call's transaction (the job is
    /// enqueued if and only if the call commits).
    pub async fn enqueue(self, db: &mut Db) -> Result<JobId, ToolError> {
        if let Some(e) = self.unserializable {
            return Err(ToolError::new(format!(
                "the job `{}` could not be enqueued: an argument is not JSON: {e}",
                self.name
            )));
        }
        let arguments = self.arguments;
        let now = now_ms();
        let id = crate::util::random_hex(16);
        let delay = i64::try_from(self.delay.as_millis()).unwrap_or(i64::MAX);
        let insert = diesel::insert_into(mango_jobs::table).values((
            mango_jobs::id.eq(&id),
            mango_jobs::name.eq(&self.name),
            mango_jobs::arguments.eq(serde_json::Value::Object(arguments).to_string()),
            mango_jobs::status.eq(status::QUEUED),
            mango_jobs::attempts.eq(0),
            mango_jobs::max_attempts.eq(self.max_attempts.map(i64::from)),
            mango_jobs::run_after_ms.eq(now.saturating_add(delay)),
            mango_jobs::cancel.eq(false),
            mango_jobs::created_ms.eq(now),
            mango_jobs::updated_ms.eq(now),
        ));
        let written = match crate::db::IN_A_READ.try_with(Clone::clone) {
            // A read's transaction cannot write: the job is written at once, in a
            // transaction of its own (the read has nothing to commit or roll back).
            Ok(database) => {
                async {
                    let _turn = database.write_turn().await?;
                    let mut conn = database.get().await?;
                    Ok::<_, crate::db::QueryError>(insert.execute(&mut *conn).await?)
                }
                .await
            }
            Err(_) => insert
                .execute(db)
                .await
                .map_err(crate::db::QueryError::from),
        };
        written.map_err(|e| {
            let e = e.to_string();
            ToolError::new(format!(
                "the job `{}` could not be enqueued: {e}{}",
                self.name,
                if e.contains("no such table") || e.contains("does not exist") {
                    " (run `cargo mango migrate`: it makes mango's jobs table)"
                } else {
                    ""
                }
            ))
        })?;
        Ok(JobId(id))
    }
}

/// One row of `mango_jobs`, as `run jobs` and the admin show it.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = mango_jobs)]
pub(crate) struct JobRow {
    pub id: String,
    pub name: String,
    pub arguments: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: Option<i64>,
    pub run_after_ms: i64,
    pub lease_until_ms: Option<i64>,
    pub worker: Option<String>,
    pub result: Option<String>,
    pub error: Option<String>,
    pub cancel: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub finished_ms: Option<i64>,
}

/// The newest jobs first, at most `limit`, of `status` when given.
pub(crate) async fn list(
    db: &mut Db,
    status: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<JobRow>> {
    let mut query = mango_jobs::table
        .select(JobRow::as_select())
        .order((mango_jobs::created_ms.desc(), mango_jobs::id))
        .limit(limit)
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(mango_jobs::status.eq(status.to_owned()));
    }
    query.load(db).await
}

/// How many jobs have each status (`[metrics]`).
pub(crate) async fn counts(db: &mut Db) -> QueryResult<Vec<(String, i64)>> {
    mango_jobs::table
        .group_by(mango_jobs::status)
        .select((mango_jobs::status, diesel::dsl::count_star()))
        .order(mango_jobs::status)
        .load(db)
        .await
}

/// One job, by id.
pub(crate) async fn get(db: &mut Db, id: &str) -> QueryResult<Option<JobRow>> {
    mango_jobs::table
        .find(id)
        .select(JobRow::as_select())
        .first(db)
        .await
        .optional()
}

/// Why a job could not be retried or cancelled.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ActError {
    #[error("there is no job `{0}` (`run jobs` lists them)")]
    NotFound(String),
    #[error("the job `{id}` is {status}: only a failed or cancelled job is retried")]
    NotRetryable { id: String, status: String },
    #[error("the job `{id}` has ended ({status}): there is nothing to cancel")]
    Ended { id: String, status: String },
    #[error("the jobs' table could not be used: {0}")]
    Query(#[from] diesel::result::Error),
}

/// Queues a failed or cancelled job again, now, with its attempts counted from zero.
pub(crate) async fn retry(db: &mut Db, id: &str) -> Result<(), ActError> {
    let now = now_ms();
    let done = diesel::update(
        mango_jobs::table.filter(
            mango_jobs::id
                .eq(id)
                .and(mango_jobs::status.eq_any([status::FAILED, status::CANCELLED])),
        ),
    )
    .set((
        mango_jobs::status.eq(status::QUEUED),
        mango_jobs::attempts.eq(0),
        mango_jobs::run_after_ms.eq(now),
        mango_jobs::cancel.eq(false),
        mango_jobs::error.eq(None::<String>),
        mango_jobs::finished_ms.eq(None::<i64>),
        mango_jobs::updated_ms.eq(now),
    ))
    .execute(db)
    .await?;
    if done == 1 {
        return Ok(());
    }
    match get(db, id).await? {
        None => Err(ActError::NotFound(id.to_owned())),
        Some(row) => Err(ActError::NotRetryable {
            id: id.to_owned(),
            status: row.status,
        }),
    }
}

/// Cancels a job: a queued one at once; a running one is asked to stop (its worker
/// sees it when it next renews its lease, drops the run and rolls it back).
pub(crate) async fn cancel(db: &mut Db, id: &str) -> Result<&'static str, ActError> {
    let now = now_ms();
    let queued = diesel::update(
        mango_jobs::table.filter(
            mango_jobs::id
                .eq(id)
                .and(mango_jobs::status.eq(status::QUEUED)),
        ),
    )
    .set((
        mango_jobs::status.eq(status::CANCELLED),
        mango_jobs::error.eq("cancelled before it ran"),
        mango_jobs::finished_ms.eq(now),
        mango_jobs::updated_ms.eq(now),
    ))
    .execute(db)
    .await?;
    if queued == 1 {
        return Ok("cancelled");
    }
    let running = diesel::update(
        mango_jobs::table.filter(
            mango_jobs::id
                .eq(id)
                .and(mango_jobs::status.eq(status::RUNNING)),
        ),
    )
    .set((mango_jobs::cancel.eq(true), mango_jobs::updated_ms.eq(now)))
    .execute(db)
    .await?;
    if running == 1 {
        return Ok("asked to stop (its worker stops it within a third of [jobs] lease)");
    }
    match get(db, id).await? {
        None => Err(ActError::NotFound(id.to_owned())),
        Some(row) => Err(ActError::Ended {
            id: id.to_owned(),
            status: row.status,
        }),
    }
}
