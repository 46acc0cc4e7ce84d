//! The benchmark's results: what one run measured, the targets of issue #6 checked
//! against it (as ratios within the run), and the Markdown and JSON it is written as.

use serde::{Deserialize, Serialize};

/// The server names the report knows (the rows of its tables).
pub const MANGO: &str = "mango";
/// mango with `mango.auth` checking an OAuth JWT access token on every request (the
/// authorization server's keys fetched once and kept).
pub const MANGO_JWT: &str = "mango, OAuth JWT";
/// mango with `mango.auth` checking a user's API token (`[auth] users`) on every
/// request (its lookup kept `[auth] token_cache` seconds).
pub const MANGO_USER_TOKEN: &str = "mango, user token";
/// mango with `mango.audit` writing a row per call to the project's SQLite database.
pub const MANGO_AUDIT: &str = "mango, audit log";
/// mango with `[metrics]` on, its `/metrics` scraped every second during the cell.
pub const MANGO_METRICS: &str = "mango, metrics";
/// mango built with mango-rt's `telemetry` feature, `[telemetry]` off.
pub const MANGO_TELEMETRY_OFF: &str = "mango, telemetry off";
/// mango exporting every call's spans over OTLP/HTTP (`[telemetry]` export, sampling
/// ratio 1.0) to an endpoint on the same machine.
pub const MANGO_TRACES: &str = "mango, traces exported";
pub const RAW: &str = "raw rmcp";
pub const RAW_PER_CALL: &str = "raw rmcp, connection per call";
pub const ECHO: &str = "axum echo";
pub const FASTMCP: &str = "FastMCP";

/// One HTTP cell: a server, a tool and a concurrency, medians over the repetitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpCell {
    pub server: String,
    pub tool: String,
    pub concurrency: usize,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Replies that did not count (see the load generator's rule), over all repetitions.
    pub errors: u64,
    pub repetitions: usize,
    /// The server's CPU time (every thread's) per counted reply, in µs: the median over
    /// the repetitions, when it was measured.
    #[serde(default)]
    pub cpu_us: Option<f64>,
}

/// Sequential `add` calls over stdio, and the cold start to the first `tools/list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StdioRow {
    pub server: String,
    pub cold_start_ms: f64,
    pub calls_per_second: f64,
}

/// Resident memory of an HTTP server: idle (listening, before any request) and the
/// high-water mark after its heaviest cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryRow {
    pub server: String,
    pub idle_mib: f64,
    pub peak_mib: f64,
}

/// Latency of one `tools/list` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// `tools/list` with many tools, in process (what the `tools-list` binary prints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolsList {
    pub tools: usize,
    pub answer_bytes: usize,
    pub mango: Timing,
    #[serde(rename = "raw rmcp")]
    pub raw: Timing,
}

impl ToolsList {
    /// Reads the last line of the `tools-list` binary's output.
    pub fn parse(stdout: &str) -> Result<ToolsList, String> {
        let line = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .ok_or("tools-list printed nothing")?;
        serde_json::from_str(line).map_err(|e| format!("tools-list printed {line:?}: {e}"))
    }
}

/// A tool call in two MRTR rounds (protocol 2026-07-28) against two plain calls, in
/// process (what the `rounds` binary prints).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rounds {
    #[serde(rename = "two rounds")]
    pub two_rounds: Timing,
    #[serde(rename = "two calls")]
    pub two_calls: Timing,
}

impl Rounds {
    /// Reads the last line of the `rounds` binary's output.
    pub fn parse(stdout: &str) -> Result<Rounds, String> {
        let line = stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .ok_or("rounds printed nothing")?;
        serde_json::from_str(line).map_err(|e| format!("rounds printed {line:?}: {e}"))
    }
}

