//! `cargo run -p mango-bench --release -- all [--quick] [--with-fastmcp]`: mango against
//! a raw rmcp server, a bare axum echo (and FastMCP), in one run, on this machine.
//!
//! What it does, in order:
//! 1. builds the baselines (this package's `raw-rmcp`, `echo`, `tools-list` and `rounds`) and a
//!    benchmark project made with `cargo mango` (tools `add` and `note_add`, release);
//!    with `--with-fastmcp`, installs FastMCP into `target/bench/fastmcp-venv`;
//! 2. measures build cost: a clean debug build of a fresh `startproject` + `startapp`
//!    project, then the rebuild after editing one tool body (median of three);
//! 3. pins itself (the load generator) to core 1 and every server to core 0, when there
//!    are two cores;
//! 4. drives each server over Streamable HTTP (stateless JSON) at concurrency 1, 8 and
//!    64 with a closed-loop load generator, a warm-up then 10 s, median of 3 with the
//!    server order alternated, each cell against a fresh server and a fresh database;
//! 5. times 2,000 sequential `add` calls over stdio, and the cold start (spawn to the
//!    first `tools/list` answer), medians of 3; reads idle and peak resident memory;
//! 6. times `tools/list` with 1,000 tools in process, and a tool call in two MRTR rounds
//!    against two plain calls;
//! 7. prints the report and writes it to `target/bench/` as `results.md`,
//!    `results.json` and `results.svg`.
//!
//! `--quick` is the smoke test CI runs: 0.3 s per cell, one repetition, 200 stdio
//! calls, debug builds where they already are (no release build: it checks that every
//! server answers, not how fast; see `Builds`), and a build-cost step that keeps its
//! target directory between runs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mango_bench::loadgen;

mod scale;
mod work;
use mango_bench::report::{
    BuildCost, ECHO, FASTMCP, HttpCell, JobsMemory, MANGO, MANGO_AUDIT, MANGO_JWT, MANGO_METRICS,
    MANGO_TELEMETRY_OFF, MANGO_TRACES, MANGO_USER_TOKEN, Machine, MemoryRow, RAW, RAW_PER_CALL,
    Report, Rounds, StdioRow, TaskCost, Throughput, ToolsList,
};

