//! Tool calls run as tasks (the MCP tasks extension, `io.modelcontextprotocol/tasks`).
//!
//! A call of a `#[tool(task)]` whose client declares the extension is answered at once
//! with a task handle, its row in `mango_tasks` written before (so that `tasks/get`
//! finds it on any replica). The call runs in this process, through the pipeline as
//! any call, in its own transaction; one that ends within 2 ms (most do) has its row
//! written once, as it ended, and its handle says so. Its progress (`ctx.progress`)
//! and the questions it asks (`ctx.elicit`, `ctx.sample`: the task is `input_required`
//! until `tasks/update` answers) are written to the row; so is its result.
//! `tasks/cancel` stops it: its future is dropped and its transaction rolled back
//! (unless it had begun to commit: then it completes). The process running a task
//! holds a lease on it; a process that dies leaves the lease to run out, and another
//! marks the task failed, saying so. Tasks are removed once `[tasks] ttl` has passed
//! since their creation.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rmcp::model::{
    CallToolResult, ClientCapabilities, DetailedTask, ErrorData, InputRequest, Task,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::Runtime;
use crate::call::{AskError, Asker, BoxFuture, Caller, Channel, LogFilter};
use crate::db::{Ended, QueryError};
use crate::registry::TaskMode;
use crate::state::State;
use crate::tasks::{TaskRow, mango_tasks, status};
use crate::util::{now_ms, random_hex};

/// What this process knows of a task it runs: what stops it, its progress, and its
/// questions and their answers. `tasks/get` and `tasks/update` here use it (on SQLite
/// the task's own transaction may hold the database); the row has it too, for the
/// other replicas, written when the database lets.
struct Live {
    stop: CancellationToken,
    progress: Arc<Mutex<Option<String>>>,
    asked: Mutex<BTreeMap<String, InputRequest>>,
    answered: Mutex<BTreeMap<String, Value>>,
    changed: tokio::sync::Notify,
}

/// The tasks this process runs, by id.
static RUNNING: LazyLock<Mutex<HashMap<String, Arc<Live>>>> = LazyLock::new(Default::default);

fn live(id: &str) -> Option<Arc<Live>> {
    RUNNING
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(id)
        .cloned()
}

/// How often a running task looks at its row (cancelled elsewhere? answers come?).
const LOOK: Duration = Duration::from_millis(250);

/// The tasks this process ran to their end, as their rows now say (an ended task's row
/// does not change until it expires): `tasks/get` of one of them is answered without
/// a read. The newest [`ENDED_KEPT`]; other replicas read the row.
static ENDED: LazyLock<Mutex<EndedTasks>> = LazyLock::new(Default::default);
const ENDED_KEPT: usize = 1024;

#[derive(Default)]
struct EndedTasks {
    rows: HashMap<String, TaskRow>,
    order: std::collections::VecDeque<String>,
}

impl EndedTasks {
    fn keep(&mut self, row: TaskRow) {
        if self.order.len() >= ENDED_KEPT
            && let Some(oldest) = self.order.pop_front()
        {
            self.rows.remove(&oldest);
        }
        self.order.push_back(row.id.clone());
        self.rows.insert(row.id.clone(), row);
    }
}

/// The ended task `id` as this process wrote it, while it has not expired.
fn ended(id: &str, now_ms: i64) -> Option<TaskRow> {
    ENDED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .rows
        .get(id)
        .filter(|row| row.expires_ms > now_ms)
        .cloned()
}

fn keep_ended(row: &TaskRow) {
    ENDED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .keep(row.clone());
}

/// How long a task-mode call may run before its handle is answered: a call that ends
/// within it (most do) has its row written once, as it ended.
const AT_ONCE: Duration = Duration::from_millis(2);

/// Whether this process has written a task's row (mango's tables are there): until it
/// has, a task's row is written before its call starts, so that a missing table fails
/// the call before it changes anything.
static ROWS_WRITTEN: AtomicBool = AtomicBool::new(false);

