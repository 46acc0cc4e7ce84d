//! `mango.audit`: one row per call (tool call, resource read, prompt get, management
//! command) in the table `mango_audit`, created by mango's own migration.
//!
//! A call that wrote in a transaction and succeeded writes its row in that transaction,
//! just before the commit (the middleware ends the transaction, as the pipeline would):
//! the call's work is never committed without its row, also if the server is killed.
//! Every other call (it changed nothing, or it failed and was rolled back, or it ran
//! without a transaction) has its row written after it ended, through a queue to one
//! writer per server that inserts them in batches: a rolled-back call is still logged,
//! as failed, and the log never waits on the call's locks. A full queue makes calls
//! wait rather than lose rows, and the queue is written out before the shutdown hooks
//! run; a crash loses what is queued (at most the last moments' rows of calls that
//! committed nothing).

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::call::{Kind, Output};
use crate::chain::{Next, Request, Response, StepFuture};
use crate::db::{Database, QueryError};
use crate::state::State;
use crate::util::{clip, secret_like};

diesel::table! {
    mango_audit (id) {
        id -> BigInt,
        at_ms -> BigInt,
        caller -> Nullable<Text>,
        transport -> Text,
        kind -> Text,
        app -> Text,
        name -> Text,
        arguments -> Text,
        outcome -> Text,
        error -> Nullable<Text>,
        duration_ms -> Double,
    }
}

/// mango's own migrations (the audit table), applied with the apps' when `mango.audit`
/// is listed.
#[cfg(feature = "sqlite")]
pub(crate) static MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
pub(crate) static MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/postgres");

/// One call, as logged.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = mango_audit, treat_none_as_default_value = false)]
pub(crate) struct Row {
    pub at_ms: i64,
    pub caller: Option<String>,
    pub transport: &'static str,
    pub kind: &'static str,
    pub app: &'static str,
    pub name: &'static str,
    pub arguments: String,
    pub outcome: &'static str,
    pub error: Option<String>,
    pub duration_ms: f64,
}

/// `value` with every field named like a secret, or listed in `[audit] redact`, set to
/// `"[redacted]"`, at any depth.
pub(crate) fn redact(value: &Value, listed: &[String]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let hidden = secret_like(k) || listed.iter().any(|l| l.eq_ignore_ascii_case(k));
                    (
                        k.clone(),
                        if hidden {
                            Value::String("[redacted]".into())
                        } else {
                            redact(v, listed)
                        },
                    )
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact(v, listed)).collect()),
        other => other.clone(),
    }
}

/// A call's arguments as the log writes them: JSON with the secrets redacted, in one
/// pass over the call's own arguments (no copy of them first).
struct Redacted<'a> {
    map: &'a serde_json::Map<String, Value>,
    listed: &'a [String],
}

/// A value inside the arguments, redacted likewise.
struct RedactedValue<'a> {
    value: &'a Value,
    listed: &'a [String],
}

impl serde::Serialize for Redacted<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut out = s.serialize_map(Some(self.map.len()))?;
        for (k, v) in self.map {
            if secret_like(k) || self.listed.iter().any(|l| l == k) {
                out.serialize_entry(k, "[redacted]")?;
            } else {
                let value = RedactedValue {
                    value: v,
                    listed: self.listed,
                };
                out.serialize_entry(k, &value)?;
            }
        }
        out.end()
    }
}

impl serde::Serialize for RedactedValue<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        match self.value {
            Value::Object(map) => Redacted {
                map,
                listed: self.listed,
            }
            .serialize(s),
            Value::Array(items) => {
                let mut out = s.serialize_seq(Some(items.len()))?;
                for value in items {
                    out.serialize_element(&RedactedValue {
                        value,
                        listed: self.listed,
                    })?;
                }
                out.end()
            }
            other => other.serialize(s),
        }
    }
}

/// How a call ended, as the log names it, and its message.
fn outcome(output: &Output) -> (&'static str, Option<String>) {
    match output {
        Output::Error(message) => ("tool_error", Some(message.clone())),
        Output::Invalid(message) => ("protocol_error", Some(message.clone())),
        Output::InputRequired => ("input_required", None),
        _ => ("ok", None),
    }
}