const USAGE: &str = "usage: cargo run -p mango-bench --release -- all [--quick] [--with-fastmcp]
       cargo run -p mango-bench --release -- load <host:port> <tool> [<concurrency> [<seconds>]] [--header \"Name: value\"]… [--pid <server pid>]
         (drives a running server with `add`-style or `note_add`-style calls, for profiling;
          <tool> = read:<uri> or prompt:<name> reads a resource or gets a prompt;
          with --pid, the server's CPU time per request too)
       cargo run -p mango-bench --release -- task <host:port> <tool> [<calls>] [--pid <server pid>]
         (a running server's task-mode calls of <tool>, polled to completion, against plain calls;
          with --pid, the server's CPU time too)
       cargo run -p mango-bench --release -- stdio <tool> <calls> <server command…>
         (starts the server, times the first tools/list and <calls> sequential `add`-style calls)
       cargo run -p mango-bench --release -- scale [--quick]
         (replicas on PostgreSQL: one alone, then 1, 2 and 3 behind nginx; needs nginx)
       cargo run -p mango-bench --release -- report <results.json>
         (writes results.md and results.svg again, beside a saved results.json)";

/// The FastMCP the `--with-fastmcp` run installs (the version the targets were set
/// against).
const FASTMCP_REQUIREMENT: &str = "fastmcp==4.2.3";

struct Options {
    quick: bool,
    with_fastmcp: bool,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_owned)
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("{cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}

fn timed(cmd: &mut Command) -> Result<f64, String> {
    let started = Instant::now();
    run(cmd)?;
    Ok(started.elapsed().as_secs_f64())
}

fn io(context: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{context}: {e}")
}

/// A server under test.
struct Target {
    name: &'static str,
    /// Its HTTP command line; `{port}` is replaced by the port.
    http: Vec<String>,
    stdio: Option<Vec<String>>,
    /// Its names for the benchmark's tools (`None`: not measured on it).
    add: Option<&'static str>,
    note_add: Option<&'static str>,
    /// A small static resource's URI and a small prompt's name (mango only: measured
    /// against its own `add`).
    read: Option<&'static str>,
    prompt: Option<&'static str>,
    /// Its SQLite file, removed before each start, and the command that recreates the
    /// schema (servers that do not create their table themselves).
    db: PathBuf,
    prepare: Option<Vec<String>>,
    /// Header lines every request carries (an `Authorization`).
    headers: String,
    /// Where its `/metrics` is, scraped every second while it is measured.
    scrape: Option<String>,
}

impl Target {
    /// mango's `add` alone, served stateless over HTTP by `bin` with the settings at
    /// `settings` (the cells of one feature against plain mango).
    fn add_only(
        name: &'static str,
        bin: &Path,
        settings: &Path,
        db: PathBuf,
        headers: String,
    ) -> Target {
        let cmd = |rest: &[&str]| {
            let mut argv = vec![
                bin.display().to_string(),
                "--settings".to_owned(),
                settings.display().to_string(),
            ];
            argv.extend(rest.iter().map(|x| (*x).to_owned()));
            argv
        };
        Target {
            name,
            http: cmd(&[
                "serve",
                "--transport",
                "http",
                "--stateless",
                "--port",
                "{port}",
            ]),
            stdio: None,
            add: Some("benchapp_add"),
            note_add: None,
            read: None,
            prompt: None,
            db,
            prepare: Some(cmd(&["migrate"])),
            headers,
            scrape: None,
        }
    }

    fn tool(&self, tool: &str) -> Option<&'static str> {
        match tool {
            "add" => self.add,
            "note_add" => self.note_add,
            // A model's tools against the same queries written by hand: mango only.
            "model_query" => (self.name == MANGO).then_some("benchapp_item_query"),
            "hand_query" => (self.name == MANGO).then_some("benchapp_items_by_hand"),
            "model_get" => (self.name == MANGO).then_some("benchapp_item_get"),
            "hand_get" => (self.name == MANGO).then_some("benchapp_item_by_hand"),
            "read" => self.read,
            _ => self.prompt,
        }
    }

    /// A fresh database: its files removed, its schema recreated.
    fn reset_database(&self) -> Result<(), String> {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.db.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
        if let Some(argv) = &self.prepare {
            run(Command::new(&argv[0])
                .args(&argv[1..])
                .stdout(Stdio::null()))?;
        }
        Ok(())
    }
}

/// A fresh users' database at `db` for `settings`: migrated, with the user `bench`
/// and a token of it, which is returned.
fn user_token(bin: &Path, settings: &Path, db: &Path) -> Result<String, String> {
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.to_path_buf().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
    let command = |args: &[&str]| {
        let mut cmd = Command::new(bin);
        cmd.arg("--settings").arg(settings).args(args);
        cmd
    };
    run(command(&["migrate"]).stdout(Stdio::null()))?;
    run(command(&["run", "createuser", "bench"]).stdout(Stdio::null()))?;
    let out = command(&["run", "createtoken", "bench"])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("createtoken: {e}"))?;
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || !token.starts_with("mango_") {
        return Err(format!("createtoken gave no token: {token}"));
    }
    Ok(token)
}

/// A thread that GETs `/metrics` every second, as Prometheus would, until stopped.
struct Scraper {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<usize>,
}

impl Scraper {
    fn start(addr: String) -> Scraper {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut scrapes = 0;
            while !stopped.load(Ordering::Relaxed) {
                let scraped = std::net::TcpStream::connect(&addr).and_then(|mut s| {
                    s.set_read_timeout(Some(Duration::from_secs(2)))?;
                    s.write_all(
                        format!(
                            "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
                        )
                        .as_bytes(),
                    )?;
                    let mut answer = String::new();
                    s.read_to_string(&mut answer)?;
                    Ok(answer.starts_with("HTTP/1.1 200") && answer.contains("mango_calls_total"))
                });
                if scraped.unwrap_or(false) {
                    scrapes += 1;
                }
                for _ in 0..10 {
                    if stopped.load(Ordering::Relaxed) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            scrapes
        });
        Scraper { stop, thread }
    }

    /// Stops it; the scrapes that succeeded.
    fn stop(self) -> usize {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

/// An OTLP/HTTP endpoint that takes every export (200, an empty answer) without
/// decoding it, as a collector on the same machine would, and counts the requests: the
/// traces cell's spans go there. It serves until the process ends.
fn otlp_sink() -> Result<String, String> {
    use std::io::{BufRead, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("an OTLP sink"))?;
    let addr = listener.local_addr().map_err(io("an OTLP sink"))?;
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(&stream);
                let mut writer = &stream;
                loop {
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    OTLP_EXPORTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
                    if writer.write_all(answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(format!("http://{addr}"))
}

/// The exports [`otlp_sink`] took.
static OTLP_EXPORTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18_000)
}

/// The CPUs this process may use, read once: before it pins itself, after which
/// `available_parallelism` answers 1.
fn cpus() -> usize {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Whether servers and the load generator get a core each.
fn can_pin() -> bool {
    cpus() >= 2 && Path::new("/usr/bin/taskset").exists()
}

/// Pins every thread of this process (the load generator) to `core`.
fn pin_self(core: usize) -> Result<(), String> {
    run(Command::new("taskset")
        .args(["-a", "-p", "-c", &core.to_string()])
        .arg(std::process::id().to_string())
        .stdout(Stdio::null()))
}

/// `argv` as a command, on core 0 when pinning.
fn server_command(argv: &[String]) -> Command {
    let mut cmd = if can_pin() {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).args(argv);
        c
    } else {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    };
    cmd.env("MANGO_LOG", "warn");
    cmd
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A server with worker processes of its own (nginx), started as the leader of a
/// process group: dropped, it gets SIGTERM (nginx's master stops its workers, then
/// exits), and if it is still there after 5 s, its whole group gets SIGKILL. Killing the
/// master alone would leave its workers serving.
struct Group(Child);

impl Group {
    fn spawn(cmd: &mut Command) -> std::io::Result<Group> {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0).spawn().map(Group)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.0.try_wait().is_ok_and(|s| s.is_some()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

fn start_http(target: &Target, port: u16) -> Result<Running, String> {
    let argv: Vec<String> = target
        .http
        .iter()
        .map(|a| a.replace("{port}", &port.to_string()))
        .collect();
    let mut child = Running(
        server_command(&argv)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", target.name))?,
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.0.try_wait() {
            return Err(format!("{} exited before listening: {status}", target.name));
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("{} did not listen on {port}", target.name));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(child)
}

/// VmRSS and VmHWM of a process, in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The request a cell sends: `tools/call` of a tool, or (`read`, `prompt`) a
/// `resources/read` or `prompts/get`.
fn cell_body(tool: &str, name: &str) -> String {
    match tool {
        "add" => call_body(name, serde_json::json!({"a": 1, "b": 2})),
        "note_add" => call_body(name, serde_json::json!({"text": "hello"})),
        "model_query" => call_body(
            name,
            serde_json::json!({"filter": {"score": {"gte": 500}}, "order": "score", "limit": 50}),
        ),
        "hand_query" => call_body(name, serde_json::json!({"min_score": 500})),
        "model_get" | "hand_get" => call_body(name, serde_json::json!({"id": 54321})),
        "read" => serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": name}}).to_string(),
        _ => serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "prompts/get", "params": {"name": name, "arguments": {"name": "Ada"}}}).to_string(),
    }
}

fn call_body(tool: &str, args: serde_json::Value) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args}}).to_string()
}

/// Stdio: cold start to the first `tools/list` answer (ms), then `calls` sequential
/// `add`s (calls/s).
fn stdio_run(argv: &[String], tool: &str, calls: usize) -> Result<(f64, f64), String> {
    use std::io::{BufRead, BufReader, Write};
    let started = Instant::now();
    let mut child = Running(
        server_command(argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    let mut stdin = child.0.stdin.take().ok_or("no stdin")?;
    let mut lines = BufReader::new(child.0.stdout.take().ok_or("no stdout")?).lines();
    // One write per message, as a client would send it.
    let mut send = |v: serde_json::Value| {
        stdin
            .write_all(format!("{v}\n").as_bytes())
            .map_err(|e| e.to_string())
    };
    let mut answer = || -> Result<String, String> {
        lines
            .next()
            .ok_or("the server stopped")?
            .map_err(|e| e.to_string())
    };
    send(
        serde_json::json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}),
    )?;
    answer()?;
    send(serde_json::json!({"jsonrpc":"2.0","method":"notifications/initialized"}))?;
    send(serde_json::json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))?;
    let listed = answer()?;
    let cold_ms = started.elapsed().as_secs_f64() * 1000.0;
    if !listed.contains(tool) {
        return Err(format!("tools/list does not list {tool}: {listed}"));
    }
    let t = Instant::now();
    for i in 0..calls {
        send(
            serde_json::json!({"jsonrpc":"2.0","id": i + 2,"method":"tools/call","params":{"name": tool,"arguments":{"a": i,"b": 1}}}),
        )?;
        let line = answer()?;
        if !loadgen::counts(200, line.as_bytes()) {
            return Err(format!("bad reply: {line}"));
        }
    }
    Ok((cold_ms, calls as f64 / t.elapsed().as_secs_f64()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

const BENCH_APP: &str = r#"//! The benchmark's tools.

use diesel::prelude::*;
use mango_rt::db::{Db, RunQueryDsl};
use mango_rt::{ToolError, prompt, resource, tool};

mango_rt::migrations!();

/// A small static resource.
#[resource("bench://hello")]
async fn hello() -> String {
    "hello".into()
}

/// A small prompt.
#[prompt]
async fn greet(name: String) -> String {
    format!("Say hello to {name}.")
}

diesel::table! {
    bench_notes (id) {
        id -> BigInt,
        text -> Text,
    }
}

/// Add two numbers.
#[tool]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// Insert a note; returns how many there are.
#[tool]
async fn note_add(text: String, db: &mut Db) -> Result<i64, ToolError> {
    diesel::insert_into(bench_notes::table)
        .values(bench_notes::text.eq(text))
        .execute(db)
        .await?;
    Ok(bench_notes::table.count().get_result(db).await?)
}

diesel::table! {
    bench_items (id) {
        id -> BigInt,
        score -> Integer,
        label -> Text,
    }
}

/// An item of the 100,000-row table (indexed on `score, id`) the models' cells read:
/// `item_query` and `item_get`, open to anyone (`scopes = []`).
#[mango_rt::model(scopes = [])]
#[mango_rt::data]
#[derive(Queryable, Selectable)]
#[diesel(table_name = bench_items)]
pub struct Item {
    pub id: i64,
    pub score: i32,
    pub label: String,
}

/// By hand, what `item_query` runs for `{"filter": {"score": {"gte": n}}, "order":
/// "score", "limit": 50}`: the same Diesel query (the model asks one row more, to know
/// whether a next page follows).
#[tool(read_only)]
async fn items_by_hand(min_score: i32, db: &mut Db) -> Result<Vec<Item>, ToolError> {
    Ok(bench_items::table
        .filter(bench_items::score.ge(min_score))
        .order((bench_items::score.asc(), bench_items::id.asc()))
        .select((bench_items::id, bench_items::score, bench_items::label))
        .limit(51)
        .load::<Item>(db)
        .await?
        .into_iter()
        .take(50)
        .collect())
}

/// By hand, what `item_get` runs.
#[tool(read_only)]
async fn item_by_hand(id: i64, db: &mut Db) -> Result<Item, ToolError> {
    bench_items::table
        .filter(bench_items::id.eq(id))
        .select((bench_items::id, bench_items::score, bench_items::label))
        .first::<Item>(db)
        .await
        .optional()?
        .ok_or_else(|| ToolError::new(format!("there is no Item with id {id}")))
}
"#;

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Where a run builds what it measures. A measuring run: `--release`, everything in the
/// repository's target directory (the baselines' release builds of rmcp, diesel and
/// tokio serve the projects too). The smoke test (`--quick`) checks that every server
/// answers, not how fast: debug builds, in `MANGO_BENCH_BUILD_TARGET` when it is set
/// (`scripts/test.sh` passes the end-to-end tests' `target/e2e`, which has built each
/// feature set of mango-rt the projects use), so that it compiles no dependency again.
pub(crate) struct Builds {
    quick: bool,
}

impl Builds {
    pub(crate) fn new(quick: bool) -> Builds {
        Builds { quick }
    }

    /// `--release`, or nothing for the smoke test.
    pub(crate) fn flags(&self) -> &'static [&'static str] {
        if self.quick { &[] } else { &["--release"] }
    }

    fn profile(&self) -> &'static str {
        if self.quick { "debug" } else { "release" }
    }

    /// A binary of this workspace (`raw-rmcp`, `echo`, `tools-list`, `rounds`).
    pub(crate) fn baseline(&self, name: &str) -> PathBuf {
        self.project_target().join(self.profile()).join(name)
    }

    /// The target directory of the baselines and the benchmark's projects.
    pub(crate) fn project_target(&self) -> PathBuf {
        self.target_in("MANGO_BENCH_BUILD_TARGET")
            .unwrap_or_else(|| root().join("target"))
    }

    /// The smoke test's target directory in `variable`, when it is set: absolute, since
    /// the projects are built from their own directories, where a relative
    /// `target/e2e` would name another directory than the one read.
    fn target_in(&self, variable: &str) -> Option<PathBuf> {
        let target = std::env::var_os(variable).filter(|_| self.quick)?;
        Some(std::path::absolute(&target).unwrap_or_else(|_| PathBuf::from(target)))
    }

    /// The binary of the benchmark's project `name`.
    pub(crate) fn project_binary(&self, name: &str) -> PathBuf {
        self.project_target().join(self.profile()).join(name)
    }

    /// The target directory of the build with mango-rt's `oauth` and `telemetry`
    /// features: for the smoke test, `MANGO_BENCH_OAUTH_BUILD_TARGET` when it is set
    /// (`scripts/test.sh` passes `target/e2e-oauth`, where the end-to-end tests built
    /// that feature set's graph, which shares nothing with the others'); else
    /// [`Builds::project_target`].
    fn oauth_target(&self) -> PathBuf {
        self.target_in("MANGO_BENCH_OAUTH_BUILD_TARGET")
            .unwrap_or_else(|| self.project_target())
    }
}

/// The `cargo-mango` that makes the benchmark's projects: `MANGO_BENCH_CARGO_MANGO` when
/// set (`scripts/test.sh` passes the one its tests built), else a release build of this
/// checkout's.
fn cargo_mango() -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("MANGO_BENCH_CARGO_MANGO") {
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            return Err(format!(
                "MANGO_BENCH_CARGO_MANGO is {}, which is not a file",
                bin.display()
            ));
        }
        return Ok(bin);
    }
    run(Command::new(cargo())
        .args(["build", "-q", "--release", "-p", "cargo-mango"])
        .current_dir(root())
        .env("CARGO_TARGET_DIR", root().join("target")))?;
    Ok(root().join("target/release/cargo-mango"))
}