/// This process no longer runs the task `id`.
fn forget(id: &str) {
    RUNNING.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
}

/// A task's call that goes on past [`AT_ONCE`], or whose request went away while it
/// waited: [`Going::go`] (or dropping it) moves it onto a task of its own, which
/// writes its end.
struct Going {
    run: Option<BoxFuture<End>>,
    rt: Arc<Runtime>,
    first: Arc<FirstRow>,
    tool: String,
}

impl Going {
    fn go(&mut self) {
        let Some(run) = self.run.take() else { return };
        // Dropped with its runtime (the process is stopping): its lease runs out.
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (rt, first, tool) = (self.rt.clone(), self.first.clone(), self.tool.clone());
        handle.spawn(async move {
            let ended = run.await;
            let mut row = first.row.clone();
            if first.ensure().await.is_ok() {
                rt.write_end(&mut row, &first.lease, ended, &tool).await;
            }
            forget(&row.id);
        });
    }
}

impl Drop for Going {
    fn drop(&mut self) {
        self.go();
    }
}

/// Why a task's row could not be written.
#[derive(Debug, Clone, thiserror::Error)]
enum RowError {
    #[error("{0}")]
    Unavailable(String),
    #[error("{reason}{}", if *missing { " (run `cargo mango migrate`: it makes mango's tasks table)" } else { "" })]
    Insert { reason: String, missing: bool },
}

impl From<crate::db::CheckoutError> for RowError {
    fn from(e: crate::db::CheckoutError) -> RowError {
        RowError::Unavailable(e.to_string())
    }
}

/// How a task's call ended, as its row says it.
struct End {
    state: &'static str,
    message: Option<String>,
    result: Option<String>,
    error: Option<String>,
}

impl End {
    /// `row` as this end writes it, at `updated_ms`.
    fn fill(&self, row: &mut TaskRow, updated_ms: i64) {
        row.status = self.state.into();
        row.status_message.clone_from(&self.message);
        row.result.clone_from(&self.result);
        row.error.clone_from(&self.error);
        row.input_requests = None;
        row.updated_ms = updated_ms;
    }
}

/// A task's row, written once: as it ended, when its call ended within [`AT_ONCE`];
/// otherwise as working (with the questions asked so far), once the wait is over or
/// when the call needs the row first (it asks a question; on SQLite, it begins to
/// write, and its transaction would hold the database until it ends).
struct FirstRow {
    state: Arc<State>,
    /// The row's fields (its creation time is `updated_ms` too).
    row: TaskRow,
    tool: String,
    arguments: String,
    lease: String,
    lease_ms: i64,
    live: Arc<Live>,
    written: tokio::sync::OnceCell<Result<(), RowError>>,
}

impl FirstRow {
    fn written(&self) -> bool {
        matches!(self.written.get(), Some(Ok(())))
    }

    /// Writes the row as working, unless it is written.
    async fn ensure(&self) -> Result<(), RowError> {
        self.written.get_or_init(|| self.insert(None)).await.clone()
    }

    /// The handle of the task written as working.
    fn handle(&self, poll_ms: u64) -> Task {
        let mut row = self.row.clone();
        if !self
            .live
            .asked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
        {
            row.status = status::INPUT_REQUIRED.into();
        }
        row.task(poll_ms)
    }