/// The middleware.
pub(super) fn audit(req: &mut Request, next: Next) -> StepFuture<'_, Response> {
    Box::pin(async move {
        if matches!(req.target.kind, Kind::Completion | Kind::Hook) {
            return next.run(req).await;
        }
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let started = Instant::now();
        // Taken now: the item takes the arguments.
        let max = req.settings().log_max_bytes;
        let arguments = serde_json::to_string(&Redacted {
            map: &req.arguments,
            listed: &req.settings().audit.redact,
        })
        .unwrap_or_default();
        let arguments = match clip(&arguments, max) {
            std::borrow::Cow::Borrowed(_) => arguments,
            std::borrow::Cow::Owned(cut) => cut,
        };
        // Written as `cancelled` if this future is dropped before the call ends.
        let mut unfinished = Unfinished {
            row: Some(Row {
                at_ms,
                caller: req.caller.identity.as_ref().map(|i| i.subject().to_owned()),
                transport: req.caller.transport.as_str(),
                kind: req.target.kind.as_str(),
                app: req.target.app,
                name: req.target.name,
                arguments,
                outcome: "cancelled",
                error: Some(STOPPED.to_owned()),
                duration_ms: 0.0,
            }),
            started,
            state: req.state().clone(),
        };
        let mut response = next.run(req).await;
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let Some(mut row) = unfinished.row.take() else {
            return response;
        };
        row.caller = req.caller.identity.as_ref().map(|i| i.subject().to_owned());
        row.outcome = "ok";
        row.error = None;
        row.duration_ms = duration_ms;
        let ok = response.output.is_success();
        // A call that wrote in a transaction writes its row in that transaction: the
        // two are committed together or not at all, so a crash cannot keep the call's
        // work without its row. (Its duration is measured up to here, before the
        // commit.) A call that changed nothing, or failed and is rolled back, has its
        // row written by the log's writer, in batches, once the call has ended.
        if ok && let Some(mut conn) = req.db.in_write_transaction().await {
            let written = diesel::insert_into(mango_audit::table)
                .values(&row)
                .execute(&mut *conn)
                .await;
            drop(conn);
            match written {
                Ok(_) => match req.db.finish(true).await {
                    Ok(()) => return response,
                    Err(e) => response = Response::error(e),
                },
                Err(e) => {
                    response = Response::error(format!(
                        "the call's audit row could not be written ({e}), so its work was rolled back (mango.audit keeps no change without its row)"
                    ));
                    let _ = req.db.finish(false).await;
                }
            }
        } else if let Err(e) = req.db.finish(ok).await {
            // The call's transaction ends here (as the pipeline would end it after the
            // chain): the row records what was kept.
            response = Response::error(e);
        }
        (row.outcome, row.error) = outcome(&response.output);
        row.error = row.error.map(|e| clip(&e, max).into_owned());
        record(req.state(), row).await;
        response
    })
}

/// What the row of a call stopped before its end says.
const STOPPED: &str = "stopped before it ended (cancelled, past its timeout, or its server stopping): what its transaction had changed was rolled back";

/// A call's row while it runs: written, as `cancelled`, if the call's future is dropped
/// before it ends (a task or a job cancelled or cut off, a call its client cancelled).
struct Unfinished {
    row: Option<Row>,
    started: Instant,
    state: Arc<State>,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        let Some(mut row) = self.row.take() else {
            return;
        };
        row.duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let state = self.state.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { record(&state, row).await });
        }
    }
}

enum Message {
    Row(Row),
    /// Answered once every row queued before it is written (or given up on).
    Flush(oneshot::Sender<()>),
}

/// A server's audit writer: started on the first row.
pub(crate) struct AuditLog {
    queue: OnceLock<mpsc::Sender<Message>>,
    /// The bytes the rows in memory (queued, or held while the database refuses them)
    /// may take: a row takes its size before it is queued and gives it back once
    /// written or dropped, so that what clients send cannot grow the queue past it.
    budget: Arc<tokio::sync::Semaphore>,
}

impl Default for AuditLog {
    fn default() -> Self {
        AuditLog {
            queue: OnceLock::new(),
            budget: Arc::new(tokio::sync::Semaphore::new(BUDGET)),
        }
    }
}

impl Row {
    /// About what the row takes in memory, in bytes (at most [`BUDGET`]).
    fn size(&self) -> usize {
        let text = self.arguments.len()
            + self.error.as_ref().map_or(0, String::len)
            + self.caller.as_ref().map_or(0, String::len);
        (std::mem::size_of::<Row>() + text).min(BUDGET)
    }
}

