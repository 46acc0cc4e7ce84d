//! The jobs' commands: `worker` (run the apps' jobs until stopped) and `jobs` (list,
//! retry, cancel, or run the due ones once); and `tasks` (list the tasks of
//! `#[tool(task)]` calls, cancel one).

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::commands::parse;
use crate::call::{BoxFuture, Output};
use crate::jobs::{self, JobRow};
use crate::runtime::Runtime;
use crate::tasks::{self, TaskListRow};

fn no_jobs() -> Output {
    Output::Error(
        "no app has a #[job]: add one (`#[mango_rt::job] async fn …`), then `cargo mango migrate`"
            .into(),
    )
}

/// `worker`.
#[derive(Args)]
pub(super) struct WorkerArgs {
    /// How many jobs run at once (default: [jobs] workers, at least 1).
    #[arg(long)]
    workers: Option<usize>,
}

/// Runs the apps' jobs until SIGTERM or Ctrl-C; the runs going then get
/// `shutdown_timeout` to finish, and those left are stopped and released.
pub(super) fn worker(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: WorkerArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if !Runtime::has_jobs() {
            return no_jobs();
        }
        let count = args.workers.unwrap_or(rt.settings().jobs.workers).max(1);
        let workers = rt.start_workers(count);
        tracing::info!("running the apps' jobs with {count} worker(s); SIGTERM or Ctrl-C stops");
        signalled().await;
        let limit = Duration::from_secs(rt.settings().server.shutdown_timeout);
        tracing::info!("stopping: the jobs running get {limit:?} ([server] shutdown_timeout)");
        workers.stop(limit).await;
        Output::Empty
    })
}

/// Until SIGTERM or Ctrl-C.
async fn signalled() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// `jobs`.
#[derive(Args)]
pub(super) struct JobsArgs {
    /// Nothing (list), `retry <id>`, `cancel <id>`, or `run` (run the due jobs now, in
    /// this process, then exit).
    action: Option<String>,
    /// The job, for `retry` and `cancel`.
    id: Option<String>,
    /// Only the jobs in this state: queued, running, completed, failed, cancelled.
    #[arg(long)]
    status: Option<String>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 50)]
    limit: i64,
    /// As JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn jobs(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: JobsArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if !Runtime::has_jobs() {
            return no_jobs();
        }
        let mut db = match rt.database().get().await {
            Ok(db) => db,
            Err(e) => return Output::Error(e.to_string()),
        };
        match (args.action.as_deref(), args.id.as_deref()) {
            (None | Some("list"), None) => {
                const STATES: [&str; 5] = ["queued", "running", "completed", "failed", "cancelled"];
                if let Some(s) = &args.status
                    && !STATES.contains(&s.as_str())
                {
                    return Output::Error(format!(
                        "--status {s}: a job is one of {}",
                        STATES.join(", ")
                    ));
                }
                match jobs::list(&mut db, args.status.as_deref(), args.limit.clamp(1, 10_000)).await
                {
                    Ok(rows) if args.json => Output::json(&rows),
                    Ok(rows) => Output::Text(listing(&rows)),
                    Err(e) => Output::Error(format!("the jobs could not be listed: {e}")),
                }
            }
            (Some("retry"), Some(id)) => match jobs::retry(&mut db, id).await {
                Ok(()) => Output::Text(format!("job {id} queued again")),
                Err(e) => Output::Error(e.to_string()),
            },
            (Some("cancel"), Some(id)) => match jobs::cancel(&mut db, id).await {
                Ok(what) => Output::Text(format!("job {id} {what}")),
                Err(e) => Output::Error(e.to_string()),
            },
            (Some("run"), None) => {
                drop(db);
                match rt.run_due_jobs().await {
                    Ok(n) => Output::Text(format!("{n} job(s) ran")),
                    Err(e) => Output::Error(format!("the due jobs could not be run: {e}")),
                }
            }
            (Some(action @ ("retry" | "cancel")), None) => Output::Error(format!(
                "name the job: jobs {action} <id> (`jobs` lists them)"
            )),
            (Some(other), _) => Output::Error(format!(
                "`jobs {other}`: expected `jobs` (list), `jobs retry <id>`, `jobs cancel <id>` or `jobs run`"
            )),
            (None, Some(_)) => {
                Output::Error("expected `jobs retry <id>` or `jobs cancel <id>`".into())
            }
        }
    })
}

