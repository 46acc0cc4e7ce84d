//! `mango.rate_limit`: a token bucket per caller, kept by the running server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::chain::{Next, Request, Response, StepFuture};

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets of one server, by caller: its identity; else, over HTTP, its address
/// (without the port: one client's connections share it); else one for the anonymous
/// callers of a transport.
#[derive(Default)]
struct Buckets(Mutex<HashMap<String, Bucket>>);

/// Past this many callers, those whose buckets would be full again are forgotten (so
/// that many addresses cannot grow the map without bound).
const MAX_BUCKETS: usize = 10_000;

/// `[rate_limit] per_minute` on average, `burst` at once.
pub(super) fn rate_limit(req: &mut Request, next: Next) -> StepFuture<'_, Response> {
    Box::pin(async move {
        let limits = &req.settings().rate_limit;
        let per_second = f64::from(limits.per_minute.max(1)) / 60.0;
        let capacity = f64::from(limits.burst.max(1));
        // Bucketed by a key no other caller has; named by who they are.
        let (key, who) = match (&req.caller.identity, req.caller.address) {
            (Some(identity), _) => (identity.key(), identity.subject().to_owned()),
            (None, Some(address)) => {
                let who = format!("anonymous ({})", address.ip());
                (who.clone(), who)
            }
            (None, None) => {
                let who = format!("anonymous ({})", req.caller.transport);
                (who.clone(), who)
            }
        };
        let wait = {
            let buckets = req.state().scoped::<Buckets>();
            let mut buckets = buckets.0.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if buckets.len() > MAX_BUCKETS {
                // Callers that would be back to a full bucket lose nothing when forgotten.
                let full_after = capacity / per_second;
                buckets.retain(|_, b| now.duration_since(b.at).as_secs_f64() < full_after);
            }
            let bucket = buckets.entry(key.clone()).or_insert(Bucket {
                tokens: capacity,
                at: now,
            });
            bucket.tokens = (bucket.tokens
                + now.duration_since(bucket.at).as_secs_f64() * per_second)
                .min(capacity);
            bucket.at = now;
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
                None
            } else {
                Some((1.0 - bucket.tokens) / per_second)
            }
        };
        match wait {
            None => next.run(req).await,
            Some(seconds) => Response::error(format!(
                "rate limit: {who} may make {} calls a minute (bursts of {}); try again in {seconds:.1} s",
                limits.per_minute, limits.burst
            )),
        }
    })
}