/// The bytes of rows in memory at most (a row's arguments and error are cut to
/// `log_max_bytes` first); past it, calls wait for the writer.
const BUDGET: usize = 32 << 20;
/// Of [`BUDGET`], what rows the database refused may keep; past it the oldest are
/// dropped (counted in the log) so that the calls queueing behind them do not wait
/// for ever.
const HELD_BYTES: usize = BUDGET / 2;

/// Rows queued at most; past it, calls wait for the writer.
const QUEUE: usize = 8192;
/// Rows written in one transaction at most.
const BATCH: usize = 1024;
/// How long the writer lets rows gather after a batch that did not fill.
const GATHER: Duration = Duration::from_millis(10);

fn queue(state: &State) -> mpsc::Sender<Message> {
    let log = state.scoped::<AuditLog>();
    log.queue
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            // It ends once the server (and so the queue's sender) is gone.
            tokio::spawn(writer(state.database.clone(), rx, log.budget.clone()));
            tx
        })
        .clone()
}

/// The rows queued for the writer, and the bytes the rows in memory hold
/// (`[metrics]`).
pub(crate) fn queued(state: &State) -> (u64, u64) {
    let log = state.scoped::<AuditLog>();
    let rows = log
        .queue
        .get()
        .map_or(0, |q| q.max_capacity().saturating_sub(q.capacity()));
    let bytes = BUDGET.saturating_sub(log.budget.available_permits());
    (rows as u64, bytes as u64)
}

/// Queues a row (waits while the queue is full, in rows or in bytes).
pub(crate) async fn record(state: &Arc<State>, row: Row) {
    let budget = state.scoped::<AuditLog>().budget.clone();
    let size = u32::try_from(row.size()).unwrap_or(u32::MAX);
    if let Ok(taken) = budget.acquire_many(size).await {
        // Given back by the writer once the row is written or dropped.
        taken.forget();
    }
    let _ = queue(state).send(Message::Row(row)).await;
}

/// A write made on the admin's own pages (a user, a group, a token): a row naming who
/// made it, when the log is on. `arguments` never holds a password or a token.
pub(crate) async fn record_admin(
    state: &Arc<State>,
    who: &str,
    name: &'static str,
    arguments: &Value,
    error: Option<String>,
) {
    if !super::Builtin::Audit.listed(&state.settings) {
        return;
    }
    let row = Row {
        at_ms: now_ms(),
        caller: Some(who.to_owned()),
        transport: "admin",
        kind: "admin",
        app: crate::registry::BUILTIN_APP,
        name,
        arguments: arguments.to_string(),
        outcome: if error.is_none() { "ok" } else { "tool_error" },
        error,
        duration_ms: 0.0,
    };
    record(state, row).await;
}

/// Writes out every row queued so far (at shutdown; tests), waiting at most `limit`.
pub(crate) async fn flush(state: &State, limit: Duration) {
    let log = state.scoped::<AuditLog>();
    let Some(tx) = log.queue.get().cloned() else {
        return;
    };
    let (done, wait) = oneshot::channel();
    if tx.send(Message::Flush(done)).await.is_ok()
        && tokio::time::timeout(limit, wait).await.is_err()
    {
        tracing::error!(
            "mango.audit: the audit rows could not all be written within {limit:?} at shutdown"
        );
    }
}