/// A task-mode call of a no-op tool polled to completion (`tasks/get` with no wait
/// between), against a plain call of it: HTTP, 2026-07-28, one connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskCost {
    pub plain: Timing,
    pub task: Timing,
    /// `tasks/get` requests per task, on average.
    pub polls_per_task: f64,
    /// The server's CPU time (every thread's) per plain call and per task (its call
    /// and its polls), when the benchmark started the server.
    #[serde(default)]
    pub server_cpu: Option<CpuCost>,
}

/// CPU time of the server per plain call and per task, in µs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuCost {
    pub plain_us: f64,
    pub task_us: f64,
}

/// No-op jobs completed per second by `run worker --workers <workers>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    pub database: String,
    pub workers: usize,
    pub jobs: usize,
    pub per_second: f64,
}

/// The worker's peak RSS once `ran` no-op jobs have completed, with `small` and with
/// `large` jobs queued at its start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobsMemory {
    pub ran: usize,
    pub small: usize,
    pub small_peak_mib: f64,
    pub large: usize,
    pub large_peak_mib: f64,
}

/// Debug build times of a project made by `startproject` + `startapp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildCost {
    /// The first build; a clean one only when `clean` (the quick mode keeps its target
    /// directory between runs).
    pub first_build_s: f64,
    pub clean: bool,
    /// The rebuild after editing one tool's body: the median of three edits.
    pub rebuild_s: f64,
}

/// Where the numbers came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub kernel: String,
    /// Server on core 0, load generator on core 1.
    pub pinned: bool,
    pub date: String,
}

/// Everything one run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub machine: Machine,
    pub quick: bool,
    /// Seconds measured per HTTP cell, and the repetitions each median is over.
    pub seconds_per_cell: f64,
    pub repetitions: usize,
    pub fastmcp_version: Option<String>,
    pub http: Vec<HttpCell>,
    pub stdio: Vec<StdioRow>,
    pub memory: Vec<MemoryRow>,
    pub tools_list: Option<ToolsList>,
    #[serde(default)]
    pub rounds: Option<Rounds>,
    pub build: Option<BuildCost>,
    #[serde(default)]
    pub tasks: Option<TaskCost>,
    /// On SQLite (`all`); PostgreSQL's are in the `scale` run's report.
    #[serde(default)]
    pub jobs: Vec<Throughput>,
    #[serde(default)]
    pub jobs_memory: Option<JobsMemory>,
}

/// One target of issue #6, as measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub what: &'static str,
    pub goal: &'static str,
    /// The measured value as shown (a ratio or a time); `None` when not measured.
    pub measured: Option<String>,
    pub met: Option<bool>,
}

impl Report {
    pub fn cell(&self, server: &str, tool: &str, concurrency: usize) -> Option<&HttpCell> {
        self.http
            .iter()
            .find(|c| c.server == server && c.tool == tool && c.concurrency == concurrency)
    }

    fn stdio_row(&self, server: &str) -> Option<&StdioRow> {
        self.stdio.iter().find(|r| r.server == server)
    }

    fn memory_row(&self, server: &str) -> Option<&MemoryRow> {
        self.memory.iter().find(|r| r.server == server)
    }

    /// `value(mango) / value(baseline)`, when both were measured and the baseline is
    /// not zero.
    fn ratio<T>(mango: Option<&T>, baseline: Option<&T>, value: impl Fn(&T) -> f64) -> Option<f64> {
        let (m, b) = (value(mango?), value(baseline?));
        (b > 0.0).then(|| m / b)
    }

