//! The workers that run the apps' `#[job]`s from `mango_jobs`: in `serve` (`[jobs]
//! workers` of them) and in `run worker`.
//!
//! A worker claims one due job at a time (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so that
//! workers of every replica take different jobs; SQLite: one writer at a time) with a
//! lease (a random token and an end time) that it renews every third of `[jobs] lease`.
//! The run goes through the middleware chain like a call, with its own connection and
//! transaction, and is marked `completed` in that transaction, under the lease: a
//! worker that lost its lease commits nothing. A run that fails is retried with a
//! backoff until its attempts are spent.
//!
//! The rule for a run cut off (its worker killed, stopped at shutdown past
//! `shutdown_timeout`, or its lease lost): its transaction rolled back, so nothing of it
//! is in the database, but what it did outside (a message sent) may have happened. It
//! is run again only when its job is `idempotent`; otherwise it is marked failed,
//! saying so, and waits for a person to retry it (`run jobs retry <id>`, the admin).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use tokio_util::sync::CancellationToken;

use super::Runtime;
use crate::call::{BoxFuture, Caller, Channel, Kind, Output, Target, TransportKind};
use crate::chain::{Endpoint, Request};
use crate::db::{Database, Db, DbMode, Ended, QueryError};
use crate::jobs::{mango_jobs, status};
use crate::registry::{JOBS, JobEntry, SEPARATOR};
use crate::util::{now_ms, random_hex};

/// The longest wait between two attempts.
const MAX_BACKOFF: f64 = 3600.0;

/// A job a worker has claimed.
#[derive(Queryable)]
struct Claimed {
    id: String,
    name: String,
    arguments: String,
    attempts: i64,
    max_attempts: Option<i64>,
}

/// What ended a run that did not end by itself.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// `[jobs] timeout` or the job's own.
    Timeout(f64),
    /// `run jobs cancel`, the admin.
    Cancelled,
    /// The lease could not be renewed in time, or another worker holds it now.
    LeaseLost,
    /// The worker is shutting down and the run did not finish within the time it had.
    Shutdown,
}

/// The end of a job's chain: the job's generated run, then its `completed` mark, in
/// the run's transaction and under its lease.
struct JobEndpoint {
    run: fn(crate::call::Call) -> BoxFuture<Output>,
    id: String,
    lease: String,
}

impl Endpoint for JobEndpoint {
    fn start(&self, req: &mut Request) -> BoxFuture<Output> {
        let slot = req.db.clone();
        let state = req.state().clone();
        let mode = req.db_mode;
        let (id, lease) = (self.id.clone(), self.lease.clone());
        let run = (self.run)(req.take_call());
        Box::pin(async move {
            let output = run.await;
            if !output.is_success() {
                return output;
            }
            let mut db = match slot.lease(&state.database, mode).await {
                Ok(db) => db,
                Err(e) => {
                    return Output::Error(format!("the job could not be marked completed: {e}"));
                }
            };
            let now = now_ms();
            let marked = diesel::update(
                mango_jobs::table.filter(
                    mango_jobs::id
                        .eq(&id)
                        .and(mango_jobs::lease.eq(&lease))
                        .and(mango_jobs::status.eq(status::RUNNING)),
                ),
            )
            .set((
                mango_jobs::status.eq(status::COMPLETED),
                mango_jobs::result.eq(result_text(&output)),
                mango_jobs::error.eq(None::<String>),
                mango_jobs::lease.eq(None::<String>),
                mango_jobs::lease_until_ms.eq(None::<i64>),
                mango_jobs::finished_ms.eq(now),
                mango_jobs::updated_ms.eq(now),
            ))
            .execute(&mut *db)
            .await;
            match marked {
                Ok(1) => output,
                Ok(_) => Output::Error(
                    "the job's lease was lost before it could be marked completed (another worker may run it): its work is rolled back".into(),
                ),
                Err(e) => Output::Error(format!(
                    "the job could not be marked completed: {e}; its work is rolled back"
                )),
            }
        })
    }

