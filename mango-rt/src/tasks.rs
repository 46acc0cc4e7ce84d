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
