//! Tool calls run as tasks (the MCP tasks extension, `io.modelcontextprotocol/tasks`):
//! the rows of `mango_tasks` (mango's own migration, made by `migrate` when a tool says
//! `#[tool(task)]`), and how a row reads as the extension's `DetailedTask`.
//!
//! A task's row is written before its handle is returned (a `tasks/get` on any replica
//! finds it), kept up to date by the process that runs it (status, progress, questions
//! asked, result), and removed once its TTL (`[tasks] ttl`) has passed.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rmcp::model::{DetailedTask, JsonObject, Task, TaskPayload, TaskStatus};

use crate::db::Db;

diesel::table! {
    mango_tasks (id) {
        id -> Text,
        tool -> Text,
        arguments -> Text,
        owner -> Nullable<Text>,
        status -> Text,
        status_message -> Nullable<Text>,
        result -> Nullable<Text>,
        error -> Nullable<Text>,
        input_requests -> Nullable<Text>,
        input_responses -> Nullable<Text>,
        cancel -> Bool,
        lease -> Nullable<Text>,
        lease_until_ms -> Nullable<BigInt>,
        created_ms -> BigInt,
        updated_ms -> BigInt,
        expires_ms -> BigInt,
    }
}

/// mango's own migration of the tasks' table, applied with the apps' when a tool may
/// run as a task.
#[cfg(feature = "sqlite")]
pub(crate) static MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/sqlite-tasks");
#[cfg(feature = "postgres")]
pub(crate) static MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/postgres-tasks");

/// The states, as the extension names them.
pub(crate) mod status {
    pub const WORKING: &str = "working";
    pub const INPUT_REQUIRED: &str = "input_required";
    pub const COMPLETED: &str = "completed";
    pub const FAILED: &str = "failed";
    pub const CANCELLED: &str = "cancelled";
}

/// One row, as `tasks/get` reads it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mango_tasks)]
pub(crate) struct TaskRow {
    pub id: String,
    pub owner: Option<String>,
    pub status: String,
    pub status_message: Option<String>,
    pub result: Option<String>,
    pub error: Option<String>,
    pub input_requests: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub expires_ms: i64,
}

/// An ISO 8601 time (UTC, milliseconds) of `ms` since the epoch.
pub(crate) fn iso(ms: i64) -> String {
    let when = crate::builtin::audit::when(ms);
    format!("{}Z", when.replacen(' ', "T", 1))
}

fn object(text: Option<&str>) -> JsonObject {
    text.and_then(|t| serde_json::from_str::<JsonObject>(t).ok())
        .unwrap_or_default()
}

impl TaskRow {
    /// The row as the extension's `DetailedTask`, with its TTL and poll interval.
    pub(crate) fn detailed(&self, poll_ms: u64) -> DetailedTask {
        let payload = match self.status.as_str() {
            status::INPUT_REQUIRED => TaskPayload::InputRequired {
                input_requests: self
                    .input_requests
                    .as_deref()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or_default(),
            },
            status::COMPLETED => TaskPayload::Completed {
                result: object(self.result.as_deref()),
            },
            status::FAILED => TaskPayload::Failed {
                error: object(self.error.as_deref()),
            },
            status::CANCELLED => TaskPayload::Cancelled,
            _ => TaskPayload::Working,
        };
        DetailedTask::new(self.task(poll_ms), payload)
    }

    /// The row as the extension's `Task` (the handle's seed, and `tasks/get`'s base).
    pub(crate) fn task(&self, poll_ms: u64) -> Task {
        let state = match self.status.as_str() {
            status::INPUT_REQUIRED => TaskStatus::InputRequired,
            status::COMPLETED => TaskStatus::Completed,
            status::FAILED => TaskStatus::Failed,
            status::CANCELLED => TaskStatus::Cancelled,
            _ => TaskStatus::Working,
        };
        let ttl = u64::try_from(self.expires_ms.saturating_sub(self.created_ms)).unwrap_or(0);
        let mut task = Task::new(
            self.id.clone(),
            state,
            iso(self.created_ms),
            iso(self.updated_ms),
        )
        .with_ttl_ms(ttl)
        .with_poll_interval_ms(poll_ms);
        if let Some(message) = &self.status_message {
            task = task.with_status_message(message.clone());
        }
        task
    }
}