    fn what(&self) -> &'static str {
        "job"
    }
}

/// What a completed run returned, as the jobs' table keeps it (JSON).
fn result_text(output: &Output) -> Option<String> {
    match output {
        Output::Empty => None,
        Output::Text(text) => Some(serde_json::Value::String(text.clone()).to_string()),
        Output::Json(value) | Output::Rich { value, .. } => Some(value.to_string()),
        Output::Content(blocks) => Some(format!("\"({} content blocks)\"", blocks.len())),
        Output::Blob(bytes) => Some(format!("\"({} bytes)\"", bytes.len())),
        Output::Messages(m) => Some(format!("\"({} messages)\"", m.len())),
        Output::Error(_) | Output::Invalid(_) | Output::InputRequired => None,
    }
}

/// The seconds before attempt `attempts + 1`: `[jobs] backoff`, doubled each time.
fn backoff(base: f64, attempts: i64) -> f64 {
    let exponent = i32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    (base.max(0.0) * 2f64.powi(exponent)).min(MAX_BACKOFF)
}

/// The running workers of a process.
pub(crate) struct Workers {
    /// No more claims.
    closing: CancellationToken,
    /// Stop the runs still going (each is rolled back and released).
    abort: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    count: usize,
}

impl Workers {
    /// How many run jobs.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Stops claiming, lets the runs going finish within `limit`, then stops those
    /// left (rolled back and released: queued again when their job is idempotent,
    /// failed otherwise).
    pub(crate) async fn stop(mut self, limit: Duration) {
        self.closing.cancel();
        let all = futures_util::future::join_all(self.tasks.iter_mut());
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::warn!(
                "jobs still running {limit:?} after the shutdown began; stopping them (rolled back, and released)"
            );
            self.abort.cancel();
            let _ = futures_util::future::join_all(self.tasks.iter_mut()).await;
        }
    }
}

/// The jobs' targets (for `[metrics]`).
pub(super) fn targets() -> impl Iterator<Item = Target> {
    JOBS.iter().map(|j| Target {
        kind: Kind::Job,
        name: j.meta.name,
        app: j.meta.app,
    })
}

impl Runtime {
    /// Whether an app has a `#[job]` (then `mango_jobs` is one of mango's tables).
    pub(crate) fn has_jobs() -> bool {
        !JOBS.is_empty()
    }