async fn writer(
    db: Database,
    mut rx: mpsc::Receiver<Message>,
    budget: Arc<tokio::sync::Semaphore>,
) {
    let mut rows: Vec<Row> = Vec::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    let mut dropped = 0usize;
    loop {
        let mut got = Vec::with_capacity(BATCH);
        let received = if rows.is_empty() {
            rx.recv_many(&mut got, BATCH).await
        } else {
            // Rows the database refused: tried again within a second.
            match tokio::time::timeout(Duration::from_secs(1), rx.recv_many(&mut got, BATCH)).await
            {
                Ok(n) => n,
                Err(_) => usize::MAX,
            }
        };
        if received == 0 && rows.is_empty() {
            return;
        }
        for message in got {
            match message {
                Message::Row(row) => rows.push(row),
                Message::Flush(done) => flushes.push(done),
            }
        }
        while !rows.is_empty() {
            let take = rows.len().min(BATCH);
            let rest = rows.split_off(take);
            let batch = std::mem::replace(&mut rows, rest);
            let bytes: usize = batch.iter().map(Row::size).sum();
            match insert(&db, batch).await {
                Ok(()) => budget.add_permits(bytes),
                Err((mut back, e)) => {
                    // What came back is still held; the rest (lost with SQLite's
                    // thread) gives its bytes back.
                    budget.add_permits(bytes - back.iter().map(Row::size).sum::<usize>());
                    back.append(&mut rows);
                    rows = back;
                    tracing::warn!(
                        rows = rows.len(),
                        "mango.audit: the audit rows could not be written ({e}); kept to try again"
                    );
                    let mut held: usize = rows.iter().map(Row::size).sum();
                    let mut excess = 0;
                    while held > HELD_BYTES && excess < rows.len() {
                        held -= rows[excess].size();
                        excess += 1;
                    }
                    if excess > 0 {
                        let freed: usize = rows.drain(..excess).map(|r| r.size()).sum();
                        budget.add_permits(freed);
                        dropped += excess;
                        tracing::error!(
                            dropped,
                            "mango.audit: the database refused audit rows for too long; the oldest were dropped"
                        );
                    }
                    break;
                }
            }
        }
        // A flush is answered once what came before it is written, or when the
        // database refuses it (the shutdown cannot wait for ever).
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
        if received == 0 {
            return;
        }
        // A batch that did not fill: let the next one gather for a moment, so that a
        // busy server writes a few large transactions rather than many small ones
        // (each costs the writer a trip to SQLite's thread and a commit).
        if received < BATCH && rows.is_empty() {
            tokio::time::sleep(GATHER).await;
        }
    }
}

/// Inserts `rows`; on failure gives them back with the reason.
async fn insert(db: &Database, rows: Vec<Row>) -> Result<(), (Vec<Row>, QueryError)> {
    let turn = match db.write_turn().await {
        Ok(t) => t,
        Err(e) => return Err((rows, e.into())),
    };
    let mut conn = match db.get().await {
        Ok(c) => c,
        Err(e) => return Err((rows, e.into())),
    };
    #[cfg(feature = "sqlite")]
    {
        // One trip to SQLite's thread and one transaction for the batch; a statement
        // per row, prepared once (Diesel's statement cache): SQLite's multi-row INSERT
        // in Diesel cannot take these rows' NULLs, and the writer's CPU is what the
        // server's calls would have had.
        use diesel::connection::Connection as _;
        let result = conn
            .spawn_blocking(move |c| {
                let written = c.transaction(|c| {
                    for row in &rows {
                        diesel::RunQueryDsl::execute(
                            diesel::insert_into(mango_audit::table).values(row),
                            c,
                        )?;
                    }
                    Ok(())
                });
                Ok(written.map_err(|e: diesel::result::Error| (rows, e)))
            })
            .await;
        drop(turn);
        match result {
            Ok(written) => written.map_err(|(rows, e)| (rows, e.into())),
            Err(e) => Err((Vec::new(), e.into())),
        }
    }
    #[cfg(feature = "postgres")]
    {
        drop(turn);
        // One statement for the batch: written whole or not at all.
        match diesel::insert_into(mango_audit::table)
            .values(&rows)
            .execute(&mut conn)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err((rows, e.into())),
        }
    }
}

/// `audit --prune`: removes the rows past `[audit] retention_days` and
/// `retention_rows`; how many went.
pub(crate) async fn prune(db: &Database, days: u32, keep: u64) -> Result<usize, QueryError> {
    let mut conn = db.get().await?;
    let mut removed = 0;
    if days > 0 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let before = now - i64::from(days) * 86_400_000;
        removed += diesel::delete(mango_audit::table.filter(mango_audit::at_ms.lt(before)))
            .execute(&mut conn)
            .await?;
    }
    if keep > 0 {
        let kept: Option<i64> = mango_audit::table
            .select(mango_audit::id)
            .order(mango_audit::id.desc())
            .offset(i64::try_from(keep - 1).unwrap_or(i64::MAX))
            .first(&mut conn)
            .await
            .optional()?;
        if let Some(oldest_kept) = kept {
            removed += diesel::delete(mango_audit::table.filter(mango_audit::id.lt(oldest_kept)))
                .execute(&mut conn)
                .await?;
        }
    }
    Ok(removed)
}

