//! `mango.timeout`: the longest a call may run.

use std::time::Duration;

use crate::chain::{Next, Request, Response, StepFuture};

/// A call that runs past `[timeout] seconds` is stopped (its future dropped), gets an
/// error result, and its transaction is rolled back.
pub(super) fn timeout(req: &mut Request, next: Next) -> StepFuture<'_, Response> {
    Box::pin(async move {
        let seconds = req.settings().timeout.seconds.max(0.001);
        match tokio::time::timeout(Duration::from_secs_f64(seconds), next.run(req)).await {
            Ok(response) => response,
            Err(_) => Response::error(format!(
                "the call ran longer than {seconds} s ([timeout] seconds) and was stopped; what it changed was rolled back"
            )),
        }
    })
}