/// A new project from `cargo mango startproject <project>` + `startapp <app>` under
/// `parent` (emptied first); returns its directory.
fn new_project(mango: &Path, parent: &Path, project: &str, app: &str) -> Result<PathBuf, String> {
    let _ = std::fs::remove_dir_all(parent);
    std::fs::create_dir_all(parent).map_err(io("creating the project's directory"))?;
    run(Command::new(mango)
        .args(["mango", "startproject", project])
        .current_dir(parent))?;
    let site = parent.join(project);
    run(Command::new(mango)
        .args(["mango", "startapp", app])
        .current_dir(&site))?;
    Ok(site)
}

/// A file written from `template/` that the benchmark edits, read; an error names the
/// text the edit needs when the template no longer has it.
fn template_text(path: &Path, needed: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(io(&path.display().to_string()))?;
    if text.contains(needed) {
        Ok(text)
    } else {
        Err(format!(
            "{}: the template no longer has `{needed}`, which the benchmark edits; update the benchmark",
            path.display()
        ))
    }
}

/// Builds the baselines and the mango project; returns the servers.
/// The audience of the JWT cell's token (its server's `[auth.oauth] resource`).
const JWT_RESOURCE: &str = "http://bench.invalid/mcp";

/// The tests' authorization server (tests/e2e/authorization-server.mjs), started when
/// its node tools are installed: the process and its issuer URL.
fn authorization_server() -> Result<Option<(Running, String)>, String> {
    let tools = root().join("target/conformance-node/node_modules");
    let node = tools.join(".bin/node");
    if !node.is_file() || !tools.join("oauth2-mock-server/package.json").is_file() {
        return Ok(None);
    }
    let mut child = Running(
        Command::new(&node)
            .arg(root().join("tests/e2e/authorization-server.mjs"))
            .stdout(Stdio::piped())
            .spawn()
            .map_err(io("starting the authorization server"))?,
    );
    let stdout = child.0.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .map_err(io("reading the authorization server's issuer"))?;
    let issuer = line
        .trim()
        .strip_prefix("issuer=")
        .ok_or_else(|| format!("the authorization server did not start: {line:?}"))?
        .to_owned();
    Ok(Some((child, issuer)))
}

