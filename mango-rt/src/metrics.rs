//! `[metrics]`: the server's numbers in Prometheus' text format, on a port of their own
//! (`GET /metrics`).
//!
//! What a call costs when metrics are on: two clock reads, a hash lookup of its item
//! and four relaxed atomic additions (the call's outcome, its duration's bucket, the
//! sum of durations, the calls in flight up and down); nothing when they are off. A
//! scrape reads the atomics and asks the pool, the audit queue and (when the project
//! has jobs or tasks) the database for their counts.
//!
//! Labels stay bounded: an item's kind, name and app are the project's own (a call of
//! a name no item has is not an item's call and is not counted here), the outcome one
//! of two; no label carries an argument, a caller or a client.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The upper bounds of the duration buckets, in seconds (mango's calls take from tens
/// of microseconds to seconds).
const BOUNDS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// One item's counts.
struct Item {
    kind: &'static str,
    name: &'static str,
    app: &'static str,
    ok: AtomicU64,
    error: AtomicU64,
    /// Calls by the first bucket their duration fits in (the last: above every bound).
    buckets: [AtomicU64; BOUNDS.len() + 1],
    /// The durations' sum, in nanoseconds.
    nanos: AtomicU64,
}

/// The counters of a running server (made when `[metrics] enabled`).
pub(crate) struct Metrics {
    items: Vec<Item>,
    /// `(kind, app, name)` → index in `items`.
    index: HashMap<(&'static str, &'static str, &'static str), usize>,
    in_flight: AtomicI64,
    build: Build,
}

/// What `mango_build_info` says.
pub(crate) struct Build {
    pub project: String,
    pub version: String,
}

/// A call being counted: [`Started::end`] counts it; dropped without it (the call was
/// stopped), it is only no longer in flight.
pub(crate) struct Started<'a> {
    metrics: &'a Metrics,
    item: Option<usize>,
    at: Instant,
}

impl Started<'_> {
    /// The call ended, failed or not.
    pub(crate) fn end(self, failed: bool) {
        let Some(item) = self.item.and_then(|i| self.metrics.items.get(i)) else {
            return;
        };
        let took = self.at.elapsed();
        let outcome = if failed { &item.error } else { &item.ok };
        outcome.fetch_add(1, Ordering::Relaxed);
        let seconds = took.as_secs_f64();
        let bucket = BOUNDS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BOUNDS.len());
        item.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        item.nanos.fetch_add(nanos(took), Ordering::Relaxed);
    }
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        self.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The numbers a scrape reads from outside the counters.
#[derive(Default)]
pub(crate) struct Gauges {
    /// The pool: connections open, idle, callers waiting for one, and the most it opens.
    pub pool: Option<Pool>,
    /// Audit rows queued, and the bytes they hold.
    pub audit: Option<(u64, u64)>,
    /// Jobs by status (when the project has jobs).
    pub jobs: Option<Counted>,
    /// Tasks by status (when the project has task tools).
    pub tasks: Option<Counted>,
}

/// A table's rows by status, or what kept them from being counted.
pub(crate) enum Counted {
    ByStatus(Vec<(String, i64)>),
    /// The database did not answer (what it said, for a comment in the exposition).
    Unanswered(String),
}

pub(crate) struct Pool {
    pub open: u64,
    pub idle: u64,
    pub waiting: u64,
    pub max: u64,
}

impl Metrics {
    /// Counters for `items`: (kind, name, app) of every item a call may reach.
    pub(crate) fn new(
        items: impl IntoIterator<Item = (&'static str, &'static str, &'static str)>,
        build: Build,
    ) -> Metrics {
        let mut list = Vec::new();
        let mut index = HashMap::new();
        for (kind, name, app) in items {
            if index.contains_key(&(kind, app, name)) {
                continue;
            }
            index.insert((kind, app, name), list.len());
            list.push(Item {
                kind,
                name,
                app,
                ok: AtomicU64::new(0),
                error: AtomicU64::new(0),
                buckets: std::array::from_fn(|_| AtomicU64::new(0)),
                nanos: AtomicU64::new(0),
            });
        }
        Metrics {
            items: list,
            index,
            in_flight: AtomicI64::new(0),
            build,
        }
    }

    /// A call of the item `kind` `name` of `app` starts.
    pub(crate) fn start(
        &self,
        kind: &'static str,
        app: &'static str,
        name: &'static str,
    ) -> Started<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Started {
            metrics: self,
            item: self.index.get(&(kind, app, name)).copied(),
            at: Instant::now(),
        }
    }

