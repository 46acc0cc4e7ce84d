//! `mango.timing`: one `tracing` event per call.

use std::time::Instant;

use crate::chain::{Next, Request, Response, StepFuture};

/// One event per call, with the item's kind, name and app, the transport, the time and
/// the outcome.
pub(super) fn timing(req: &mut Request, next: Next) -> StepFuture<'_, Response> {
    Box::pin(async move {
        let started = Instant::now();
        let response = next.run(req).await;
        tracing::info!(
            kind = %req.target.kind,
            name = req.target.name,
            app = req.target.app,
            transport = %req.caller.transport,
            ms = started.elapsed().as_secs_f64() * 1000.0,
            outcome = if response.is_error() { "error" } else { "ok" },
            "call"
        );
        response
    })
}