/// An access token for the JWT cell's server, valid for a day.
fn issue_token(issuer: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let authority = issuer.trim_start_matches("http://");
    let body =
        serde_json::json!({"aud": JWT_RESOURCE, "sub": "bench", "exp_in": 86400}).to_string();
    let mut stream =
        std::net::TcpStream::connect(authority).map_err(io("the authorization server"))?;
    write!(
        stream,
        "POST /issue HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(io("asking for a token"))?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(io("reading the token"))?;
    let json = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v["token"].as_str().map(str::to_owned))
        .ok_or_else(|| format!("no token in {answer:?}"))
}

/// What [`build`] makes: the servers under test, the FastMCP version (with
/// `--with-fastmcp`), and processes kept running for the run (the authorization server).
type Built = (Vec<Target>, Option<String>, Vec<Running>);

fn build(dir: &Path, options: &Options) -> Result<Built, String> {
    let mut keep = Vec::new();
    let builds = Builds::new(options.quick);
    run(Command::new(cargo())
        .args(["build", "-q", "-p", "mango-bench", "--bins"])
        .args(builds.flags())
        .current_dir(root())
        // Where the rest of the run looks for them, whatever the environment says.
        .env("CARGO_TARGET_DIR", builds.project_target()))?;
    let mango = cargo_mango()?;
    let site = new_project(&mango, &dir.join("project"), "benchsite", "benchapp")?;
    let app = site.join("apps/benchapp");
    std::fs::write(
        app.join("src/lib.rs"),
        format!("{BENCH_APP}{}", work::WORK_ITEMS),
    )
    .map_err(io("writing the app"))?;
    let _ = std::fs::remove_file(app.join("src/schema.rs"));
    let _ = std::fs::remove_dir_all(app.join("migrations"));
    let m = app.join("migrations/2024-01-01-000000_create_bench_notes");
    std::fs::create_dir_all(&m).map_err(io("writing the migration"))?;
    std::fs::write(
        m.join("up.sql"),
        "CREATE TABLE bench_notes (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, text TEXT NOT NULL);\n",
    )
    .map_err(io("writing the migration"))?;
    std::fs::write(m.join("down.sql"), "DROP TABLE bench_notes;\n")
        .map_err(io("writing the migration"))?;
    // The models' table: 100,000 rows, made by SQLite itself at each `migrate`.
    let m = app.join("migrations/2024-01-02-000000_create_bench_items");
    std::fs::create_dir_all(&m).map_err(io("writing the migration"))?;
    std::fs::write(
        m.join("up.sql"),
        "CREATE TABLE bench_items (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, score INTEGER NOT NULL, label TEXT NOT NULL);\n\
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)\n\
         INSERT INTO bench_items (id, score, label) SELECT i, (i * 7919) % 1000, 'item ' || i FROM n;\n\
         CREATE INDEX bench_items_score ON bench_items (score, id);\n",
    )
    .map_err(io("writing the migration"))?;
    std::fs::write(m.join("down.sql"), "DROP TABLE bench_items;\n")
        .map_err(io("writing the migration"))?;
    run(Command::new(&mango)
        .args(["mango", "sync"])
        .current_dir(&site))?;
    // First with mango-rt's `oauth` and `telemetry` features (for the JWT and the
    // telemetry cells, copied aside), then without: `benchsite` is the default build.
    let build_site = |extra: &[&str], target: &Path| {
        run(Command::new(cargo())
            .args(["build", "-q", "-p", "benchsite"])
            .args(builds.flags())
            .args(extra)
            .current_dir(&site)
            .env("CARGO_TARGET_DIR", target))
    };
    let oauth_target = builds.oauth_target();
    // The smoke test's build is the end-to-end tests' OAuth project's (which has
    // `testing` too, for its app's own test): nothing of mango-rt compiles again.
    let features = if options.quick {
        "mango-rt/oauth,mango-rt/telemetry,mango-rt/testing"
    } else {
        "mango-rt/oauth,mango-rt/telemetry"
    };
    build_site(&["--features", features], &oauth_target)?;
    let oauth_bin = dir.join("benchsite-oauth");
    std::fs::copy(
        oauth_target.join(builds.profile()).join("benchsite"),
        &oauth_bin,
    )
    .map_err(io("copying benchsite"))?;
    // The smoke test serves every cell with that one binary (the other cells do not
    // configure OAuth, so it is not asked): one build of mango-rt's graph for SQLite,
    // the one the OAuth tests made. A measuring run builds plain mango too, so that no
    // cell but the JWT one carries code it does not use.
    let bin = if options.quick {
        oauth_bin.display().to_string()
    } else {
        build_site(&[], &builds.project_target())?;
        builds.project_binary("benchsite").display().to_string()
    };
    let db = |name: &str| dir.join(name);
    // The database goes in the project's settings, as a deployment would have it (an
    // `env` in front of the command line would add an exec to mango's cold start).
    let settings_path = site.join("Mango.toml");
    let default_url = "url = \"sqlite://db.sqlite3\"";
    let toml = template_text(&settings_path, default_url)?;
    let url = format!("url = \"sqlite://{}\"", db("mango.db").display());
    std::fs::write(&settings_path, toml.replace(default_url, &url))
        .map_err(io("writing Mango.toml"))?;
    let settings = settings_path.display().to_string();
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let raw = builds.baseline("raw-rmcp").display().to_string();
    let mango_cmd = |rest: &[&str]| {
        let mut argv = s(&[&bin, "--settings", &settings]);
        argv.extend(s(rest));
        argv
    };
    let mut targets = vec![
        Target {
            name: MANGO,
            http: mango_cmd(&[
                "serve",
                "--transport",
                "http",
                "--stateless",
                "--port",
                "{port}",
            ]),
            stdio: Some(mango_cmd(&["serve", "--transport", "stdio"])),
            add: Some("benchapp_add"),
            note_add: Some("benchapp_note_add"),
            read: Some("bench://hello"),
            prompt: Some("benchapp_greet"),
            db: db("mango.db"),
            prepare: Some(mango_cmd(&["migrate"])),
            headers: String::new(),
            scrape: None,
        },
        Target {
            name: RAW,
            http: s(&[&raw, "http", "{port}", &db("raw.db").display().to_string()]),
            stdio: Some(s(&[&raw, "stdio", &db("raw.db").display().to_string()])),
            add: Some("add"),
            note_add: Some("note_add"),
            read: None,
            prompt: None,
            db: db("raw.db"),
            prepare: None,
            headers: String::new(),
            scrape: None,
        },
        Target {
            name: RAW_PER_CALL,
            http: s(&[
                &raw,
                "http",
                "{port}",
                &db("raw-per-call.db").display().to_string(),
                "--connection-per-call",
            ]),
            stdio: None,
            add: None,
            note_add: Some("note_add"),
            read: None,
            prompt: None,
            db: db("raw-per-call.db"),
            prepare: None,
            headers: String::new(),
            scrape: None,
        },
        Target {
            name: ECHO,
            http: s(&[&builds.baseline("echo").display().to_string(), "{port}"]),
            stdio: None,
            add: Some("add"),
            note_add: None,
            read: None,
            prompt: None,
            db: db("echo.db"),
            prepare: None,
            headers: String::new(),
            scrape: None,
        },
    ];
    // mango writing the audit log: a row per call, in batches, to its own SQLite file.
    let audit_settings = site.join("Mango-audit.toml");
    let text = std::fs::read_to_string(&settings_path).map_err(io("Mango.toml"))?;
    let text = text
        .replacen(
            "[default]\n",
            "[default]\nmiddleware = [\"mango.audit\"]\n",
            1,
        )
        .replace(
            &url,
            &format!("url = \"sqlite://{}\"", db("mango-audit.db").display()),
        );
    std::fs::write(&audit_settings, text).map_err(io("writing Mango-audit.toml"))?;
    targets.insert(
        1,
        Target::add_only(
            MANGO_AUDIT,
            Path::new(&bin),
            &audit_settings,
            db("mango-audit.db"),
            String::new(),
        ),
    );
    // mango with [metrics] on, its /metrics scraped every second while it is measured.
    let metrics_settings = site.join("Mango-metrics.toml");
    let metrics_port = free_port();
    let text = std::fs::read_to_string(&settings_path).map_err(io("Mango.toml"))?;
    let text = text.replace(
        &url,
        &format!("url = \"sqlite://{}\"", db("mango-metrics.db").display()),
    ) + &format!("\n[default.metrics]\nenabled = true\nport = {metrics_port}\n");
    std::fs::write(&metrics_settings, text).map_err(io("writing Mango-metrics.toml"))?;
    let mut metrics = Target::add_only(
        MANGO_METRICS,
        Path::new(&bin),
        &metrics_settings,
        db("mango-metrics.db"),
        String::new(),
    );
    metrics.scrape = Some(format!("127.0.0.1:{metrics_port}"));
    targets.insert(1, metrics);
    // mango built with mango-rt's `telemetry` (and `oauth`) feature: with `[telemetry]`
    // off (what the feature costs when it is not used), and with every call's spans
    // exported (sampling ratio 1.0) to an OTLP endpoint on this machine.
    let otlp_endpoint = otlp_sink()?;
    for (name, file, extra) in [
        (MANGO_TELEMETRY_OFF, "mango-telemetry-off", String::new()),
        (
            MANGO_TRACES,
            "mango-traces",
            format!(
                "\n[default.telemetry]\nmode = \"export\"\nendpoint = \"{otlp_endpoint}\"\nsampling_ratio = 1.0\n"
            ),
        ),
    ] {
        let path = site.join(format!("{file}.toml"));
        let text = std::fs::read_to_string(&settings_path).map_err(io("Mango.toml"))?;
        let text = text.replace(
            &url,
            &format!("url = \"sqlite://{}\"", db(&format!("{file}.db")).display()),
        ) + &extra;
        std::fs::write(&path, text).map_err(io("writing a telemetry cell's settings"))?;
        targets.insert(
            1,
            Target::add_only(
                name,
                &oauth_bin,
                &path,
                db(&format!("{file}.db")),
                String::new(),
            ),
        );
    }
    // mango checking a user's API token ([auth] users) on every request: one SHA-256
    // of the token, its lookup kept [auth] token_cache seconds. Its database is made
    // once, with the user and the token (a token is random, so it is not remade between
    // runs: the target's `db`, which a run removes, is another file).
    let users_db = db("mango-users.db");
    let users_settings = site.join("Mango-users.toml");
    let text = std::fs::read_to_string(&settings_path).map_err(io("Mango.toml"))?;
    let text = text
        .replacen(
            "[default]\n",
            "[default]\nmiddleware = [\"mango.auth\"]\n",
            1,
        )
        .replace(&url, &format!("url = \"sqlite://{}\"", users_db.display()))
        + "\n[default.auth]\nusers = true\n";
    std::fs::write(&users_settings, text).map_err(io("writing Mango-users.toml"))?;
    let token = user_token(Path::new(&bin), &users_settings, &users_db)?;
    targets.insert(
        1,
        Target::add_only(
            MANGO_USER_TOKEN,
            Path::new(&bin),
            &users_settings,
            db("mango-users-unused.db"),
            format!("Authorization: Bearer {token}\r\n"),
        ),
    );
    // mango checking an OAuth access token (a JWT) on every request, against the keys
    // of a real authorization server (the tests' one, from npm), fetched once.
    match authorization_server()? {
        Some((server, issuer)) => {
            let token = issue_token(&issuer)?;
            let text = std::fs::read_to_string(&settings_path).map_err(io("Mango.toml"))?;
            let oauth_settings = site.join("Mango-oauth.toml");
            let text = text.replacen(
                "[default]\n",
                "[default]\nmiddleware = [\"mango.auth\"]\n",
                1,
            ) + &format!(
                "\n[default.auth.oauth]\nissuer = \"{issuer}\"\nresource = \"{JWT_RESOURCE}\"\n"
            );
            std::fs::write(&oauth_settings, text).map_err(io("writing Mango-oauth.toml"))?;
            targets.insert(
                1,
                Target::add_only(
                    MANGO_JWT,
                    &oauth_bin,
                    &oauth_settings,
                    db("mango.db"),
                    format!("Authorization: Bearer {token}\r\n"),
                ),
            );
            keep.push(server);
        }
        None => eprintln!(
            "  no authorization server (./scripts/node-tools.sh installs it): the OAuth JWT cell is left out"
        ),
    }
    let mut fastmcp_version = None;
    if options.with_fastmcp {
        let (python, version) = fastmcp(dir)?;
        let script = root().join("bench/fastmcp/server.py").display().to_string();
        let fdb = db("fastmcp.db").display().to_string();
        targets.push(Target {
            name: FASTMCP,
            http: s(&[&python, &script, "http", "{port}", &fdb]),
            stdio: Some(s(&[&python, &script, "stdio", &fdb])),
            add: Some("add"),
            note_add: Some("note_add"),
            read: None,
            prompt: None,
            db: db("fastmcp.db"),
            prepare: None,
            headers: String::new(),
            scrape: None,
        });
        fastmcp_version = Some(version);
    }
    Ok((targets, fastmcp_version, keep))
}