/// How many tasks have each status (`[metrics]`).
pub(crate) async fn counts(db: &mut Db) -> QueryResult<Vec<(String, i64)>> {
    mango_tasks::table
        .group_by(mango_tasks::status)
        .select((mango_tasks::status, diesel::dsl::count_star()))
        .order(mango_tasks::status)
        .load(db)
        .await
}

/// The task `id`, unless it has expired.
pub(crate) async fn get(db: &mut Db, id: &str, now_ms: i64) -> QueryResult<Option<TaskRow>> {
    mango_tasks::table
        .find(id)
        .filter(mango_tasks::expires_ms.gt(now_ms))
        .select(TaskRow::as_select())
        .first(db)
        .await
        .optional()
}

/// One row of `mango_tasks`, as `run tasks` and the admin show it.
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize)]
#[diesel(table_name = mango_tasks)]
pub(crate) struct TaskListRow {
    pub id: String,
    pub tool: String,
    pub arguments: String,
    pub owner: Option<String>,
    pub status: String,
    pub status_message: Option<String>,
    pub result: Option<String>,
    pub error: Option<String>,
    pub cancel: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub expires_ms: i64,
}

/// The states a task may be in (`run tasks --status`, the admin's filter).
pub(crate) const STATES: [&str; 5] = [
    status::WORKING,
    status::INPUT_REQUIRED,
    status::COMPLETED,
    status::FAILED,
    status::CANCELLED,
];

/// The newest tasks first (those not expired), at most `limit`, of `status` when given.
pub(crate) async fn list(
    db: &mut Db,
    status: Option<&str>,
    limit: i64,
    now_ms: i64,
) -> QueryResult<Vec<TaskListRow>> {
    let mut query = mango_tasks::table
        .select(TaskListRow::as_select())
        .filter(mango_tasks::expires_ms.gt(now_ms))
        .order((mango_tasks::created_ms.desc(), mango_tasks::id))
        .limit(limit)
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(mango_tasks::status.eq(status.to_owned()));
    }
    query.load(db).await
}

/// Why a task could not be cancelled from the command line or the admin.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CancelError {
    #[error("there is no task `{0}` (`run tasks` lists them; expired ones are removed)")]
    NotFound(String),
    #[error("the task `{id}` has ended ({status}): there is nothing to cancel")]
    Ended { id: String, status: String },
    #[error("the tasks' table could not be used: {0}")]
    Query(#[from] diesel::result::Error),
}

/// Asks a working (or input-waiting) task to stop: the process running it sees the
/// flag within a quarter of a second, drops the call (rolled back) and marks it
/// `cancelled`.
pub(crate) async fn cancel(db: &mut Db, id: &str, now_ms: i64) -> Result<(), CancelError> {
    let asked = diesel::update(
        mango_tasks::table.filter(
            mango_tasks::id
                .eq(id)
                .and(mango_tasks::expires_ms.gt(now_ms))
                .and(mango_tasks::status.eq_any([status::WORKING, status::INPUT_REQUIRED])),
        ),
    )
    .set((
        mango_tasks::cancel.eq(true),
        mango_tasks::updated_ms.eq(now_ms),
    ))
    .execute(db)
    .await?;
    if asked == 1 {
        return Ok(());
    }
    match get(db, id, now_ms).await? {
        None => Err(CancelError::NotFound(id.to_owned())),
        Some(row) => Err(CancelError::Ended {
            id: id.to_owned(),
            status: row.status,
        }),
    }
}
