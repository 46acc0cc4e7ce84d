//! `mango.timeout`: the longest a call may run.

use std::time::Duration;

use crate::chain::{Next, Request, Response, StepFuture};
use crate::db::Ended;

/// A call that runs past `[timeout] seconds` is stopped (its future dropped), gets an
/// error result, and its transaction is rolled back.
pub(super) fn timeout(req: &mut Request, next: Next) -> StepFuture<'_, Response> {
    Box::pin(async move {
        // A job has its own time limit (`#[job(timeout)]`, `[jobs] timeout`).
        if req.target.kind == crate::call::Kind::Job {
            return next.run(req).await;
        }
        let seconds = req.settings().timeout.seconds.max(0.001);
        // Past its commit point a call is let finish: it is not told "rolled back"
        // while its commit goes on (`mango.audit` ends the transaction in the chain).
        let commit = req.db.commit_point().clone();
        let deadline = tokio::time::sleep(Duration::from_secs_f64(seconds));
        match commit.unless(deadline, next.run(req)).await {
            Ended::Done(response) | Ended::Late(response) => response,
            Ended::Stopped => Response::error(format!(
                "the call ran longer than {seconds} s ([timeout] seconds) and was stopped; what it changed was rolled back"
            )),
        }
    })
}