    /// Inserts the row: as working, or as `end` says.
    async fn insert(&self, end: Option<&End>) -> Result<(), RowError> {
        let row = &self.row;
        let (state, message, result, error, asked, lease, until) = match end {
            Some(end) => (
                end.state,
                end.message.clone(),
                end.result.clone(),
                end.error.clone(),
                None,
                None,
                None,
            ),
            None => {
                let asked = self.live.asked.lock().unwrap_or_else(|p| p.into_inner());
                let (state, asked) = if asked.is_empty() {
                    (status::WORKING, None)
                } else {
                    (status::INPUT_REQUIRED, serde_json::to_string(&*asked).ok())
                };
                let said = self
                    .live
                    .progress
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .clone();
                (
                    state,
                    said,
                    None,
                    None,
                    asked,
                    Some(self.lease.as_str()),
                    Some(now_ms().saturating_add(self.lease_ms)),
                )
            }
        };
        let database = &self.state.database;
        let _turn = database.write_turn().await?;
        let mut db = database.get().await?;
        diesel::insert_into(mango_tasks::table)
            .values((
                mango_tasks::id.eq(&row.id),
                mango_tasks::tool.eq(&self.tool),
                mango_tasks::arguments.eq(&self.arguments),
                mango_tasks::owner.eq(&row.owner),
                mango_tasks::status.eq(state),
                mango_tasks::status_message.eq(message),
                mango_tasks::result.eq(result),
                mango_tasks::error.eq(error),
                mango_tasks::input_requests.eq(asked),
                mango_tasks::cancel.eq(false),
                mango_tasks::lease.eq(lease),
                mango_tasks::lease_until_ms.eq(until),
                mango_tasks::created_ms.eq(row.created_ms),
                mango_tasks::updated_ms.eq(row.updated_ms),
                mango_tasks::expires_ms.eq(row.expires_ms),
            ))
            .execute(&mut *db)
            .await
            .map_err(|e| RowError::Insert {
                missing: e.to_string().contains("no such table")
                    || e.to_string().contains("does not exist"),
                reason: e.to_string(),
            })?;
        AtomicBool::store(&ROWS_WRITTEN, true, Ordering::Release);
        Ok(())
    }
}

/// The error a caller gets for a task it cannot see (unknown, expired, another's).
fn no_such_task(id: &str) -> ErrorData {
    ErrorData::invalid_params(
        format!("there is no task `{id}` (unknown, expired, or another caller's)"),
        None,
    )
}

fn unavailable(e: impl std::fmt::Display) -> ErrorData {
    ErrorData::internal_error(format!("the tasks' table could not be used: {e}"), None)
}

/// The questions of one task: each is kept with the task (`input_required`) until
/// `tasks/update` answers it.
struct Questions {
    state: Arc<State>,
    id: String,
    caps: ClientCapabilities,
    next: AtomicUsize,
    live: Arc<Live>,
    first: Arc<FirstRow>,
}

impl Questions {
    /// The row's status and questions, for the other replicas (when the database lets:
    /// on SQLite the task's own transaction may hold it).
    async fn write(&self, status: &str, asked: Option<String>) {
        let Some(turn) = self.state.database.try_write_turn() else {
            return;
        };
        if let Ok(mut db) = self.state.database.get().await {
            let _ = diesel::update(mango_tasks::table.find(&self.id))
                .set((
                    mango_tasks::status.eq(status),
                    mango_tasks::input_requests.eq(asked),
                    mango_tasks::updated_ms.eq(now_ms()),
                ))
                .execute(&mut *db)
                .await;
        }
        drop(turn);
    }

    /// An answer another replica's `tasks/update` wrote to the row.
    async fn answer_in_row(&self, key: &str) -> Option<Value> {
        let mut db = self.state.database.get().await.ok()?;
        let answers: Option<String> = mango_tasks::table
            .find(&self.id)
            .select(mango_tasks::input_responses)
            .first(&mut *db)
            .await
            .ok()?;
        serde_json::from_str::<BTreeMap<String, Value>>(&answers?)
            .ok()?
            .remove(key)
    }
}

impl crate::call::TaskAsk for Questions {
    fn caps(&self) -> &ClientCapabilities {
        &self.caps
    }