    /// The exposition (Prometheus' text format 0.0.4).
    pub(crate) fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096 + self.items.len() * 2048);
        family(
            &mut out,
            "mango_build_info",
            "gauge",
            "The project and the version of mango it was built with (always 1).",
        );
        let _ = writeln!(
            out,
            "mango_build_info{{project=\"{}\",project_version=\"{}\",mango_version=\"{}\"}} 1",
            escape(&self.build.project),
            escape(&self.build.version),
            env!("CARGO_PKG_VERSION")
        );
        family(
            &mut out,
            "mango_calls_total",
            "counter",
            "Calls of the project's items, by kind, item and outcome (error: an error result or a failure).",
        );
        for item in &self.items {
            for (outcome, count) in [("ok", &item.ok), ("error", &item.error)] {
                let _ = writeln!(
                    out,
                    "mango_calls_total{{kind=\"{}\",name=\"{}\",app=\"{}\",outcome=\"{outcome}\"}} {}",
                    item.kind,
                    escape(item.name),
                    escape(item.app),
                    count.load(Ordering::Relaxed)
                );
            }
        }
        family(
            &mut out,
            "mango_call_duration_seconds",
            "histogram",
            "How long calls took, through the middleware and the transaction's end, by kind and item.",
        );
        for item in &self.items {
            let labels = format!(
                "kind=\"{}\",name=\"{}\",app=\"{}\"",
                item.kind,
                escape(item.name),
                escape(item.app)
            );
            let mut seen = 0;
            for (bound, count) in BOUNDS.iter().zip(&item.buckets) {
                seen += count.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "mango_call_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {seen}"
                );
            }
            seen += item.buckets[BOUNDS.len()].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "mango_call_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {seen}"
            );
            let sum = item.nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "mango_call_duration_seconds_sum{{{labels}}} {sum}");
            let _ = writeln!(out, "mango_call_duration_seconds_count{{{labels}}} {seen}");
        }
        gauge(
            &mut out,
            "mango_calls_in_flight",
            "Calls running now.",
            self.in_flight.load(Ordering::Relaxed).max(0),
        );
        if let Some(pool) = &gauges.pool {
            family(
                &mut out,
                "mango_db_connections",
                "gauge",
                "The database pool's connections, by state (idle, in use).",
            );
            let _ = writeln!(out, "mango_db_connections{{state=\"idle\"}} {}", pool.idle);
            let _ = writeln!(
                out,
                "mango_db_connections{{state=\"in_use\"}} {}",
                pool.open.saturating_sub(pool.idle)
            );
            gauge(
                &mut out,
                "mango_db_connections_max",
                "The most connections the pool opens ([database] pool_size).",
                pool.max,
            );
            gauge(
                &mut out,
                "mango_db_connections_waiting",
                "Calls waiting for a connection of the pool.",
                pool.waiting,
            );
        }
        if let Some((rows, bytes)) = gauges.audit {
            gauge(
                &mut out,
                "mango_audit_queue_rows",
                "Audit rows queued for the writer (mango.audit).",
                rows,
            );
            gauge(
                &mut out,
                "mango_audit_queue_bytes",
                "The bytes the audit rows in memory hold (queued, or held while the database refuses them).",
                bytes,
            );
        }
        for (name, help, counts) in [
            (
                "mango_jobs",
                "The project's jobs in the database, by status (every server's).",
                &gauges.jobs,
            ),
            (
                "mango_tasks",
                "Tasks in the database, by status (every server's).",
                &gauges.tasks,
            ),
        ] {
            match counts {
                Some(Counted::ByStatus(counts)) => {
                    family(&mut out, name, "gauge", help);
                    for (status, count) in counts {
                        let _ = writeln!(out, "{name}{{status=\"{}\"}} {count}", escape(status));
                    }
                }
                // The database did not answer: the family is left out (Prometheus then
                // marks it stale), and the scrape says so in a comment.
                Some(Counted::Unanswered(why)) => {
                    let _ = writeln!(out, "# {name} left out: {}", why.replace('\n', " "));
                }
                None => {}
            }
        }
        process(&mut out);
        out
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value as the text format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The process's own: CPU seconds, resident memory, open files, start time (Linux's
/// /proc; elsewhere left out), named as Prometheus' client libraries name them.
fn process(out: &mut String) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // After the command's closing parenthesis: state is field 3; utime 14, stime 15,
    // starttime 22, rss 24 (in pages).
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    // The kernel's clock ticks and pages: 100 and 4096 on the Linux machines mango
    // runs on (sysconf is not reached without libc).
    const TICKS: f64 = 100.0;
    const PAGE: u64 = 4096;
    if let (Some(user), Some(system)) = (field(14), field(15)) {
        family(
            out,
            "process_cpu_seconds_total",
            "counter",
            "CPU time the process used, user and system, in seconds.",
        );
        let _ = writeln!(
            out,
            "process_cpu_seconds_total {}",
            (user + system) as f64 / TICKS
        );
    }
    if let Some(pages) = field(24) {
        gauge(
            out,
            "process_resident_memory_bytes",
            "Resident memory of the process, in bytes.",
            pages * PAGE,
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        gauge(
            out,
            "process_open_fds",
            "Open file descriptors.",
            fds.count(),
        );
    }
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<u64>().ok())
    });
    if let (Some(boot), Some(start)) = (boot, field(22)) {
        gauge(
            out,
            "process_start_time_seconds",
            "When the process started, in seconds since the Unix epoch.",
            boot as f64 + start as f64 / TICKS,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_land_in_their_item_and_bucket() {
        let metrics = Metrics::new(
            [
                ("tool", "shop_add", "shop"),
                ("resource", "shop://x", "shop"),
            ],
            Build {
                project: "site".into(),
                version: "0.1.0".into(),
            },
        );
        metrics.start("tool", "shop", "shop_add").end(false);
        metrics.start("tool", "shop", "shop_add").end(true);
        // Not an item: in flight while it runs, counted nowhere after; a call stopped
        // (dropped) is no longer in flight, and not counted.
        let stray = metrics.start("tool", "shop", "nope");
        let stopped = metrics.start("resource", "shop", "shop://x");
        let text = metrics.render(&Gauges::default());
        assert!(text.contains("mango_calls_in_flight 2"), "{text}");
        stray.end(false);
        drop(stopped);
        let text = metrics.render(&Gauges::default());
        for line in [
            "mango_calls_total{kind=\"tool\",name=\"shop_add\",app=\"shop\",outcome=\"ok\"} 1",
            "mango_calls_total{kind=\"tool\",name=\"shop_add\",app=\"shop\",outcome=\"error\"} 1",
            "mango_calls_total{kind=\"resource\",name=\"shop://x\",app=\"shop\",outcome=\"ok\"} 0",
            "mango_call_duration_seconds_bucket{kind=\"tool\",name=\"shop_add\",app=\"shop\",le=\"10\"} 2",
            "mango_call_duration_seconds_bucket{kind=\"tool\",name=\"shop_add\",app=\"shop\",le=\"+Inf\"} 2",
            "mango_call_duration_seconds_count{kind=\"tool\",name=\"shop_add\",app=\"shop\"} 2",
            "mango_calls_in_flight 0",
            "mango_build_info{project=\"site\",project_version=\"0.1.0\",mango_version=",
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
        assert!(!text.contains("nope"), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