/// FastMCP in a venv of its own (made once); returns its Python and FastMCP's version.
fn fastmcp(dir: &Path) -> Result<(String, String), String> {
    let venv = dir.join("fastmcp-venv");
    let python = venv.join("bin/python");
    let version = |python: &Path| {
        Command::new(python)
            .args(["-c", "import fastmcp; print(fastmcp.__version__)"])
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let wanted = FASTMCP_REQUIREMENT.trim_start_matches("fastmcp==");
    if version(&python).as_deref() != Some(wanted) {
        eprintln!("installing {FASTMCP_REQUIREMENT} into {}…", venv.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        run(Command::new(venv.join("bin/pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            FASTMCP_REQUIREMENT,
        ]))?;
    }
    let found = version(&python).ok_or("FastMCP did not install")?;
    Ok((python.display().to_string(), found))
}

/// Debug build cost of a fresh project: the first build (clean unless `quick` finds the
/// target directory of an earlier run), then three rebuilds after editing a tool body.
/// In `quick` mode it builds where the smoke test's projects do ([`Builds`]): the smoke
/// test checks the steps, not a clean build's time.
fn build_cost(dir: &Path, quick: bool) -> Result<BuildCost, String> {
    let mango = cargo_mango()?;
    let base = dir.join("build-cost");
    let target = if quick {
        Builds::new(quick).project_target()
    } else {
        base.join("target")
    };
    if !quick {
        let _ = std::fs::remove_dir_all(&target);
    }
    let clean = !target.exists();
    let site = new_project(&mango, &base.join("project"), "buildsite", "things")?;
    let build = || {
        timed(
            Command::new(cargo())
                .args(["build", "-q"])
                .current_dir(&site)
                .env("CARGO_TARGET_DIR", &target),
        )
    };
    let first_build_s = build()?;
    let lib = site.join("apps/things/src/lib.rs");
    // The body of the template's `hello` tool.
    let body = "format!(\"Hello, {name}!\")";
    let original = template_text(&lib, body)?;
    let mut rebuilds = Vec::new();
    for i in 1..=3 {
        let edited = original.replace(body, &format!("format!(\"Hello #{i}, {{name}}!\")"));
        std::fs::write(&lib, edited).map_err(io("editing the tool"))?;
        rebuilds.push(build()?);
    }
    Ok(BuildCost {
        first_build_s,
        clean,
        rebuild_s: median(rebuilds),
    })
}

/// `tools/list` with 1,000 tools, in process (the `tools-list` binary).
fn tools_list(builds: &Builds, repetitions: usize) -> Result<ToolsList, String> {
    let bin = builds.baseline("tools-list").display().to_string();
    let out = server_command(&[bin, repetitions.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .map_err(io("tools-list"))?;
    if !out.status.success() {
        return Err(format!("tools-list failed: {}", out.status));
    }
    ToolsList::parse(&String::from_utf8_lossy(&out.stdout))
}

/// A call in two MRTR rounds against two plain calls, in process (the `rounds` binary).
fn rounds(builds: &Builds, repetitions: usize) -> Result<Rounds, String> {
    let bin = builds.baseline("rounds").display().to_string();
    let out = server_command(&[bin, repetitions.to_string()])
        .stderr(Stdio::inherit())
        .output()
        .map_err(io("rounds"))?;
    if !out.status.success() {
        return Err(format!("rounds failed: {}", out.status));
    }
    Rounds::parse(&String::from_utf8_lossy(&out.stdout))
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or_else(|| "unknown CPU".into(), |(_, m)| m.trim().to_owned());
    let output = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    Machine {
        cpus: cpus(),
        cpu_model,
        kernel: output("uname", &["-sr"]),
        pinned: can_pin(),
        date: output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
    }
}

/// Prints the report and writes `results.md`, `results.json` and `results.svg` in `dir`.
fn write_results(report: &Report, dir: &Path) -> Result<(), String> {
    let markdown = report.markdown();
    println!("{markdown}");
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text).map_err(io("writing the results"))
    };
    write("results.md", &markdown)?;
    write(
        "results.json",
        &serde_json::to_string_pretty(report).map_err(|e| e.to_string())?,
    )?;
    mango_bench::plot::draw(report, &dir.join("results.svg"))?;
    eprintln!(
        "written: {0}/results.md, {0}/results.json, {0}/results.svg",
        dir.display()
    );
    Ok(())
}

/// `report <results.json>`: the Markdown and the plot again, from a saved run, next to
/// the JSON.
fn rerender(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(io(&path.display().to_string()))?;
    let report: Report =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    write_results(&report, dir)
}

/// `load <host:port> <tool> [c] [s]`: the load generator alone, against a server
/// started by hand (under `perf record`, say).
fn load(args: &[String]) -> Result<(), String> {
    // `--header "Name: value"` (repeatable) adds a header to every request.
    let mut headers = String::new();
    // `--pid PID`: the server's process, whose CPU time per request is reported too.
    let mut pid = None;
    let mut positional = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--header" {
            let line = it.next().ok_or(USAGE)?;
            headers.push_str(line);
            headers.push_str("\r\n");
        } else if arg == "--pid" {
            let n = it.next().and_then(|n| n.parse().ok()).ok_or(USAGE)?;
            pid = Some(n);
        } else {
            positional.push(arg.clone());
        }
    }
    let [authority, tool, rest @ ..] = positional.as_slice() else {
        return Err(USAGE.into());
    };
    let number = |i: usize, default: u64| {
        rest.get(i)
            .map_or(Ok(default), |n| n.parse().map_err(|_| USAGE.to_owned()))
    };
    let concurrency = usize::try_from(number(0, 64)?).map_err(|e| e.to_string())?;
    let seconds = number(1, 10)?;
    // `read:<uri>` and `prompt:<name>` drive a resource read or a prompt get instead.
    let body = if let Some(uri) = tool.strip_prefix("read:") {
        cell_body("read", uri)
    } else if let Some(name) = tool.strip_prefix("prompt:") {
        cell_body("prompt", name)
    } else if tool.contains("note") {
        call_body(tool, serde_json::json!({"text": "hello"}))
    } else {
        call_body(tool, serde_json::json!({"a": 1, "b": 2}))
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("tokio"))?;
    let stats = runtime.block_on(loadgen::run(
        authority,
        "/mcp",
        &headers,
        &body,
        concurrency,
        Duration::from_secs(1),
        Duration::from_secs(seconds),
        pid,
    ));
    let cpu = stats
        .cpu_us_per_request()
        .map_or_else(String::new, |us| format!(", server CPU {us:.1} µs/req"));
    println!(
        "{tool} c={concurrency}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, {} errors{cpu}",
        stats.requests_per_second(),
        stats.quantile_ms(0.5),
        stats.quantile_ms(0.99),
        stats.errors
    );
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let (Some("report"), Some(path)) = (args.first().map(String::as_str), args.get(1)) {
        if let Err(e) = rerender(Path::new(path)) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        return;
    }
    if args.first().map(String::as_str) == Some("stdio") {
        // `stdio <tool> <calls> <server command…>`: cold start and sequential calls alone.
        let result = match &args[1..] {
            [tool, calls, argv @ ..] if !argv.is_empty() => calls
                .parse()
                .map_err(|_| USAGE.to_owned())
                .and_then(|calls| stdio_run(argv, tool, calls)),
            _ => Err(USAGE.to_owned()),
        };
        match result {
            Ok((cold, rate)) => println!("cold start {cold:.1} ms, {rate:.0} calls/s"),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
        return;
    }
    if args.first().map(String::as_str) == Some("scale") {
        let quick = match &args[1..] {
            [] => false,
            [q] if q == "--quick" => true,
            _ => {
                eprintln!("{USAGE}");
                std::process::exit(2);
            }
        };
        if let Err(e) = scale::scale(quick) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        return;
    }
    if args.first().map(String::as_str) == Some("task") {
        // `task <host:port> <tool> [calls] [--pid <server's pid>]`: the task cell alone,
        // against a running server.
        let mut rest: Vec<&String> = args[1..].iter().collect();
        let pid = match rest.iter().position(|a| *a == "--pid") {
            Some(i) if i + 1 < rest.len() => {
                let pid = rest[i + 1].parse::<u32>().ok();
                rest.drain(i..=i + 1);
                pid
            }
            _ => None,
        };
        let result = match rest.as_slice() {
            [authority, tool, more @ ..] if more.len() <= 1 => more
                .first()
                .map_or(Ok(1000), |n| n.parse().map_err(|_| USAGE.to_owned()))
                .and_then(|calls| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?
                        .block_on(work::task_cost(authority, tool, calls, pid))
                }),
            _ => Err(USAGE.to_owned()),
        };
        if let Err(e) = result {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
        return;
    }
    if args.first().map(String::as_str) == Some("load") {
        if let Err(e) = load(&args[1..]) {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
        return;
    }
    let known = ["--quick", "--with-fastmcp"];
    if args.first().map(String::as_str) != Some("all")
        || args[1..].iter().any(|a| !known.contains(&a.as_str()))
    {
        eprintln!("{USAGE}");
        std::process::exit(2);
    }
    let options = Options {
        quick: args.iter().any(|a| a == "--quick"),
        with_fastmcp: args.iter().any(|a| a == "--with-fastmcp"),
    };
    if let Err(e) = bench(&options) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Tasks and jobs in mango's project on SQLite (see `work`): a task-mode call against
/// a plain one; the jobs' throughput with 1 and 4 workers; a worker's memory with
/// 100,000 jobs queued (10,000 in the smoke test).
fn durable_work(
    mango: &Target,
    runtime: &tokio::runtime::Runtime,
    quick: bool,
) -> Result<(TaskCost, Vec<Throughput>, JobsMemory), String> {
    mango.reset_database()?;
    let port = free_port();
    let server = start_http(mango, port)?;
    let tasks = runtime.block_on(work::task_cost(
        &format!("127.0.0.1:{port}"),
        "benchapp_noop",
        if quick { 20 } else { 1000 },
        Some(server.0.id()),
    ))?;
    drop(server);
    // `mango.http` is `[bin, --settings, <file>, serve, …]`.
    let base: Vec<String> = mango.http[..3].to_vec();
    let mut fresh = || -> Result<Box<work::Command>, String> {
        mango.reset_database()?;
        let base = base.clone();
        Ok(Box::new(move |args: &[&str]| {
            let mut argv = base.clone();
            argv.extend(args.iter().map(|a| (*a).to_owned()));
            // The worker on the servers' core; the commands that queue and count jobs
            // on the load generator's.
            let mut cmd = if args.get(1) == Some(&"worker") {
                server_command(&argv)
            } else {
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]);
                c
            };
            cmd.env("MANGO_LOG_LEVEL", "warn");
            cmd
        }))
    };
    let jobs = if quick { 200 } else { 5000 };
    let throughput = [1, 4]
        .into_iter()
        .map(|workers| work::throughput("SQLite", &mut fresh, workers, jobs))
        .collect::<Result<Vec<_>, _>>()?;
    let (ran, large) = if quick {
        (200, 10_000)
    } else {
        (2000, 100_000)
    };
    let memory = work::worker_memory(&mut fresh, ran, large, ran)?;
    // Not the queued jobs left behind: a server started on the project afterwards (to
    // profile it) would run them in its workers.
    mango.reset_database()?;
    Ok((tasks, throughput, memory))
}

/// The per-run settings: warm-up, measured time per cell, repetitions, stdio calls,
/// `tools/list` repetitions.
struct Plan {
    warmup: Duration,
    duration: Duration,
    repetitions: usize,
    stdio_calls: usize,
    list_repetitions: usize,
}

fn bench(options: &Options) -> Result<(), String> {
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir).map_err(io("target/bench"))?;
    let machine = machine();
    let plan = if options.quick {
        Plan {
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(300),
            repetitions: 1,
            stdio_calls: 200,
            list_repetitions: 50,
        }
    } else {
        Plan {
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
            repetitions: 3,
            stdio_calls: 2000,
            list_repetitions: 500,
        }
    };
    eprintln!(
        "building the baselines and the mango project ({})…",
        if options.quick {
            "debug, for the smoke test"
        } else {
            "release"
        }
    );
    let (targets, fastmcp_version, _running) = build(&dir, options)?;
    eprintln!("build cost of a new project (debug)…");
    let build = build_cost(&dir, options.quick)?;
    eprintln!(
        "  first build {:.1} s ({}), rebuild after editing a tool {:.2} s",
        build.first_build_s,
        if build.clean { "clean" } else { "not clean" },
        build.rebuild_s
    );
    let pinned = can_pin();
    if pinned {
        pin_self(1)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("tokio"))?;
    let mut http = Vec::new();
    let mut idle: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    let mut peak: Vec<f64> = vec![0.0; targets.len()];
    let tools = [
        "add",
        "note_add",
        "read",
        "prompt",
        "model_query",
        "hand_query",
        "model_get",
        "hand_get",
    ];
    for tool in tools {
        // A resource read and a prompt get are held to `add` at 64 connections; a
        // model's tools to the same queries by hand at 8.
        let levels: &[usize] = match tool {
            "add" | "note_add" => &[1, 8, 64],
            "read" | "prompt" => &[64],
            _ => &[8],
        };
        for &concurrency in levels {
            let mut runs: Vec<Vec<loadgen::Stats>> = vec![Vec::new(); targets.len()];
            for rep in 0..plan.repetitions {
                // The servers' order alternates between repetitions.
                let mut order: Vec<usize> = (0..targets.len()).collect();
                if rep % 2 == 1 {
                    order.reverse();
                }
                for i in order {
                    let t = &targets[i];
                    let Some(name) = t.tool(tool) else { continue };
                    t.reset_database()?;
                    let port = free_port();
                    let server = start_http(t, port)?;
                    idle[i].push(memory(server.0.id()).0);
                    let scraper = t.scrape.clone().map(Scraper::start);
                    let stats = runtime.block_on(loadgen::run(
                        &format!("127.0.0.1:{port}"),
                        "/mcp",
                        &t.headers,
                        &cell_body(tool, name),
                        concurrency,
                        plan.warmup,
                        plan.duration,
                        Some(server.0.id()),
                    ));
                    peak[i] = peak[i].max(memory(server.0.id()).1);
                    if let Some(scraper) = scraper {
                        let scrapes = scraper.stop();
                        if scrapes == 0 && !options.quick {
                            return Err(format!("{}: no scrape of /metrics succeeded", t.name));
                        }
                    }
                    if t.name == MANGO_TRACES
                        && !options.quick
                        && OTLP_EXPORTS.load(std::sync::atomic::Ordering::Relaxed) == 0
                    {
                        return Err(format!("{}: no span reached the OTLP endpoint", t.name));
                    }
                    runs[i].push(stats);
                }
            }
            for (i, runs) in runs.into_iter().enumerate() {
                if runs.is_empty() {
                    continue;
                }
                let cell = HttpCell {
                    server: targets[i].name.into(),
                    tool: tool.into(),
                    concurrency,
                    requests_per_second: median(
                        runs.iter()
                            .map(loadgen::Stats::requests_per_second)
                            .collect(),
                    ),
                    p50_ms: median(runs.iter().map(|s| s.quantile_ms(0.5)).collect()),
                    p99_ms: median(runs.iter().map(|s| s.quantile_ms(0.99)).collect()),
                    errors: runs.iter().map(|s| s.errors).sum(),
                    repetitions: runs.len(),
                    cpu_us: {
                        let cpu: Vec<f64> = runs
                            .iter()
                            .filter_map(loadgen::Stats::cpu_us_per_request)
                            .collect();
                        (cpu.len() == runs.len()).then(|| median(cpu))
                    },
                };
                eprintln!(
                    "{:<30} {:<9} c={:<3} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  CPU {:>6.1} µs/req  errors {}",
                    cell.server,
                    cell.tool,
                    cell.concurrency,
                    cell.requests_per_second,
                    cell.p50_ms,
                    cell.p99_ms,
                    cell.cpu_us.unwrap_or(f64::NAN),
                    cell.errors
                );
                http.push(cell);
            }
        }
    }
    let memory = targets
        .iter()
        .enumerate()
        .filter(|(i, _)| !idle[*i].is_empty())
        .map(|(i, t)| MemoryRow {
            server: t.name.into(),
            idle_mib: median(idle[i].clone()),
            peak_mib: peak[i],
        })
        .collect();
    // Stdio: five rounds, the servers' order alternating between rounds.
    let mut colds: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    for round in 0..5 {
        let mut order: Vec<usize> = (0..targets.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let t = &targets[i];
            let (Some(argv), Some(add)) = (&t.stdio, t.add) else {
                continue;
            };
            t.reset_database()?;
            let (cold, rate) = stdio_run(argv, add, plan.stdio_calls)?;
            colds[i].push(cold);
            rates[i].push(rate);
        }
    }
    let mut stdio = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        if rates[i].is_empty() {
            continue;
        }
        let row = StdioRow {
            server: t.name.into(),
            cold_start_ms: median(colds[i].clone()),
            calls_per_second: median(rates[i].clone()),
        };
        eprintln!(
            "{:<30} stdio     cold start {:>7.1} ms  {:>9.0} add calls/s",
            row.server, row.cold_start_ms, row.calls_per_second
        );
        stdio.push(row);
    }
    let (tasks, jobs, jobs_memory) = durable_work(&targets[0], &runtime, options.quick)?;
    let builds = Builds::new(options.quick);
    let tools_list = tools_list(&builds, plan.list_repetitions)?;
    let rounds = rounds(&builds, plan.list_repetitions * 4)?;
    eprintln!(
        "two MRTR rounds p50 {:.3} ms, two plain calls p50 {:.3} ms (in process)",
        rounds.two_rounds.p50_ms, rounds.two_calls.p50_ms
    );
    let report = Report {
        machine,
        quick: options.quick,
        seconds_per_cell: plan.duration.as_secs_f64(),
        repetitions: plan.repetitions,
        fastmcp_version,
        http,
        stdio,
        memory,
        tools_list: Some(tools_list),
        rounds: Some(rounds),
        build: Some(build),
        tasks: Some(tasks),
        jobs,
        jobs_memory: Some(jobs_memory),
    };
    write_results(&report, &dir)?;
    // A cell without a counted reply is broken; in the smoke test, so is any error of
    // mango's (a baseline's errors, a per-call connection's lock timeouts say, are
    // reported, not fatal).
    let failed: Vec<String> = report
        .http
        .iter()
        .filter(|c| {
            c.requests_per_second == 0.0
                || (options.quick
                    && [
                        MANGO,
                        MANGO_JWT,
                        MANGO_AUDIT,
                        MANGO_USER_TOKEN,
                        MANGO_METRICS,
                        MANGO_TELEMETRY_OFF,
                        MANGO_TRACES,
                    ]
                    .contains(&c.server.as_str())
                    && c.errors > 0)
        })
        .map(|c| {
            format!(
                "{} {} c={} ({} errors)",
                c.server, c.tool, c.concurrency, c.errors
            )
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("replies that did not count: {}", failed.join(", ")))
    }
}
