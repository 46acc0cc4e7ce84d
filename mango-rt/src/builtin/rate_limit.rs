//! `mango.rate_limit`: a token bucket per caller, kept by the running server.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::chain::{Next, Request, Response, StepFuture};

struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: capacity,
            at: now,
        }
    }

    /// Refills the bucket to `now` and takes a token: `None` when there was one, else
    /// the seconds until there is.
    fn take(&mut self, now: Instant, capacity: f64, per_second: f64) -> Option<f64> {
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * per_second).min(capacity);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            None
        } else {
            Some((1.0 - self.tokens) / per_second)
        }
    }
}

/// The buckets of one server, by caller: its identity; else, over HTTP, its address
/// (without the port: one client's connections share it; an IPv6 address by its /64,
/// the block one client is given); else one for the anonymous callers of a transport.
#[derive(Default)]
struct Buckets(Mutex<Generations>);

/// Two generations of buckets. A bucket left alone for as long as it takes to fill up
/// again loses nothing when forgotten, so every `full_after` the older generation is
/// dropped whole and the current one becomes the older: forgetting costs O(1) per call,
/// with no scan of the map. A caller found in the older generation moves back.
#[derive(Default)]
struct Generations {
    current: HashMap<String, Bucket>,
    older: HashMap<String, Bucket>,
    turned: Option<Instant>,
}

/// The most callers with a bucket of their own within one generation; past it, new
/// callers share one bucket (so that a flood of addresses cannot grow the map without
/// bound; they are limited together until the flood's buckets are forgotten).
const MAX_BUCKETS: usize = 10_000;

/// The key of the bucket new callers share once [`MAX_BUCKETS`] have their own.
const CROWD: &str = "anonymous (one of too many callers at once)";

impl Generations {
    /// Takes a token from `key`'s bucket (`capacity` at most, refilled at `per_second`):
    /// `None` when there was one, else the seconds until there is.
    fn take(&mut self, key: &str, now: Instant, capacity: f64, per_second: f64) -> Option<f64> {
        let full_after = Duration::from_secs_f64(capacity / per_second);
        match self.turned {
            None => self.turned = Some(now),
            Some(at) if now.duration_since(at) >= full_after => {
                self.older = std::mem::take(&mut self.current);
                self.turned = Some(now);
            }
            Some(_) => {}
        }
        // A known caller's bucket is found without making a key (no allocation).
        if let Some(bucket) = self.current.get_mut(key) {
            return bucket.take(now, capacity, per_second);
        }
        let (key, bucket) = match self.older.remove_entry(key) {
            Some(found) => found,
            None if self.current.len() >= MAX_BUCKETS => {
                (CROWD.to_owned(), Bucket::full(capacity, now))
            }
            None => (key.to_owned(), Bucket::full(capacity, now)),
        };
        self.current
            .entry(key)
            .or_insert(bucket)
            .take(now, capacity, per_second)
    }
}

/// How an address is named and bucketed: an IPv4 address as it is, an IPv6 one by its
/// /64 (a client is given a whole /64 and can use any address in it).
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
    }
}

/// `[rate_limit] per_minute` on average, `burst` at once.
pub(super) fn rate_limit(req: &mut Request, next: Next) -> StepFuture<'_, Response> {
    Box::pin(async move {
        // A worker running a job is not a client.
        if req.target.kind == crate::call::Kind::Job {
            return next.run(req).await;
        }
        let limits = &req.settings().rate_limit;
        let per_second = f64::from(limits.per_minute.max(1)) / 60.0;
        let capacity = f64::from(limits.burst.max(1));
        // Bucketed by a key no other caller has; named by who they are.
        let (key, who) = match (&req.caller.identity, req.caller.address) {
            (Some(identity), _) => (identity.key(), identity.subject().to_owned()),
            (None, Some(address)) => {
                let who = format!("anonymous ({})", address_key(address.ip()));
                (who.clone(), who)
            }
            (None, None) => {
                let who = format!("anonymous ({})", req.caller.transport);
                (who.clone(), who)
            }
        };
        let wait = {
            let buckets = req.state().scoped::<Buckets>();
            let mut generations = buckets.0.lock().unwrap_or_else(|p| p.into_inner());
            generations.take(&key, Instant::now(), capacity, per_second)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_keyed_by_its_64_and_a_mapped_ipv4_by_its_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff"
            .parse()
            .unwrap_or(IpAddr::from([0; 4]));
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(address_key(a), "2001:db8:1:2::/64");
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap_or(IpAddr::from([0; 4]));
        assert_eq!(address_key(mapped), "192.0.2.7");
        assert_eq!(address_key(IpAddr::from([192, 0, 2, 7])), "192.0.2.7");
    }

    #[test]
    fn a_flood_of_addresses_from_one_64_is_one_bucket() {
        let mut g = Generations::default();
        let now = Instant::now();
        let mut refused = 0;
        for i in 0..1000u16 {
            let ip = IpAddr::from([0x2001, 0xdb8, 7, 7, i, i, i, i]);
            if g.take(&address_key(ip), now, 4.0, 0.1).is_some() {
                refused += 1;
            }
        }
        assert_eq!(g.current.len(), 1);
        assert_eq!(refused, 996, "a burst of 4, then refused");
    }

    #[test]
    fn buckets_are_forgotten_once_full_again_and_the_map_stays_bounded() {
        let mut g = Generations::default();
        let start = Instant::now();
        // burst 2, one token a second: full again after 2 s.
        assert!(g.take("a", start, 2.0, 1.0).is_none());
        assert!(g.take("a", start, 2.0, 1.0).is_none());
        assert!(g.take("a", start, 2.0, 1.0).is_some(), "the burst is spent");
        // Within one generation a caller is remembered, across one it moves back.
        let later = start + Duration::from_secs(2);
        assert!(g.take("b", later, 2.0, 1.0).is_none());
        assert!(g.older.contains_key("a") && g.current.contains_key("b"));
        // Two generations on, a caller left alone is gone (its bucket was full anyway).
        let much_later = start + Duration::from_secs(4);
        assert!(g.take("b", much_later, 2.0, 1.0).is_none());
        assert!(!g.current.contains_key("a") && !g.older.contains_key("a"));
        // A flood of distinct callers within one generation: at most MAX_BUCKETS + the
        // shared one; the ones past the cap share a bucket and are refused together.
        let mut g = Generations::default();
        let mut refused = 0;
        for i in 0..(MAX_BUCKETS + 100) {
            if g.take(&format!("caller {i}"), start, 2.0, 1.0).is_some() {
                refused += 1;
            }
        }
        assert_eq!(g.current.len(), MAX_BUCKETS + 1);
        assert_eq!(refused, 98, "100 past the cap share a burst of 2");
    }
}