/// `at_ms` as `YYYY-MM-DD HH:MM:SS.mmm` (UTC).
pub(crate) fn when(at_ms: i64) -> String {
    let secs = at_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        at_ms.rem_euclid(1000)
    )
}

/// One logged call, as `audit` prints it.
#[derive(Debug, Queryable, serde::Serialize)]
pub(crate) struct Logged {
    pub id: i64,
    pub at_ms: i64,
    pub caller: Option<String>,
    pub transport: String,
    pub kind: String,
    pub app: String,
    pub name: String,
    pub arguments: String,
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: f64,
}

/// Which rows of the log to read.
#[derive(Debug, Default, Clone)]
pub(crate) struct Filter {
    pub app: Option<String>,
    pub name: Option<String>,
    pub outcome: Option<String>,
    pub caller: Option<String>,
    /// Only rows older than this id (the next page).
    pub before: Option<i64>,
    /// Only rows newer than this id (what arrived since).
    pub after: Option<i64>,
}

/// The newest `limit` rows that pass `filter`, newest first.
pub(crate) async fn recent(
    db: &Database,
    limit: i64,
    filter: Filter,
) -> Result<Vec<Logged>, QueryError> {
    let mut conn = db.get().await?;
    let mut query = mango_audit::table.into_boxed();
    if let Some(app) = filter.app {
        query = query.filter(mango_audit::app.eq(app));
    }
    if let Some(name) = filter.name {
        query = query.filter(mango_audit::name.eq(name));
    }
    if let Some(outcome) = filter.outcome {
        query = query.filter(mango_audit::outcome.eq(outcome));
    }
    if let Some(caller) = filter.caller {
        query = query.filter(mango_audit::caller.eq(caller));
    }
    if let Some(before) = filter.before {
        query = query.filter(mango_audit::id.lt(before));
    }
    if let Some(after) = filter.after {
        query = query.filter(mango_audit::id.gt(after));
    }
    query
        .order(mango_audit::id.desc())
        .limit(limit)
        .load(&mut conn)
        .await
        .map_err(QueryError::from)
}

/// One row, by id.
pub(crate) async fn one(db: &Database, id: i64) -> Result<Option<Logged>, QueryError> {
    let mut conn = db.get().await?;
    mango_audit::table
        .filter(mango_audit::id.eq(id))
        .first(&mut conn)
        .await
        .optional()
        .map_err(QueryError::from)
}

/// How many calls, and how many of them failed, since `since_ms`.
pub(crate) async fn counts_since(db: &Database, since_ms: i64) -> Result<(i64, i64), QueryError> {
    let mut conn = db.get().await?;
    let calls: i64 = mango_audit::table
        .filter(mango_audit::at_ms.ge(since_ms))
        .count()
        .get_result(&mut conn)
        .await?;
    let failed: i64 = mango_audit::table
        .filter(mango_audit::at_ms.ge(since_ms))
        .filter(mango_audit::outcome.ne("ok"))
        .count()
        .get_result(&mut conn)
        .await?;
    Ok((calls, failed))
}

pub(crate) use crate::util::now_ms;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let args = serde_json::json!({
            "name": "Ada",
            "password": "hunter2",
            "nested": {"api_key": "k", "note": "fine", "list": [{"token": "t"}]},
            "card": "4111",
        });
        let out = redact(&args, &["card".to_owned()]);
        assert_eq!(
            out,
            serde_json::json!({
                "name": "Ada",
                "password": "[redacted]",
                "nested": {"api_key": "[redacted]", "note": "fine", "list": [{"token": "[redacted]"}]},
                "card": "[redacted]",
            })
        );
        let Value::Object(map) = &args else {
            panic!("the arguments are an object")
        };
        let written: Value = serde_json::from_str(
            &serde_json::to_string(&Redacted {
                map,
                listed: &["card".to_owned()],
            })
            .expect("json"),
        )
        .expect("json");
        assert_eq!(written, out, "the log's one-pass redaction is the same");
        assert!(secret_like("API_Key") && secret_like("Password"));
        assert!(!secret_like("monkey"), "a word that only ends in `key`");
        assert_eq!(when(1_795_607_999_123), "2026-11-25 11:59:59.123");
    }
}