    /// The job `app.name`.
    fn job_entry(name: &str) -> Option<&'static JobEntry> {
        let (app, job) = name.split_once(SEPARATOR)?;
        JOBS.iter()
            .find(|j| j.meta.app == app && j.meta.name == job)
    }

    /// The names of the jobs this build knows (`app.name`): it claims only those, so
    /// that a replica of an older build leaves a newer job to the others.
    fn job_names() -> Vec<String> {
        JOBS.iter()
            .map(|j| format!("{}{SEPARATOR}{}", j.meta.app, j.meta.name))
            .collect()
    }

    /// `count` workers, claiming until [`Workers::stop`]; none when no app has a job or
    /// `count` is 0.
    pub(crate) fn start_workers(self: &Arc<Self>, count: usize) -> Workers {
        let mut workers = Workers {
            closing: CancellationToken::new(),
            abort: CancellationToken::new(),
            tasks: Vec::new(),
            count: 0,
        };
        if count == 0 || !Self::has_jobs() {
            return workers;
        }
        workers.count = count;
        let pid = std::process::id();
        for n in 0..count {
            let rt = self.clone();
            let (closing, abort) = (workers.closing.clone(), workers.abort.clone());
            let me = format!("pid {pid} worker {n}");
            workers.tasks.push(tokio::spawn(async move {
                rt.work(&me, &closing, &abort).await;
            }));
        }
        // One looks after the others' leases and the old rows.
        let rt = self.clone();
        let closing = workers.closing.clone();
        workers.tasks.push(tokio::spawn(async move {
            rt.look_after(&closing).await;
        }));
        workers
    }

    /// One worker: claims a due job, runs it, and again; waits `[jobs] poll` when none
    /// is due.
    async fn work(
        self: &Arc<Self>,
        me: &str,
        closing: &CancellationToken,
        abort: &CancellationToken,
    ) {
        let poll = Duration::from_secs_f64(self.settings().jobs.poll.clamp(0.01, 3600.0));
        let mut complained = false;
        loop {
            if closing.is_cancelled() || self.state.in_flight.is_closed() {
                return;
            }
            match self.claim(me).await {
                Ok(Some(claimed)) => {
                    complained = false;
                    self.run_claimed(claimed, abort).await;
                    continue;
                }
                Ok(None) => complained = false,
                Err(e) => {
                    // Once per outage, not once per poll.
                    if !complained {
                        tracing::warn!("jobs: could not look for due jobs: {e}");
                        complained = true;
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(poll) => {}
                () = closing.cancelled() => return,
            }
        }
    }

    /// Every half lease: the jobs whose worker stopped renewing its lease; every hour,
    /// the finished rows past `[jobs] keep_days`.
    async fn look_after(&self, closing: &CancellationToken) {
        let every = Duration::from_secs_f64((self.settings().jobs.lease / 2.0).clamp(0.05, 600.0));
        let mut pruned = Instant::now();
        let mut first = true;
        loop {
            if let Err(e) = self.recover().await {
                tracing::warn!("jobs: could not look for abandoned jobs: {e}");
            }
            if first || pruned.elapsed() > Duration::from_secs(3600) {
                first = false;
                pruned = Instant::now();
                if let Err(e) = self.prune().await {
                    tracing::warn!("jobs: could not remove old finished jobs: {e}");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = closing.cancelled() => return,
            }
        }
    }

    /// Runs every due job, one after the other, until none is due; how many ran. (The
    /// test server's `run_jobs`, and `run jobs --run`.)
    pub(crate) async fn run_due_jobs(self: &Arc<Self>) -> Result<usize, QueryError> {
        self.recover().await?;
        let never = CancellationToken::new();
        let me = format!("pid {} in-process", std::process::id());
        let mut ran = 0;
        while let Some(claimed) = self.claim(&me).await? {
            self.run_claimed(claimed, &never).await;
            ran += 1;
        }
        Ok(ran)
    }

    /// A connection for the jobs' own bookkeeping (SQLite: after this process's turn
    /// to write).
    async fn bookkeeping(
        database: &Database,
    ) -> Result<
        (
            Option<tokio::sync::OwnedSemaphorePermit>,
            diesel_async::pooled_connection::deadpool::Object<Db>,
        ),
        QueryError,
    > {
        let turn = database.write_turn().await?;
        let conn = database.get().await?;
        Ok((turn, conn))
    }

    /// Claims the due job that waited longest, for `me`, with a new lease.
    async fn claim(&self, me: &str) -> Result<Option<(Claimed, String)>, QueryError> {
        let database = &self.state.database;
        let lease = random_hex(16);
        let (_turn, mut conn) = Self::bookkeeping(database).await?;
        let now = now_ms();
        let lease_ms = lease_ms(self.settings().jobs.lease);
        let due = mango_jobs::table
            .select(mango_jobs::id)
            .filter(
                mango_jobs::status
                    .eq(status::QUEUED)
                    .and(mango_jobs::run_after_ms.le(now))
                    .and(mango_jobs::name.eq_any(Self::job_names())),
            )
            .order((mango_jobs::run_after_ms, mango_jobs::created_ms))
            .limit(1);
        // PostgreSQL: a row another worker is claiming is skipped, not waited for.
        #[cfg(feature = "postgres")]
        let due = due.for_update().skip_locked();
        let lease_ref = &lease;
        let claimed = conn
            .transaction::<_, diesel::result::Error, _>(async move |c| {
                {
                    let Some(id) = due.first::<String>(c).await.optional()? else {
                        return Ok(None);
                    };
                    // Still queued: the claim is a compare-and-set on SQLite too.
                    diesel::update(
                        mango_jobs::table.filter(
                            mango_jobs::id
                                .eq(&id)
                                .and(mango_jobs::status.eq(status::QUEUED)),
                        ),
                    )
                    .set((
                        mango_jobs::status.eq(status::RUNNING),
                        mango_jobs::attempts.eq(mango_jobs::attempts + 1),
                        mango_jobs::lease.eq(lease_ref),
                        mango_jobs::lease_until_ms.eq(now.saturating_add(lease_ms)),
                        mango_jobs::worker.eq(me),
                        mango_jobs::updated_ms.eq(now),
                    ))
                    .returning((
                        mango_jobs::id,
                        mango_jobs::name,
                        mango_jobs::arguments,
                        mango_jobs::attempts,
                        mango_jobs::max_attempts,
                    ))
                    .get_result::<Claimed>(c)
                    .await
                    .optional()
                }
            })
            .await?;
        Ok(claimed.map(|c| (c, lease)))
    }

    /// Runs a claimed job to its end, and writes how it ended.
    async fn run_claimed(self: &Arc<Self>, claimed: (Claimed, String), abort: &CancellationToken) {
        if !crate::telemetry::on() {
            return self.run_claimed_here(claimed, abort).await;
        }
        let (id, name, attempt) = (
            claimed.0.id.clone(),
            claimed.0.name.clone(),
            claimed.0.attempts,
        );
        let span = move || {
            crate::telemetry::Spec::new(format!("job {name}"), crate::telemetry::Kind::Consumer)
                .attr("mango.job.name", name)
                .attr("mango.job.id", id)
                .attr("mango.job.attempt", attempt)
        };
        crate::telemetry::root(span, self.run_claimed_here(claimed, abort)).await;
    }

    /// A claimed job's run, and how it ended written down.
    async fn run_claimed_here(
        self: &Arc<Self>,
        (claimed, lease): (Claimed, String),
        abort: &CancellationToken,
    ) {
        let Some(entry) = Self::job_entry(&claimed.name) else {
            return;
        };
        let settings = &self.settings().jobs;
        let max_attempts = claimed
            .max_attempts
            .or(entry.max_attempts.map(i64::from))
            .unwrap_or(i64::from(settings.max_attempts))
            .max(1);
        let arguments: serde_json::Map<String, serde_json::Value> =
            match serde_json::from_str(&claimed.arguments) {
                Ok(a) => a,
                Err(e) => {
                    let error = format!("its arguments are not a JSON object: {e}");
                    self.settle(&claimed, &lease, Settle::Fail(error)).await;
                    return;
                }
            };
        let channel = Channel::default();
        let commit = channel.commit.clone();
        let req = Request::new(
            self.state.clone(),
            Target {
                kind: Kind::Job,
                name: entry.meta.name,
                app: entry.meta.app,
            },
            arguments,
            Caller::new(TransportKind::Worker),
            channel,
            DbMode {
                atomic: entry.atomic,
                ..DbMode::default()
            },
        );
        let endpoint: Arc<dyn Endpoint> = Arc::new(JobEndpoint {
            run: entry.run,
            id: claimed.id.clone(),
            lease: lease.clone(),
        });
        let timeout = entry.timeout.unwrap_or(settings.timeout).clamp(0.001, 1e9);
        let cut: Arc<Mutex<Option<Cut>>> = Arc::default();
        let stop = {
            let cut = cut.clone();
            let keeper = keep_lease(&self.state.database, &claimed.id, &lease, settings.lease);
            async move {
                let why = tokio::select! {
                    why = keeper => why,
                    () = tokio::time::sleep(Duration::from_secs_f64(timeout)) => Cut::Timeout(timeout),
                    () = abort.cancelled() => Cut::Shutdown,
                };
                *cut.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
            }
        };
        let metrics = self.state.metrics.clone();
        let chain = &self.chain;
        let run = async move {
            let Some(metrics) = &metrics else {
                return crate::chain::run(chain, &endpoint, req).await;
            };
            let started = metrics.start(Kind::Job.as_str(), entry.meta.app, entry.meta.name);
            let output = crate::chain::run(chain, &endpoint, req).await;
            started.end(output.is_error());
            output
        };
        let settle = match commit.unless(stop, run).await {
            Ended::Done(output) | Ended::Late(output) => match output {
                _ if output.is_success() => return,
                Output::Invalid(message) => Settle::Fail(message),
                Output::InputRequired => {
                    Settle::Fail("a job cannot ask for input: no client waits for it".into())
                }
                Output::Error(message) => Settle::Again {
                    error: message,
                    max_attempts,
                },
                _ => Settle::Again {
                    error: "the run failed".into(),
                    max_attempts,
                },
            },
            Ended::Stopped => match *cut.lock().unwrap_or_else(|p| p.into_inner()) {
                Some(Cut::Timeout(seconds)) => Settle::Again {
                    error: format!(
                        "the run did not finish within {seconds} s (the job's `timeout`, or [jobs] timeout) and was stopped; what it changed was rolled back"
                    ),
                    max_attempts,
                },
                Some(Cut::Cancelled) => Settle::Cancelled,
                Some(Cut::Shutdown) => Settle::CutOff {
                    idempotent: entry.idempotent,
                    why: "its worker shut down before it finished",
                },
                Some(Cut::LeaseLost) | None => {
                    tracing::warn!(
                        job = %claimed.id,
                        name = %claimed.name,
                        "jobs: the lease of a running job was lost; the run was stopped and rolled back"
                    );
                    Settle::CutOff {
                        idempotent: entry.idempotent,
                        why: "its worker lost its lease (it could not renew it in time)",
                    }
                }
            },
        };
        self.settle(&claimed, &lease, settle).await;
    }

    /// Writes how a run that did not complete ended, under its lease (a lease lost in
    /// the meantime writes nothing: its new holder decides).
    async fn settle(&self, claimed: &Claimed, lease: &str, settle: Settle) {
        let now = now_ms();
        let base = self.settings().jobs.backoff;
        let (status, error, run_after, attempts) = match settle {
            Settle::Again {
                error,
                max_attempts,
            } if claimed.attempts < max_attempts => {
                let wait = backoff(base, claimed.attempts);
                #[allow(clippy::cast_possible_truncation)]
                let run_after = now.saturating_add((wait * 1000.0) as i64);
                (status::QUEUED, error, run_after, claimed.attempts)
            }
            Settle::Again {
                error,
                max_attempts,
            } => (
                status::FAILED,
                format!(
                    "{error} (attempt {} of {max_attempts}; no attempt left)",
                    claimed.attempts
                ),
                now,
                claimed.attempts,
            ),
            Settle::Fail(error) => (status::FAILED, error, now, claimed.attempts),
            Settle::Cancelled => (
                status::CANCELLED,
                "cancelled while it ran: what it changed was rolled back".to_owned(),
                now,
                claimed.attempts,
            ),
            Settle::CutOff {
                idempotent: true,
                why,
            } => (
                status::QUEUED,
                format!("{why}; it is idempotent, so it runs again"),
                now,
                // Not an attempt of its own making.
                claimed.attempts.saturating_sub(1),
            ),
            Settle::CutOff {
                idempotent: false,
                why,
            } => (
                status::FAILED,
                format!(
                    "{why}; what it changed in the database was rolled back, but what it did elsewhere may have happened, and it is not marked idempotent, so it is not run again: check, then `run jobs retry <id>`"
                ),
                now,
                claimed.attempts,
            ),
        };
        let error = crate::util::clip(&error, self.settings().log_max_bytes).into_owned();
        let finished = (status != status::QUEUED).then_some(now);
        let written = async {
            let (_turn, mut conn) = Self::bookkeeping(&self.state.database).await?;
            diesel::update(
                mango_jobs::table.filter(
                    mango_jobs::id
                        .eq(&claimed.id)
                        .and(mango_jobs::lease.eq(lease)),
                ),
            )
            .set((
                mango_jobs::status.eq(status),
                mango_jobs::error.eq(&error),
                mango_jobs::run_after_ms.eq(run_after),
                mango_jobs::attempts.eq(attempts),
                mango_jobs::lease.eq(None::<String>),
                mango_jobs::lease_until_ms.eq(None::<i64>),
                mango_jobs::finished_ms.eq(finished),
                mango_jobs::updated_ms.eq(now),
            ))
            .execute(&mut *conn)
            .await
            .map_err(QueryError::from)
        };
        match written.await {
            Ok(_) => {
                tracing::info!(job = %claimed.id, name = %claimed.name, status, "job: {error}")
            }
            // Its lease runs out, and `recover` deals with it by the same rule.
            Err(e) => {
                tracing::warn!(job = %claimed.id, "jobs: could not write how a run ended ({status}: {error}): {e}")
            }
        }
    }

    /// The running jobs whose lease ran out (their worker died or hung): queued again
    /// when idempotent (or cancelled when asked to be), failed otherwise; how many.
    pub(crate) async fn recover(&self) -> Result<usize, QueryError> {
        let now = now_ms();
        let expired: Vec<(String, String, Option<String>, bool)> = {
            let mut conn = self.state.database.get().await?;
            mango_jobs::table
                .select((
                    mango_jobs::id,
                    mango_jobs::name,
                    mango_jobs::lease,
                    mango_jobs::cancel,
                ))
                .filter(
                    mango_jobs::status
                        .eq(status::RUNNING)
                        .and(mango_jobs::lease_until_ms.lt(now))
                        .and(mango_jobs::name.eq_any(Self::job_names())),
                )
                .limit(100)
                .load(&mut *conn)
                .await?
        };
        let mut done = 0;
        for (id, name, lease, cancel) in expired {
            let Some(entry) = Self::job_entry(&name) else {
                continue;
            };
            let (status, error, back) = if cancel {
                (
                    status::CANCELLED,
                    "cancelled; its worker had stopped renewing its lease".to_owned(),
                    0,
                )
            } else if entry.idempotent {
                (status::QUEUED, "its worker stopped renewing its lease (killed, or hung); it is idempotent, so it runs again".to_owned(), 1)
            } else {
                (status::FAILED, "its worker stopped renewing its lease (killed, or hung) after it had started; what it changed in the database was rolled back, but what it did elsewhere may have happened, and it is not marked idempotent, so it is not run again: check, then `run jobs retry <id>`".to_owned(), 0)
            };
            let finished = (status != status::QUEUED).then_some(now);
            let (_turn, mut conn) = Self::bookkeeping(&self.state.database).await?;
            // Compared with the lease read: a worker that renewed it since keeps it.
            let changed = diesel::update(
                mango_jobs::table.filter(
                    mango_jobs::id
                        .eq(&id)
                        .and(mango_jobs::status.eq(status::RUNNING))
                        // A running job always has a lease (`claim` sets both).
                        .and(mango_jobs::lease.eq(lease.unwrap_or_default()))
                        .and(mango_jobs::lease_until_ms.lt(now)),
                ),
            )
            .set((
                mango_jobs::status.eq(status),
                mango_jobs::error.eq(&error),
                mango_jobs::attempts.eq(mango_jobs::attempts - back),
                mango_jobs::run_after_ms.eq(now),
                mango_jobs::lease.eq(None::<String>),
                mango_jobs::lease_until_ms.eq(None::<i64>),
                mango_jobs::finished_ms.eq(finished),
                mango_jobs::updated_ms.eq(now),
            ))
            .execute(&mut *conn)
            .await?;
            if changed == 1 {
                tracing::warn!(job = %id, name = %name, status, "job: {error}");
                done += 1;
            }
        }
        Ok(done)
    }

    /// Removes the finished jobs older than `[jobs] keep_days`.
    async fn prune(&self) -> Result<usize, QueryError> {
        #[allow(clippy::cast_possible_truncation)]
        let keep = (self.settings().jobs.keep_days.max(0.0) * 86_400_000.0) as i64;
        let before = now_ms().saturating_sub(keep);
        let (_turn, mut conn) = Self::bookkeeping(&self.state.database).await?;
        Ok(diesel::delete(
            mango_jobs::table.filter(
                mango_jobs::status
                    .eq_any([status::COMPLETED, status::FAILED, status::CANCELLED])
                    .and(mango_jobs::finished_ms.lt(before)),
            ),
        )
        .execute(&mut *conn)
        .await?)
    }
}

/// How a run that did not complete is written.
enum Settle {
    /// A failed attempt: queued again after the backoff while attempts are left.
    Again {
        error: String,
        max_attempts: i64,
    },
    /// Failed for good (its arguments cannot be read; it asked for input).
    Fail(String),
    Cancelled,
    /// Cut off from outside (shutdown, lease lost): the rule for idempotent jobs.
    CutOff {
        idempotent: bool,
        why: &'static str,
    },
}

fn lease_ms(seconds: f64) -> i64 {
    #[allow(clippy::cast_possible_truncation)]
    let ms = (seconds.clamp(0.1, 86_400.0) * 1000.0) as i64;
    ms
}

/// Renews the lease every third of it until the run ends; returns when the run must
/// stop: the job was cancelled, or the lease is lost (another worker holds it, or it
/// could not be renewed before the last sixth of it, after which another worker may
/// take the job). On SQLite, where one writer at a time holds the database, a renewal
/// that waits for the run's own transaction does not count against it.
async fn keep_lease(database: &Database, id: &str, lease: &str, seconds: f64) -> Cut {
    let lease_ms = lease_ms(seconds);
    let every = Duration::from_millis(u64::try_from(lease_ms / 3).unwrap_or(1000).max(1));
    let margin = Duration::from_millis(u64::try_from(lease_ms * 5 / 6).unwrap_or(1000));
    let mut deadline = Instant::now() + margin;
    loop {
        tokio::time::sleep(every).await;
        let asked = Instant::now();
        let renewed = async {
            let turn = database.write_turn().await?;
            let mut conn = database.get().await?;
            let cancel = diesel::update(
                mango_jobs::table.filter(
                    mango_jobs::id
                        .eq(id)
                        .and(mango_jobs::lease.eq(lease))
                        .and(mango_jobs::status.eq(status::RUNNING)),
                ),
            )
            .set(mango_jobs::lease_until_ms.eq(now_ms().saturating_add(lease_ms)))
            .returning(mango_jobs::cancel)
            .get_result::<bool>(&mut *conn)
            .await
            .optional()?;
            drop(turn);
            Ok::<_, QueryError>(cancel)
        }
        .await;
        match renewed {
            Ok(Some(true)) => return Cut::Cancelled,
            Ok(Some(false)) => deadline = asked + margin,
            Ok(None) => return Cut::LeaseLost,
            Err(e) => {
                tracing::warn!(job = %id, "jobs: could not renew a lease: {e}");
                if cfg!(feature = "postgres") && Instant::now() >= deadline {
                    return Cut::LeaseLost;
                }
            }
        }
    }
}