    fn ask(self: Arc<Self>, request: InputRequest) -> BoxFuture<Result<Value, AskError>> {
        Box::pin(async move {
            // The client needs the handle to answer: the row first (its failure is the
            // handle's).
            let _ = self.first.ensure().await;
            let key = format!("q{}", self.next.fetch_add(1, Ordering::SeqCst));
            let asked = {
                let mut asked = self.live.asked.lock().unwrap_or_else(|p| p.into_inner());
                asked.insert(key.clone(), request);
                serde_json::to_string(&*asked).ok()
            };
            self.write(status::INPUT_REQUIRED, asked).await;
            loop {
                let answer = self
                    .live
                    .answered
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&key);
                let answer = match answer {
                    Some(answer) => Some(answer),
                    None => self.answer_in_row(&key).await,
                };
                if let Some(answer) = answer {
                    let left = {
                        let mut asked = self.live.asked.lock().unwrap_or_else(|p| p.into_inner());
                        asked.remove(&key);
                        (!asked.is_empty())
                            .then(|| serde_json::to_string(&*asked).ok())
                            .flatten()
                    };
                    let status = if left.is_some() {
                        status::INPUT_REQUIRED
                    } else {
                        status::WORKING
                    };
                    self.write(status, left).await;
                    return Ok(answer);
                }
                tokio::select! {
                    () = self.live.changed.notified() => {}
                    () = tokio::time::sleep(LOOK) => {}
                }
            }
        })
    }
}

impl Runtime {
    /// Whether a tool may run as a task (then the extension is advertised).
    pub(crate) fn has_task_tools(&self) -> bool {
        self.tools.has_task_tools()
    }

    /// The tool's task mode (`None`: no such tool).
    pub(crate) fn task_mode(&self, name: &str) -> Option<TaskMode> {
        self.tools.get(name).map(|t| t.entry.task)
    }

    /// The caller's key, to which a task belongs.
    fn owner(caller: &Caller) -> Option<String> {
        caller.identity.as_ref().map(crate::call::Identity::key)
    }

    /// A task's lease (`[tasks] lease`), in ms: renewed every third of it; a task whose
    /// lease ran out (its process died) is failed by another.
    fn task_lease_ms(&self) -> i64 {
        #[allow(clippy::cast_possible_truncation)]
        let ms = (self.settings().tasks.lease.clamp(0.3, 86_400.0) * 1000.0) as i64;
        ms
    }

    fn poll_ms(&self) -> u64 {
        let seconds = self.settings().tasks.poll.clamp(0.01, 3600.0);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ms = (seconds * 1000.0) as u64;
        ms
    }

