//! `[metrics]`'s listener: `GET /metrics` on a port of its own, beside the server.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::metrics::{Counted, Gauges, Pool};
use crate::runtime::{ErrorKind, Runtime, StartError};

/// The tables a scrape counts by status.
enum Table {
    Jobs,
    Tasks,
}

/// How long a scrape waits for the database's counts of jobs and tasks.
const COUNTS: Duration = Duration::from_secs(2);

/// `[metrics]`' listener when enabled, bound before anything else starts (a port that
/// is taken stops start-up, as the MCP port does).
pub(super) async fn bind(runtime: &Runtime) -> Result<Option<tokio::net::TcpListener>, StartError> {
    let s = &runtime.settings().metrics;
    if !s.enabled {
        return Ok(None);
    }
    let addr = format!("{}:{}", s.host, s.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| ErrorKind::Bind {
            addr: format!("{addr} ([metrics] host and port)"),
            source,
        })?;
    Ok(Some(listener))
}

/// Serves `/metrics` on `listener` until the task is aborted.
pub(super) fn serve(
    runtime: Arc<Runtime>,
    listener: tokio::net::TcpListener,
) -> tokio::task::JoinHandle<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!("metrics for Prometheus at http://{addr}/metrics");
    }
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let runtime = runtime.clone();
            async move { scrape(&runtime).await }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the metrics listener stopped");
        }
    })
}

async fn scrape(runtime: &Runtime) -> axum::response::Response {
    let Some(metrics) = &runtime.state.metrics else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let text = metrics.render(&gauges(runtime).await);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// What a scrape reads beside the counters.
async fn gauges(runtime: &Runtime) -> Gauges {
    let database = runtime.database();
    let (open, idle, max) = database.pool_status();
    let mut gauges = Gauges {
        pool: Some(Pool {
            open: open as u64,
            idle: idle as u64,
            waiting: database.pool_waiting() as u64,
            max: max as u64,
        }),
        ..Gauges::default()
    };
    if crate::builtin::Builtin::Audit.listed(runtime.settings()) {
        gauges.audit = Some(crate::builtin::audit::queued(&runtime.state));
    }
    let jobs = Runtime::has_jobs();
    let tasks = runtime.tools.has_task_tools();
    if jobs || tasks {
        // Neither counted, with why.
        let neither = |why: String| {
            (
                jobs.then(|| Counted::Unanswered(why.clone())),
                tasks.then(|| Counted::Unanswered(why.clone())),
            )
        };
        let counted = tokio::time::timeout(COUNTS, async {
            let mut db = match database.get().await {
                Ok(db) => db,
                Err(e) => return neither(e.to_string()),
            };
            let mut count = async |wanted: bool, table: Table| -> Option<Counted> {
                if !wanted {
                    return None;
                }
                let rows = match table {
                    Table::Jobs => crate::jobs::counts(&mut db).await,
                    Table::Tasks => crate::tasks::counts(&mut db).await,
                };
                Some(match rows {
                    Ok(rows) => Counted::ByStatus(rows),
                    Err(e) => Counted::Unanswered(e.to_string()),
                })
            };
            let jobs = count(jobs, Table::Jobs).await;
            let tasks = count(tasks, Table::Tasks).await;
            (jobs, tasks)
        })
        .await;
        (gauges.jobs, gauges.tasks) = counted
            .unwrap_or_else(|_| neither(format!("the database did not answer within {COUNTS:?}")));
    }
    gauges
}
