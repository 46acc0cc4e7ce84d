//! The rounds' ledger on PostgreSQL (`mango_rounds`), for replicas that share an
//! `[input] key`: which calls completed (their states are refused everywhere), and
//! which have a round running (a second round of the call, on any replica, waits for
//! the answer of the first).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::RunQueryDsl;

use super::StateRefused;
use crate::builtin::audit::now_ms;
use crate::db::{Database, QueryError};

/// How long a replica holds a call whose round it runs, renewed every third of it while
/// the round runs: a replica that dies mid-round frees the call within this.
const LEASE: Duration = Duration::from_secs(30);

/// Every this many claims, the rows of calls whose states all expired are deleted.
const SWEEP_EVERY: u32 = 64;

pub(super) struct Shared {
    database: Database,
    claims: AtomicU32,
}

/// A call this replica runs a round of: the lease is renewed until it is dropped, then
/// released (unless the call completed).
pub(in crate::runtime) struct Held {
    call: String,
    database: Database,
    renew: tokio::task::JoinHandle<()>,
    /// The call completed, or was released: nothing is left to do when dropped.
    settled: bool,
}

#[derive(diesel::QueryableByName)]
struct Completed {
    #[diesel(sql_type = Bool)]
    completed: bool,
}

/// Why the ledger could not be used: its table is missing, or the database is down;
/// said so the operator knows what to do.
#[derive(Debug, thiserror::Error)]
pub(in crate::runtime) enum LedgerError {
    #[error(
        "this server keeps 2026-07-28's rounds in the table `mango_rounds`, which is missing: run `migrate` (mango's own migration creates it)"
    )]
    Missing,

    #[error(
        "the rounds' ledger (table `mango_rounds`) could not be read: {0}; call the tool again once the database is back"
    )]
    Unavailable(QueryError),
}

fn failed(e: impl Into<QueryError>) -> LedgerError {
    let e = e.into();
    let text = e.to_string();
    if text.contains("mango_rounds") && text.contains("does not exist") {
        LedgerError::Missing
    } else {
        LedgerError::Unavailable(e)
    }
}

impl Shared {
    pub(super) fn new(database: Database) -> Shared {
        Shared {
            database,
            claims: AtomicU32::new(0),
        }
    }

    pub(super) async fn claim(&self, call: &str, ttl: Duration) -> Result<Held, StateRefused> {
        let mut conn = self.database.get().await.map_err(failed)?;
        let now = now_ms();
        if self
            .claims
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SWEEP_EVERY)
        {
            diesel::sql_query("DELETE FROM mango_rounds WHERE expires_ms < $1")
                .bind::<BigInt, _>(now)
                .execute(&mut *conn)
                .await
                .map_err(failed)?;
        }
        let until = now + lease_ms();
        let expires = now + millis(ttl);
        // Inserted for a call's first claim; taken over when no round holds it (none
        // ran, or its replica's lease lapsed); left alone when it completed.
        let taken = diesel::sql_query(
            "INSERT INTO mango_rounds (call, running_until_ms, completed, expires_ms) VALUES ($1, $2, FALSE, $3)
             ON CONFLICT (call) DO UPDATE SET running_until_ms = EXCLUDED.running_until_ms, expires_ms = EXCLUDED.expires_ms
             WHERE NOT mango_rounds.completed AND (mango_rounds.running_until_ms IS NULL OR mango_rounds.running_until_ms < $4)",
        )
        .bind::<Text, _>(call)
        .bind::<BigInt, _>(until)
        .bind::<BigInt, _>(expires)
        .bind::<BigInt, _>(now)
        .execute(&mut *conn)
        .await
        .map_err(failed)?;
        if taken == 0 {
            let rows: Vec<Completed> =
                diesel::sql_query("SELECT completed FROM mango_rounds WHERE call = $1")
                    .bind::<Text, _>(call)
                    .load(&mut *conn)
                    .await
                    .map_err(failed)?;
            return Err(if rows.iter().any(|r| r.completed) {
                StateRefused::Replayed
            } else {
                StateRefused::Running
            });
        }
        drop(conn);
        let renew = {
            let database = self.database.clone();
            let call = call.to_owned();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(LEASE / 3).await;
                    let Ok(mut conn) = database.get().await else {
                        continue;
                    };
                    let renewed = diesel::sql_query(
                        "UPDATE mango_rounds SET running_until_ms = $2 WHERE call = $1 AND NOT completed",
                    )
                    .bind::<Text, _>(&call)
                    .bind::<BigInt, _>(now_ms() + lease_ms())
                    .execute(&mut *conn)
                    .await;
                    if let Err(e) = renewed {
                        tracing::warn!(%call, error = %e, "could not renew a round's hold on its call");
                    }
                }
            })
        };
        Ok(Held {
            call: call.to_owned(),
            database: self.database.clone(),
            renew,
            settled: false,
        })
    }

    pub(super) async fn completed(&self, held: &mut Held, ttl: Duration) {
        held.renew.abort();
        let done = async {
            let mut conn = self.database.get().await.map_err(QueryError::from)?;
            diesel::sql_query(
                "UPDATE mango_rounds SET completed = TRUE, running_until_ms = NULL, expires_ms = $2 WHERE call = $1",
            )
            .bind::<Text, _>(&held.call)
            .bind::<BigInt, _>(now_ms() + millis(ttl))
            .execute(&mut *conn)
            .await
            .map_err(QueryError::from)
        };
        match done.await {
            Ok(_) => held.settled = true,
            // The call's work is committed; what is lost is the guard against a replay
            // of its last state, until the database is back. Said loudly.
            Err(e) => tracing::error!(
                call = %held.call,
                error = %e,
                "a completed call could not be marked so in `mango_rounds`: its last requestState could be replayed until it expires"
            ),
        }
    }

    /// The round ended without completing the call (it asked again, or failed): the
    /// call is free for its next round, on any replica, before the client hears back.
    pub(super) async fn release(&self, held: &mut Held) {
        held.renew.abort();
        if release(&self.database, &held.call).await.is_ok() {
            held.settled = true;
        }
    }
}

async fn release(database: &Database, call: &str) -> Result<(), QueryError> {
    let mut conn = database.get().await?;
    diesel::sql_query(
        "UPDATE mango_rounds SET running_until_ms = NULL WHERE call = $1 AND NOT completed",
    )
    .bind::<Text, _>(call)
    .execute(&mut *conn)
    .await
    .map(drop)
    .map_err(QueryError::from)
}

impl Drop for Held {
    fn drop(&mut self) {
        self.renew.abort();
        if self.settled {
            return;
        }
        // Not released by the round (its future was dropped, say): released now, or
        // else when the lease lapses.
        let database = self.database.clone();
        let call = std::mem::take(&mut self.call);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = release(&database, &call).await;
            });
        }
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

fn lease_ms() -> i64 {
    millis(LEASE)
}