    /// Makes the task of a call of `name` (its row written before this returns), and
    /// runs the call in this process. A call that ends within [`AT_ONCE`] has its row
    /// written once, as it ended (one write, not two); one still running then is
    /// written as working (on SQLite before the call's first write, which would hold
    /// the database) and goes on after the handle is answered.
    pub(crate) async fn start_task(
        self: &Arc<Self>,
        name: &str,
        arguments: serde_json::Map<String, Value>,
        caller: Caller,
        mut channel: Channel,
        caps: ClientCapabilities,
    ) -> Result<Task, ErrorData> {
        let now = now_ms();
        #[allow(clippy::cast_possible_truncation)]
        let ttl_ms = (self.settings().tasks.ttl.clamp(1.0, 1e9) * 1000.0) as i64;
        let id = random_hex(16);
        // The request has its answer (the handle): the call talks to the task's row.
        let progress: Arc<Mutex<Option<String>>> = Arc::default();
        channel.task_status = Some(progress.clone());
        channel.peer = None;
        channel.progress_token = None;
        channel.log = LogFilter::Nothing;
        let stop = CancellationToken::new();
        let here = Arc::new(Live {
            stop: stop.clone(),
            progress: progress.clone(),
            asked: Mutex::default(),
            answered: Mutex::default(),
            changed: tokio::sync::Notify::new(),
        });
        let row = TaskRow {
            id: id.clone(),
            owner: Self::owner(&caller),
            status: status::WORKING.into(),
            status_message: None,
            result: None,
            error: None,
            input_requests: None,
            created_ms: now,
            updated_ms: now,
            expires_ms: now.saturating_add(ttl_ms),
        };
        let first = Arc::new(FirstRow {
            state: self.state.clone(),
            row: row.clone(),
            tool: name.to_owned(),
            arguments: serde_json::to_string(&arguments).unwrap_or_default(),
            lease: random_hex(16),
            lease_ms: self.task_lease_ms(),
            live: here.clone(),
            written: tokio::sync::OnceCell::new(),
        });
        RUNNING
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), here.clone());
        channel.asker = Asker::Task(Arc::new(Questions {
            state: self.state.clone(),
            id: id.clone(),
            caps,
            next: AtomicUsize::new(0),
            live: here,
            first: first.clone(),
        }));
        if cfg!(feature = "sqlite") {
            let first = first.clone();
            channel.before_write = Some(Arc::new(move || {
                let first = first.clone();
                Box::pin(async move {
                    first
                        .ensure()
                        .await
                        .map_err(|e| crate::ToolError::new(format!("its task's row: {e}")))
                })
            }));
        }
        // Until a row has been written here, the row is written first: a missing table
        // then fails the call before it changes anything.
        if !AtomicBool::load(&ROWS_WRITTEN, Ordering::Acquire)
            && let Err(e) = first.ensure().await
        {
            forget(&id);
            return Err(unavailable(e));
        }
        // The call runs here while this waits for it; if it goes on longer, or this
        // request goes away meanwhile, it goes on on its own task (a client that goes
        // away does not stop it) and its end is written there.
        let mut going = Going {
            run: Some({
                let (rt, first, tool) = (self.clone(), first.clone(), name.to_owned());
                // Its span is made now, under the call's (a child of the call even
                // when it goes on after the answer).
                let span = {
                    let (name, id) = (tool.clone(), id.clone());
                    move || {
                        crate::telemetry::Spec::new(
                            format!("task {name}"),
                            crate::telemetry::Kind::Internal,
                        )
                        .attr("gen_ai.tool.name", name)
                        .attr("mango.task.id", id)
                    }
                };
                let run = crate::telemetry::within(span, async move {
                    rt.run_task(&first, &tool, arguments, caller, channel, progress, stop)
                        .await
                });
                let run: BoxFuture<End> = Box::pin(run);
                run
            }),
            rt: self.clone(),
            first: first.clone(),
            tool: name.to_owned(),
        };
        let ended = match going.run.as_mut() {
            Some(run) => tokio::select! {
                // A call that ends at its first poll sets no timer.
                biased;
                ended = run => Some(ended),
                () = tokio::time::sleep(AT_ONCE) => None,
            },
            None => None,
        };
        let Some(ended) = ended else {
            going.go();
            if let Err(e) = first.ensure().await {
                // Nobody will hear of it: stopped (rolled back).
                if let Some(live) = live(&id) {
                    live.stop.cancel();
                }
                return Err(unavailable(e));
            }
            return Ok(first.handle(self.poll_ms()));
        };
        // It ended here: nothing goes on.
        going.run = None;
        let mut row = row;
        let written = if first.written() {
            self.write_end(&mut row, &first.lease, ended, name).await;
            Ok(())
        } else {
            let mut mine = false;
            let inserted = first
                .written
                .get_or_init(|| {
                    mine = true;
                    first.insert(Some(&ended))
                })
                .await
                .clone();
            if mine && inserted.is_ok() {
                ended.fill(&mut row, first.row.updated_ms);
                keep_ended(&row);
            }
            inserted.map_err(|e| (ended.state, e))
        };
        forget(&id);
        match written {
            Ok(()) => Ok(row.task(self.poll_ms())),
            Err((state, e)) => Err(unavailable(format!(
                "the call ended ({state}) but its task could not be written: {e}"
            ))),
        }
    }

    /// Runs a task's call to its end (or its cancellation): how it ended.
    #[allow(clippy::too_many_arguments)]
    async fn run_task(
        self: &Arc<Self>,
        first: &FirstRow,
        tool: &str,
        arguments: serde_json::Map<String, Value>,
        caller: Caller,
        channel: Channel,
        progress: Arc<Mutex<Option<String>>>,
        stop: CancellationToken,
    ) -> End {
        let commit = channel.commit.clone();
        let call = self.call_tool(tool, arguments, caller, channel);
        let watch = self.watch_task(first, &progress, &stop);
        let ended = commit.unless(watch, call).await;
        let (state, result, error): (&'static str, Option<String>, Option<String>) = match ended {
            Ended::Done(Some(result)) | Ended::Late(Some(result)) => {
                let result: CallToolResult = result;
                (status::COMPLETED, serde_json::to_string(&result).ok(), None)
            }
            Ended::Done(None) | Ended::Late(None) => (
                status::FAILED,
                None,
                Some(
                    serde_json::json!({"code": -32602, "message": self.unknown_tool(tool)})
                        .to_string(),
                ),
            ),
            Ended::Stopped => (status::CANCELLED, None, None),
        };
        let message = match state {
            status::CANCELLED => Some(
                "cancelled: the call was stopped and what it changed was rolled back".to_owned(),
            ),
            _ => progress.lock().unwrap_or_else(|p| p.into_inner()).take(),
        };
        End {
            state,
            message,
            result,
            error,
        }
    }

    /// Writes how a task whose row is written ended (unless another process took its
    /// lease, thinking this one dead: then the row says what the other found).
    async fn write_end(&self, row: &mut TaskRow, lease: &str, end: End, tool: &str) {
        let id = row.id.clone();
        let updated_ms = now_ms();
        let written = async {
            let _turn = self.database().write_turn().await?;
            let mut db = self.database().get().await?;
            diesel::update(
                mango_tasks::table
                    .filter(mango_tasks::id.eq(&id).and(mango_tasks::lease.eq(lease))),
            )
            .set((
                mango_tasks::status.eq(end.state),
                mango_tasks::status_message.eq(&end.message),
                mango_tasks::result.eq(&end.result),
                mango_tasks::error.eq(&end.error),
                mango_tasks::input_requests.eq(None::<String>),
                mango_tasks::lease.eq(None::<String>),
                mango_tasks::lease_until_ms.eq(None::<i64>),
                mango_tasks::updated_ms.eq(updated_ms),
            ))
            .execute(&mut *db)
            .await
            .map_err(QueryError::from)
        };
        match written.await {
            // Its row, as written: what `tasks/get` answers here from now on.
            Ok(1) => {
                end.fill(row, updated_ms);
                keep_ended(row);
            }
            Ok(_) => {}
            Err(e) => tracing::error!(
                task = id,
                tool,
                "the end of a task could not be written ({}): {e}",
                end.state
            ),
        }
    }

    /// Until the task is to stop: `tasks/cancel` here (the token) or on another replica
    /// (the row's flag), or its TTL passed. Meanwhile writes its progress and renews
    /// its lease.
    async fn watch_task(
        &self,
        first: &FirstRow,
        progress: &Mutex<Option<String>>,
        stop: &CancellationToken,
    ) {
        let (id, lease) = (first.row.id.as_str(), first.lease.as_str());
        let mut said: Option<String> = None;
        let mut renewed = tokio::time::Instant::now();
        let lease_ms = self.task_lease_ms();
        let every = Duration::from_millis(u64::try_from(lease_ms / 3).unwrap_or(10_000));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(LOOK) => {}
            }
            if !first.written() {
                // Not written yet (its handle is not answered): nothing to renew, and
                // nobody else can have cancelled it.
                continue;
            }
            let now_said = progress.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let renew = renewed.elapsed() >= every;
            if now_said != said || renew {
                // SQLite: only when no writer holds the database (the task's own call
                // may); the next look tries again.
                let turn = if cfg!(feature = "sqlite") {
                    self.database().try_write_turn()
                } else {
                    Some(None)
                };
                if let Some(turn) = turn
                    && let Ok(mut db) = self.database().get().await
                {
                    let now = now_ms();
                    let done = diesel::update(
                        mango_tasks::table
                            .filter(mango_tasks::id.eq(id).and(mango_tasks::lease.eq(lease))),
                    )
                    .set((
                        mango_tasks::status_message.eq(&now_said),
                        mango_tasks::lease_until_ms.eq(now.saturating_add(lease_ms)),
                        mango_tasks::updated_ms.eq(now),
                    ))
                    .execute(&mut *db)
                    .await;
                    drop(turn);
                    if done.is_ok() {
                        said = now_said;
                        renewed = tokio::time::Instant::now();
                    }
                }
            }
            // Cancelled on another replica, or expired.
            if let Ok(mut db) = self.database().get().await {
                let row: Option<(bool, i64)> = mango_tasks::table
                    .find(id)
                    .select((mango_tasks::cancel, mango_tasks::expires_ms))
                    .first(&mut *db)
                    .await
                    .optional()
                    .unwrap_or(Some((false, i64::MAX)));
                match row {
                    Some((false, expires)) if expires > now_ms() => {}
                    _ => return,
                }
            }
        }
    }

    /// `tasks/get`: the caller's task, as it is now.
    pub(crate) async fn get_task(
        &self,
        id: &str,
        caller: &Caller,
    ) -> Result<DetailedTask, ErrorData> {
        let now = now_ms();
        if let Some(row) = ended(id, now)
            && row.owner == Self::owner(caller)
        {
            return Ok(row.detailed(self.poll_ms()));
        }
        let mut db = self.database().get().await.map_err(unavailable)?;
        let row = crate::tasks::get(&mut db, id, now)
            .await
            .map_err(unavailable)?
            .filter(|row| row.owner == Self::owner(caller))
            .ok_or_else(|| no_such_task(id))?;
        let mut row = row;
        if let Some(here) = live(id)
            && matches!(
                row.status.as_str(),
                status::WORKING | status::INPUT_REQUIRED
            )
        {
            // Running here: what the process knows is newer than the row.
            let asked = here.asked.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if asked.is_empty() {
                row.status = status::WORKING.into();
                row.input_requests = None;
            } else {
                row.status = status::INPUT_REQUIRED.into();
                row.input_requests = serde_json::to_string(&asked).ok();
            }
            if let Some(said) = here
                .progress
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
            {
                row.status_message = Some(said);
            }
        }
        Ok(row.detailed(self.poll_ms()))
    }

    /// `tasks/update`: the client's answers to the task's questions (answers to
    /// questions it has not asked, or has had answered, are ignored, as the extension
    /// says).
    pub(crate) async fn update_task(
        &self,
        id: &str,
        caller: &Caller,
        responses: BTreeMap<String, Value>,
    ) -> Result<(), ErrorData> {
        if let Some(here) = live(id) {
            // Running here: the answers go to the question that waits (after the
            // owner's check).
            self.get_task(id, caller).await?;
            {
                let asked = here.asked.lock().unwrap_or_else(|p| p.into_inner());
                let mut answered = here.answered.lock().unwrap_or_else(|p| p.into_inner());
                for (key, answer) in responses {
                    if asked.contains_key(&key) {
                        answered.insert(key, answer);
                    }
                }
            }
            here.changed.notify_waiters();
            return Ok(());
        }
        let _turn = self.database().write_turn().await.map_err(unavailable)?;
        let mut db = self.database().get().await.map_err(unavailable)?;
        let row: Option<(Option<String>, Option<String>, Option<String>)> = mango_tasks::table
            .find(id)
            .filter(mango_tasks::expires_ms.gt(now_ms()))
            .select((
                mango_tasks::owner,
                mango_tasks::input_requests,
                mango_tasks::input_responses,
            ))
            .first(&mut *db)
            .await
            .optional()
            .map_err(unavailable)?;
        let Some((_, asked, answered)) = row.filter(|r| r.0 == Self::owner(caller)) else {
            return Err(no_such_task(id));
        };
        let asked: BTreeMap<String, Value> = asked
            .and_then(|a| serde_json::from_str(&a).ok())
            .unwrap_or_default();
        let mut answered: BTreeMap<String, Value> = answered
            .and_then(|a| serde_json::from_str(&a).ok())
            .unwrap_or_default();
        let mut new = false;
        for (key, answer) in responses {
            if asked.contains_key(&key) && !answered.contains_key(&key) {
                answered.insert(key, answer);
                new = true;
            }
        }
        if new {
            diesel::update(mango_tasks::table.find(id))
                .set((
                    mango_tasks::input_responses
                        .eq(serde_json::to_string(&answered).unwrap_or_default()),
                    mango_tasks::updated_ms.eq(now_ms()),
                ))
                .execute(&mut *db)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    /// `tasks/cancel`: stops the caller's task (at once when it runs here; within a
    /// look, 250 ms, on another replica).
    pub(crate) async fn cancel_task(&self, id: &str, caller: &Caller) -> Result<(), ErrorData> {
        if let Some(here) = live(id) {
            // Running here: stopped at once (its end writes `cancelled`).
            self.get_task(id, caller).await?;
            here.stop.cancel();
            return Ok(());
        }
        {
            let _turn = self.database().write_turn().await.map_err(unavailable)?;
            let mut db = self.database().get().await.map_err(unavailable)?;
            let owner = Self::owner(caller);
            let found = crate::tasks::get(&mut db, id, now_ms())
                .await
                .map_err(unavailable)?
                .filter(|row| row.owner == owner)
                .ok_or_else(|| no_such_task(id))?;
            if matches!(
                found.status.as_str(),
                status::WORKING | status::INPUT_REQUIRED
            ) {
                diesel::update(mango_tasks::table.find(id))
                    .set((
                        mango_tasks::cancel.eq(true),
                        mango_tasks::updated_ms.eq(now_ms()),
                    ))
                    .execute(&mut *db)
                    .await
                    .map_err(unavailable)?;
            }
        }
        Ok(())
    }

    /// The tasks whose process stopped renewing its lease (it died): failed, saying
    /// so; and the tasks past their TTL: removed.
    pub(crate) async fn look_after_tasks(&self) -> Result<(), QueryError> {
        let now = now_ms();
        let _turn = self.database().write_turn().await?;
        let mut db = self.database().get().await?;
        let error = serde_json::json!({
            "code": -32603,
            "message": "the server running this task stopped before it finished (killed, or its machine went down); what the call changed was rolled back: call the tool again",
        })
        .to_string();
        // Not those this process runs: on SQLite a task whose own transaction holds the
        // database cannot renew its lease, and is still alive.
        let here: Vec<String> = RUNNING
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        let failed = diesel::update(
            mango_tasks::table.filter(
                mango_tasks::status
                    .eq_any([status::WORKING, status::INPUT_REQUIRED])
                    .and(mango_tasks::lease_until_ms.lt(now))
                    .and(mango_tasks::id.ne_all(here)),
            ),
        )
        .set((
            mango_tasks::status.eq(status::FAILED),
            mango_tasks::error.eq(&error),
            mango_tasks::lease.eq(None::<String>),
            mango_tasks::lease_until_ms.eq(None::<i64>),
            mango_tasks::updated_ms.eq(now),
        ))
        .execute(&mut *db)
        .await?;
        if failed > 0 {
            tracing::warn!(failed, "tasks whose server stopped were marked failed");
        }
        diesel::delete(mango_tasks::table.filter(mango_tasks::expires_ms.lt(now)))
            .execute(&mut *db)
            .await?;
        Ok(())
    }

    /// Looks after the tasks every third of `[tasks] lease` (at most every 10 s), in
    /// `serve`.
    pub(crate) fn keep_tasks(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        if !self.has_task_tools() {
            return None;
        }
        let rt = self.clone();
        let every =
            Duration::from_millis(u64::try_from(self.task_lease_ms() / 3).unwrap_or(10_000))
                .min(Duration::from_secs(10));
        Some(tokio::spawn(async move {
            loop {
                if let Err(e) = rt.look_after_tasks().await {
                    tracing::warn!("tasks: could not look after them: {e}");
                }
                tokio::time::sleep(every).await;
            }
        }))
    }
}