    /// The targets, each with what this run measured.
    pub fn checks(&self) -> Vec<Check> {
        let at_least = |what, goal, ratio: Option<f64>, min: f64| Check {
            what,
            goal,
            measured: ratio.map(|r| format!("{r:.2}×")),
            met: ratio.map(|r| r >= min),
        };
        let at_most = |what, goal, ratio: Option<f64>, max: f64| Check {
            what,
            goal,
            measured: ratio.map(|r| format!("{r:.2}×")),
            met: ratio.map(|r| r <= max),
        };
        let under = |what, goal, value: Option<f64>, unit: &str, max: f64| Check {
            what,
            goal,
            measured: value.map(|v| format!("{v:.2} {unit}")),
            met: value.map(|v| v < max),
        };
        let rps = |c: &HttpCell| c.requests_per_second;
        // The server's CPU time per request at c=64, `server` against `baseline`: what a
        // request costs, which the load generator sharing the cores does not blur.
        let cpu_ratio = |server: &str, baseline: &str| {
            let m = self.cell(server, "add", 64)?.cpu_us?;
            let b = self.cell(baseline, "add", 64)?.cpu_us?;
            (b > 0.0).then(|| m / b)
        };
        let mut checks = vec![
            at_least(
                "`add` over HTTP, c=64, req/s",
                "≥ 0.90× raw rmcp",
                Self::ratio(self.cell(MANGO, "add", 64), self.cell(RAW, "add", 64), rps),
                0.90,
            ),
            at_most(
                "`add` over HTTP, c=64, p99",
                "≤ 1.2× raw rmcp",
                Self::ratio(
                    self.cell(MANGO, "add", 64),
                    self.cell(RAW, "add", 64),
                    |c| c.p99_ms,
                ),
                1.2,
            ),
            at_least(
                "`add` over HTTP, c=64, each request with an OAuth JWT access token, req/s",
                "≥ 0.95× mango without authentication",
                Self::ratio(
                    self.cell(MANGO_JWT, "add", 64),
                    self.cell(MANGO, "add", 64),
                    rps,
                ),
                0.95,
            ),
            at_most(
                "`add` over HTTP, c=64, each request with an OAuth JWT access token, the server's CPU time per request",
                "≤ 1.05× mango without authentication",
                cpu_ratio(MANGO_JWT, MANGO),
                1.05,
            ),
            at_least(
                "`add` over HTTP, c=64, each request with a user's API token (`[auth] users`), req/s",
                "≥ 0.95× mango without authentication",
                Self::ratio(
                    self.cell(MANGO_USER_TOKEN, "add", 64),
                    self.cell(MANGO, "add", 64),
                    rps,
                ),
                0.95,
            ),
            at_most(
                "`add` over HTTP, c=64, each request with a user's API token, the server's CPU time per request",
                "≤ 1.05× mango without authentication",
                cpu_ratio(MANGO_USER_TOKEN, MANGO),
                1.05,
            ),
            at_least(
                "`add` over HTTP, c=64, with `[metrics]` on and `/metrics` scraped every second, req/s",
                "≥ 0.95× mango without them",
                Self::ratio(
                    self.cell(MANGO_METRICS, "add", 64),
                    self.cell(MANGO, "add", 64),
                    rps,
                ),
                0.95,
            ),
            at_most(
                "`add` over HTTP, c=64, with `[metrics]` on and `/metrics` scraped every second, the server's CPU time per request",
                "≤ 1.02× mango without them",
                cpu_ratio(MANGO_METRICS, MANGO),
                1.02,
            ),
            at_least(
                "`add` over HTTP, c=64, built with the `telemetry` feature, `[telemetry]` off, req/s",
                "≥ 0.98× mango without it",
                Self::ratio(
                    self.cell(MANGO_TELEMETRY_OFF, "add", 64),
                    self.cell(MANGO, "add", 64),
                    rps,
                ),
                0.98,
            ),
            at_least(
                "`add` over HTTP, c=64, every call's spans exported over OTLP (sampling ratio 1.0), req/s",
                "≥ 0.90× mango without telemetry",
                Self::ratio(
                    self.cell(MANGO_TRACES, "add", 64),
                    self.cell(MANGO, "add", 64),
                    rps,
                ),
                0.90,
            ),
            at_least(
                "`add` over HTTP, c=64, with the audit log (`mango.audit`, a row per call on SQLite), req/s",
                "≥ 0.85× mango without it",
                Self::ratio(
                    self.cell(MANGO_AUDIT, "add", 64),
                    self.cell(MANGO, "add", 64),
                    rps,
                ),
                0.85,
            ),
            at_least(
                "`note_add` over HTTP, c=64, req/s",
                "≥ 3× raw rmcp with a connection per call",
                Self::ratio(
                    self.cell(MANGO, "note_add", 64),
                    self.cell(RAW_PER_CALL, "note_add", 64),
                    rps,
                ),
                3.0,
            ),
            at_least(
                "`note_add` over HTTP, c=64, req/s",
                "≥ 0.90× raw rmcp (pooled)",
                Self::ratio(
                    self.cell(MANGO, "note_add", 64),
                    self.cell(RAW, "note_add", 64),
                    rps,
                ),
                0.90,
            ),
            at_least(
                "`resources/read` of a small static resource over HTTP, c=64, req/s",
                "≥ 0.90× mango's `add`",
                Self::ratio(
                    self.cell(MANGO, "read", 64),
                    self.cell(MANGO, "add", 64),
                    rps,
                ),
                0.90,
            ),
            at_least(
                "`prompts/get` over HTTP, c=64, req/s",
                "≥ 0.90× mango's `add`",
                Self::ratio(
                    self.cell(MANGO, "prompt", 64),
                    self.cell(MANGO, "add", 64),
                    rps,
                ),
                0.90,
            ),
            at_most(
                "a model's query tool: 50 of 100,000 rows, filtered and ordered on an index, c=8, cost per call",
                "≤ 1.2× the same Diesel query in a hand-written tool",
                Self::ratio(
                    self.cell(MANGO, "hand_query", 8),
                    self.cell(MANGO, "model_query", 8),
                    rps,
                ),
                1.2,
            ),
            at_most(
                "a model's get tool, one row by id, c=8, cost per call",
                "≤ 1.1× the same Diesel query in a hand-written tool",
                Self::ratio(
                    self.cell(MANGO, "hand_get", 8),
                    self.cell(MANGO, "model_get", 8),
                    rps,
                ),
                1.1,
            ),
            at_least(
                "stdio, sequential `add` calls/s",
                "≥ 0.90× raw rmcp",
                Self::ratio(self.stdio_row(MANGO), self.stdio_row(RAW), |r| {
                    r.calls_per_second
                }),
                0.90,
            ),
            at_most(
                "cold start to the first `tools/list`",
                "≤ 2× raw rmcp",
                Self::ratio(self.stdio_row(MANGO), self.stdio_row(RAW), |r| {
                    r.cold_start_ms
                }),
                2.0,
            ),
            at_most(
                "idle RSS",
                "≤ 1.5× raw rmcp",
                Self::ratio(self.memory_row(MANGO), self.memory_row(RAW), |r| r.idle_mib),
                1.5,
            ),
            at_most(
                "`tools/list` with 1,000 tools, in process (p50)",
                "≤ 1.1× raw rmcp",
                self.tools_list
                    .as_ref()
                    .and_then(|t| (t.raw.p50_ms > 0.0).then(|| t.mango.p50_ms / t.raw.p50_ms)),
                1.1,
            ),
            // A round may cost up to one plain call more than the call itself: two
            // rounds at most four plain calls, twice the two calls' time.
            at_most(
                "a call in two MRTR rounds, against two plain calls, in process (p50)",
                "≤ 2× (a round adds ≤ one call)",
                self.rounds.as_ref().and_then(|r| {
                    (r.two_calls.p50_ms > 0.0).then(|| r.two_rounds.p50_ms / r.two_calls.p50_ms)
                }),
                2.0,
            ),
            // The measure is the server's time: its CPU time when known (the
            // client's round trips are not the server's), else the latency's p50.
            match self.tasks.as_ref().and_then(|t| t.server_cpu.as_ref()) {
                Some(cpu) => at_most(
                    "a task-mode call of a no-op tool polled to completion, against a plain call (HTTP, the server's CPU time)",
                    "≤ 3×",
                    (cpu.plain_us > 0.0).then(|| cpu.task_us / cpu.plain_us),
                    3.0,
                ),
                None => at_most(
                    "a task-mode call of a no-op tool polled to completion, against a plain call (HTTP, p50)",
                    "≤ 3×",
                    self.tasks.as_ref().and_then(|t| {
                        (t.plain.p50_ms > 0.0).then(|| t.task.p50_ms / t.plain.p50_ms)
                    }),
                    3.0,
                ),
            },
            at_most(
                "a worker's peak RSS with 100,000 jobs queued, against a queue of only the jobs it ran",
                "≤ 1.2× (flat)",
                self.jobs_memory.as_ref().and_then(|m| {
                    (m.small_peak_mib > 0.0).then(|| m.large_peak_mib / m.small_peak_mib)
                }),
                1.2,
            ),
            under(
                "rebuild after editing one tool body (debug)",
                "< 3 s",
                self.build.as_ref().map(|b| b.rebuild_s),
                "s",
                3.0,
            ),
        ];
        let clean = self.build.as_ref().filter(|b| b.clean);
        checks.push(under(
            "clean debug build of a new project",
            "< 120 s",
            clean.map(|b| b.first_build_s),
            "s",
            120.0,
        ));
        checks
    }