/// One line per job.
fn listing(rows: &[JobRow]) -> String {
    if rows.is_empty() {
        return "no jobs\n".into();
    }
    rows.iter()
        .map(|j| {
            let mut line = format!(
                "{}  {}  {}  attempts {}  args {}",
                j.id,
                j.name,
                j.status,
                j.attempts,
                crate::util::clip(&j.arguments, 200)
            );
            if let Some(error) = &j.error {
                line.push_str(&format!("  error: {}", crate::util::clip(error, 300)));
            }
            if let Some(result) = &j.result {
                line.push_str(&format!("  result: {}", crate::util::clip(result, 200)));
            }
            line.push('\n');
            line
        })
        .collect()
}

/// `tasks`.
#[derive(Args)]
pub(super) struct TasksArgs {
    /// Nothing (list), or `cancel <id>`.
    action: Option<String>,
    /// The task, for `cancel`.
    id: Option<String>,
    /// Only the tasks in this state: working, input_required, completed, failed,
    /// cancelled.
    #[arg(long)]
    status: Option<String>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 50)]
    limit: i64,
    /// As JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn tasks(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: TasksArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if !rt.has_task_tools() {
            return Output::Error(
                "no tool runs as a task: mark one `#[mango_rt::tool(task)]`, then `cargo mango migrate`"
                    .into(),
            );
        }
        let mut db = match rt.database().get().await {
            Ok(db) => db,
            Err(e) => return Output::Error(e.to_string()),
        };
        let now = crate::util::now_ms();
        match (args.action.as_deref(), args.id.as_deref()) {
            (None | Some("list"), None) => {
                if let Some(s) = &args.status
                    && !tasks::STATES.contains(&s.as_str())
                {
                    return Output::Error(format!(
                        "--status {s}: a task is one of {}",
                        tasks::STATES.join(", ")
                    ));
                }
                match tasks::list(
                    &mut db,
                    args.status.as_deref(),
                    args.limit.clamp(1, 10_000),
                    now,
                )
                .await
                {
                    Ok(rows) if args.json => Output::json(&rows),
                    Ok(rows) => Output::Text(task_listing(&rows)),
                    Err(e) => Output::Error(format!("the tasks could not be listed: {e}")),
                }
            }
            (Some("cancel"), Some(id)) => match tasks::cancel(&mut db, id, now).await {
                Ok(()) => Output::Text(format!(
                    "task {id} asked to stop (the server running it stops it within a quarter of a second, rolled back)"
                )),
                Err(e) => Output::Error(e.to_string()),
            },
            (Some("cancel"), None) => {
                Output::Error("name the task: tasks cancel <id> (`tasks` lists them)".into())
            }
            (Some(other), _) => Output::Error(format!(
                "`tasks {other}`: expected `tasks` (list) or `tasks cancel <id>`"
            )),
            (None, Some(_)) => Output::Error("expected `tasks cancel <id>`".into()),
        }
    })
}

/// One line per task.
fn task_listing(rows: &[TaskListRow]) -> String {
    if rows.is_empty() {
        return "no tasks\n".into();
    }
    rows.iter()
        .map(|t| {
            let mut line = format!(
                "{}  {}  {}  owner {}  args {}",
                t.id,
                t.tool,
                t.status,
                t.owner.as_deref().unwrap_or("-"),
                crate::util::clip(&t.arguments, 200)
            );
            if let Some(said) = &t.status_message {
                line.push_str(&format!("  ({})", crate::util::clip(said, 200)));
            }
            if let Some(error) = &t.error {
                line.push_str(&format!("  error: {}", crate::util::clip(error, 300)));
            }
            if let Some(result) = &t.result {
                line.push_str(&format!("  result: {}", crate::util::clip(result, 200)));
            }
            line.push('\n');
            line
        })
        .collect()
}