    /// The report as Markdown: the targets, then every table.
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut out = format!(
            "Measured {} on {} ({} CPUs, {}){}; {}.\n\n",
            m.date,
            m.cpu_model,
            m.cpus,
            m.kernel,
            if m.pinned {
                ", server pinned to core 0 and load generator to core 1"
            } else {
                ", unpinned"
            },
            if self.quick {
                "quick mode: a smoke test, not a measurement".to_owned()
            } else {
                format!(
                    "{:.0} s per HTTP cell, medians of {}",
                    self.seconds_per_cell, self.repetitions
                )
            }
        );
        out.push_str("| target | goal | measured | |\n|---|---|---|---|\n");
        for c in self.checks() {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                c.what,
                c.goal,
                c.measured.as_deref().unwrap_or("not measured"),
                match c.met {
                    Some(true) => "met",
                    Some(false) => "**missed**",
                    None => "",
                }
            ));
        }
        out.push_str(
            "\nStreamable HTTP, stateless JSON:\n\n| tool | c | server | req/s | × raw rmcp | p50 ms | p99 ms | server CPU µs/req | errors |\n|---|---|---|---|---|---|---|---|---|\n",
        );
        for c in &self.http {
            let ratio = Self::ratio(Some(c), self.cell(RAW, &c.tool, c.concurrency), |c| {
                c.requests_per_second
            });
            out.push_str(&format!(
                "| {} | {} | {} | {:.0} | {} | {:.2} | {:.2} | {} | {} |\n",
                c.tool,
                c.concurrency,
                c.server,
                c.requests_per_second,
                ratio.map_or("".into(), |r| format!("{r:.2}")),
                c.p50_ms,
                c.p99_ms,
                c.cpu_us.map_or("".into(), |us| format!("{us:.1}")),
                c.errors
            ));
        }
        out.push_str(
            "\nstdio:\n\n| server | cold start to `tools/list` (ms) | sequential `add` calls/s |\n|---|---|---|\n",
        );
        for r in &self.stdio {
            out.push_str(&format!(
                "| {} | {:.1} | {:.0} |\n",
                r.server, r.cold_start_ms, r.calls_per_second
            ));
        }
        out.push_str(
            "\nmemory of the HTTP servers:\n\n| server | idle RSS (MiB) | peak RSS (MiB) |\n|---|---|---|\n",
        );
        for r in &self.memory {
            out.push_str(&format!(
                "| {} | {:.1} | {:.1} |\n",
                r.server, r.idle_mib, r.peak_mib
            ));
        }
        if let Some(t) = &self.tools_list {
            out.push_str(&format!(
                "\n`tools/list` with {} tools, in process ({} KiB answer): mango p50 {:.2} ms, p99 {:.2} ms; raw rmcp p50 {:.2} ms, p99 {:.2} ms.\n",
                t.tools,
                t.answer_bytes / 1024,
                t.mango.p50_ms,
                t.mango.p99_ms,
                t.raw.p50_ms,
                t.raw.p99_ms
            ));
        }
        if let Some(r) = &self.rounds {
            out.push_str(&format!(
                "\nA tool call in two MRTR rounds (2026-07-28: `input_required`, then the answer with its signed state), in process: p50 {:.3} ms, p99 {:.3} ms; two plain calls: p50 {:.3} ms, p99 {:.3} ms.\n",
                r.two_rounds.p50_ms, r.two_rounds.p99_ms, r.two_calls.p50_ms, r.two_calls.p99_ms
            ));
        }
        if let Some(t) = &self.tasks {
            out.push_str(&format!(
                "\nA task-mode call of a no-op tool polled to completion (HTTP, 2026-07-28, one connection, `tasks/get` with no wait between, {:.1} per task): p50 {:.3} ms, p99 {:.3} ms; a plain call of it: p50 {:.3} ms, p99 {:.3} ms.\n",
                t.polls_per_task, t.task.p50_ms, t.task.p99_ms, t.plain.p50_ms, t.plain.p99_ms
            ));
            if let Some(cpu) = &t.server_cpu {
                out.push_str(&format!(
                    "The server's CPU time (every thread's): {:.1} µs per task, {:.1} µs per plain call.\n",
                    cpu.task_us, cpu.plain_us
                ));
            }
        }
        if !self.jobs.is_empty() {
            out.push_str(
                "\nJobs (`run worker`, no-op jobs, from the first one's end to the last's):\n\n| database | workers | jobs | jobs/s |\n|---|---|---|---|\n",
            );
            for j in &self.jobs {
                out.push_str(&format!(
                    "| {} | {} | {} | {:.0} |\n",
                    j.database, j.workers, j.jobs, j.per_second
                ));
            }
        }
        if let Some(m) = &self.jobs_memory {
            out.push_str(&format!(
                "\nA worker's peak RSS (4 workers) once {} jobs have run: {:.1} MiB with {} queued, {:.1} MiB with {} queued.\n",
                m.ran, m.small_peak_mib, m.small, m.large_peak_mib, m.large
            ));
        }
        if let Some(b) = &self.build {
            out.push_str(&format!(
                "\nBuild cost (debug, `startproject` + `startapp`): {} build {:.1} s; rebuild after editing one tool body {:.2} s.\n",
                if b.clean { "clean" } else { "first (not clean)" },
                b.first_build_s,
                b.rebuild_s
            ));
        }
        if let Some(v) = &self.fastmcp_version {
            out.push_str(&format!("\nFastMCP {v} (Python), from PyPI.\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(server: &str, tool: &str, concurrency: usize, rps: f64, p99: f64) -> HttpCell {
        HttpCell {
            server: server.into(),
            tool: tool.into(),
            concurrency,
            requests_per_second: rps,
            p50_ms: p99 / 2.0,
            p99_ms: p99,
            errors: 0,
            repetitions: 3,
            cpu_us: Some(1e6 / rps),
        }
    }

    fn report() -> Report {
        Report {
            machine: Machine {
                cpus: 2,
                cpu_model: "Test CPU".into(),
                kernel: "Linux 6".into(),
                pinned: true,
                date: "2026-11-25".into(),
            },
            quick: false,
            seconds_per_cell: 10.0,
            repetitions: 3,
            fastmcp_version: None,
            http: vec![
                cell(MANGO, "add", 64, 38_000.0, 2.2),
                cell(RAW, "add", 64, 40_000.0, 2.0),
                HttpCell {
                    // The load generator's share of the cores took req/s down; the
                    // server's CPU per request says what the token cost.
                    cpu_us: Some(26.8), // 1.02× the 26.3 µs of mango without a token
                    ..cell(MANGO_USER_TOKEN, "add", 64, 34_000.0, 2.4)
                },
                cell(MANGO, "note_add", 64, 7_000.0, 12.0),
                cell(RAW, "note_add", 64, 8_000.0, 10.0),
                cell(RAW_PER_CALL, "note_add", 64, 2_000.0, 40.0),
            ],
            stdio: vec![
                StdioRow {
                    server: MANGO.into(),
                    cold_start_ms: 6.0,
                    calls_per_second: 10_000.0,
                },
                StdioRow {
                    server: RAW.into(),
                    cold_start_ms: 4.0,
                    calls_per_second: 10_500.0,
                },
            ],
            memory: vec![
                MemoryRow {
                    server: MANGO.into(),
                    idle_mib: 12.0,
                    peak_mib: 20.0,
                },
                MemoryRow {
                    server: RAW.into(),
                    idle_mib: 7.5,
                    peak_mib: 15.0,
                },
            ],
            tools_list: Some(ToolsList {
                tools: 1000,
                answer_bytes: 300_000,
                mango: Timing {
                    p50_ms: 1.5,
                    p99_ms: 2.5,
                },
                raw: Timing {
                    p50_ms: 1.4,
                    p99_ms: 2.0,
                },
            }),
            rounds: Some(Rounds {
                two_rounds: Timing {
                    p50_ms: 0.2,
                    p99_ms: 0.4,
                },
                two_calls: Timing {
                    p50_ms: 0.16,
                    p99_ms: 0.3,
                },
            }),
            build: None,
            tasks: Some(TaskCost {
                plain: Timing {
                    p50_ms: 0.1,
                    p99_ms: 0.2,
                },
                task: Timing {
                    p50_ms: 0.35,
                    p99_ms: 0.6,
                },
                polls_per_task: 1.5,
                server_cpu: Some(CpuCost {
                    plain_us: 40.0,
                    task_us: 140.0,
                }),
            }),
            jobs: vec![Throughput {
                database: "SQLite".into(),
                workers: 4,
                jobs: 5000,
                per_second: 2500.0,
            }],
            jobs_memory: Some(JobsMemory {
                ran: 2000,
                small: 2000,
                small_peak_mib: 20.0,
                large: 100_000,
                large_peak_mib: 21.0,
            }),
        }
    }

    #[test]
    fn targets_are_checked_as_ratios_within_the_run() {
        let checks = report().checks();
        let by_goal = |what: &str, goal: &str| {
            checks
                .iter()
                .find(|c| c.what.starts_with(what) && c.goal.contains(goal))
                .cloned()
                .unwrap_or_else(|| panic!("no check {what} / {goal}"))
        };
        let add = by_goal("`add` over HTTP, c=64, req/s", "0.90");
        assert_eq!(add.measured.as_deref(), Some("0.95×"));
        assert_eq!(add.met, Some(true));
        let p99 = by_goal("`add` over HTTP, c=64, p99", "1.2");
        assert_eq!(p99.measured.as_deref(), Some("1.10×"));
        assert_eq!(p99.met, Some(true));
        assert_eq!(by_goal("`note_add`", "per call").met, Some(true));
        let pooled = by_goal("`note_add`", "pooled");
        assert_eq!(pooled.measured.as_deref(), Some("0.88×"));
        assert_eq!(pooled.met, Some(false), "7000 / 8000 is under 0.90");
        assert_eq!(by_goal("stdio", "0.90").met, Some(true));
        assert_eq!(by_goal("cold start", "2×").met, Some(true));
        let rss = by_goal("idle RSS", "1.5");
        assert_eq!(rss.measured.as_deref(), Some("1.60×"));
        assert_eq!(rss.met, Some(false));
        let list = by_goal("`tools/list`", "1.1× raw");
        assert_eq!(
            list.measured.as_deref(),
            Some("1.07×"),
            "1.5 ms against 1.4 ms"
        );
        assert_eq!(list.met, Some(true));
        let read = by_goal("`resources/read`", "mango's `add`");
        assert_eq!(
            (read.measured, read.met),
            (None, None),
            "not in this report"
        );
        let token = |what| {
            checks
                .iter()
                .find(|c| c.what.contains("a user's API token") && c.what.contains(what))
                .cloned()
                .unwrap_or_else(|| panic!("no check of a user's token's {what}"))
        };
        let (rps, cpu) = (token("req/s"), token("CPU time per request"));
        assert_eq!(
            (rps.measured.as_deref(), rps.met),
            (Some("0.89×"), Some(false)),
            "34000 / 38000"
        );
        assert_eq!(
            (cpu.measured.as_deref(), cpu.met),
            (Some("1.02×"), Some(true))
        );
        let jwt = checks
            .iter()
            .find(|c| c.what.contains("JWT") && c.what.contains("CPU"))
            .cloned();
        assert_eq!(jwt.map(|c| c.met), Some(None), "no JWT cell in this report");
        let task = by_goal("a task-mode call", "3×");
        assert_eq!(task.measured.as_deref(), Some("3.50×"));
        assert!(task.what.contains("CPU time"), "{}", task.what);
        assert_eq!(task.met, Some(false), "140 µs against 40 µs is over 3×");
        let flat = by_goal("a worker's peak RSS", "1.2");
        assert_eq!(
            (flat.measured.as_deref(), flat.met),
            (Some("1.05×"), Some(true))
        );
        let build = by_goal("rebuild", "3 s");
        assert_eq!((build.measured, build.met), (None, None), "not measured");
    }

    #[test]
    fn a_first_build_that_was_not_clean_is_not_held_against_the_clean_target() {
        let mut r = report();
        r.build = Some(BuildCost {
            first_build_s: 10.0,
            clean: false,
            rebuild_s: 0.8,
        });
        let checks = r.checks();
        let clean = checks
            .iter()
            .find(|c| c.what.starts_with("clean debug build"))
            .cloned();
        assert_eq!(clean.and_then(|c| c.met), None);
        let rebuild = checks
            .iter()
            .find(|c| c.what.starts_with("rebuild"))
            .cloned();
        assert_eq!(rebuild.and_then(|c| c.met), Some(true));
    }

    #[test]
    fn markdown_has_every_table_with_ratios_to_raw_rmcp() {
        let md = report().markdown();
        assert!(
            md.contains("| add | 64 | mango | 38000 | 0.95 | 1.10 | 2.20 | 26.3 | 0 |"),
            "{md}"
        );
        assert!(
            md.contains("| note_add | 64 | raw rmcp, connection per call | 2000 | 0.25 |"),
            "{md}"
        );
        assert!(md.contains("| mango | 6.0 | 10000 |"), "{md}");
        assert!(md.contains("| raw rmcp | 7.5 | 15.0 |"), "{md}");
        assert!(md.contains("**missed**"), "{md}");
        assert!(md.contains("medians of 3"), "{md}");
        assert!(md.contains("`tools/list` with 1000 tools"), "{md}");
        assert!(md.contains("| SQLite | 4 | 5000 | 2500 |"), "{md}");
        assert!(md.contains("21.0 MiB with 100000 queued"), "{md}");
    }

    #[test]
    fn the_json_report_reads_back() {
        let r = report();
        let json = serde_json::to_string(&r).unwrap_or_default();
        let back: Result<Report, _> = serde_json::from_str(&json);
        assert_eq!(back.ok(), Some(r));
    }

    #[test]
    fn tools_list_output_is_parsed_from_its_last_line() {
        let out = "warming up\n{\"tools\":1000,\"answer_bytes\":312000,\"mango\":{\"p50_ms\":1.2,\"p99_ms\":1.9},\"raw rmcp\":{\"p50_ms\":1.1,\"p99_ms\":1.7}}\n\n";
        let t = ToolsList::parse(out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.tools, 1000);
        assert_eq!(t.mango.p50_ms, 1.2);
        assert_eq!(t.raw.p99_ms, 1.7);
        assert!(ToolsList::parse("").is_err());
        let err = ToolsList::parse("{\"tools\":3}").err().unwrap_or_default();
        assert!(err.contains("missing field"), "{err}");
    }
}
