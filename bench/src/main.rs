//! `cargo run -p mango-bench --release -- all [--quick]`: mango against a raw rmcp
//! server and a bare axum echo, in one run, on this machine.
//!
//! What it does: builds the baselines (this package's `raw-rmcp` and `echo`) and a
//! benchmark project made with `cargo mango` (tools `add` and `note_add`, release);
//! drives each over Streamable HTTP (stateless JSON) at concurrency 1, 8 and 64 with a
//! closed-loop load generator, server and generator pinned to different cores when
//! there are two; times 2,000 sequential `add` calls over stdio; measures cold start
//! (spawn to the first `tools/list` answer) and resident memory; then prints a table
//! and writes it as Markdown and JSON under `target/bench/`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mango_bench::loadgen;

struct Options {
    quick: bool,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("{cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}"))
    }
}

/// The servers: name, how to start one on a port (HTTP) and over stdio.
struct Target {
    name: &'static str,
    http: Vec<String>,
    stdio: Option<Vec<String>>,
    add: &'static str,
    note_add: Option<&'static str>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(18_000)
}

fn pinned(core: usize, argv: &[String]) -> Command {
    let two_cores = std::thread::available_parallelism()
        .map(|n| n.get() >= 2)
        .unwrap_or(false);
    let taskset = Path::new("/usr/bin/taskset").exists();
    let mut cmd = if two_cores && taskset {
        let mut c = Command::new("taskset");
        c.args(["-c", &core.to_string()]).args(argv);
        c
    } else {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    };
    cmd.env("MANGO_LOG", "warn");
    cmd
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_http(target: &Target, port: u16) -> Result<Running, String> {
    let argv: Vec<String> = target
        .http
        .iter()
        .map(|a| a.replace("{port}", &port.to_string()))
        .collect();
    let child = pinned(0, &argv)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", target.name))?;
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            return Err(format!("{} did not listen on {port}", target.name));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Running(child))
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

fn call_body(tool: &str, args: serde_json::Value) -> String {
    serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args}}).to_string()
}

/// Stdio: cold start to the first tools/list answer, then `calls` sequential `add`s.
fn stdio_run(argv: &[String], tool: &str, calls: usize) -> Result<(f64, f64), String> {
    use std::io::{BufRead, BufReader, Write};
    let started = Instant::now();
    let mut child = pinned(0, argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
    let mut send = |v: serde_json::Value| writeln!(stdin, "{v}").map_err(|e| e.to_string());
    send(
        serde_json::json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}),
    )?;
    lines.next();
    send(serde_json::json!({"jsonrpc":"2.0","method":"notifications/initialized"}))?;
    send(serde_json::json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))?;
    lines.next();
    let cold_ms = started.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    for i in 0..calls {
        send(
            serde_json::json!({"jsonrpc":"2.0","id": i + 2,"method":"tools/call","params":{"name": tool,"arguments":{"a": i,"b": 1}}}),
        )?;
        let line = lines
            .next()
            .ok_or("the server stopped")?
            .map_err(|e| e.to_string())?;
        if !line.contains("\"result\"") {
            return Err(format!("bad reply: {line}"));
        }
    }
    let per_second = calls as f64 / t.elapsed().as_secs_f64();
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    Ok((cold_ms, per_second))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

const BENCH_APP: &str = r#"//! The benchmark's tools.

use diesel::prelude::*;
use mango_rt::db::{Db, RunQueryDsl};
use mango_rt::{ToolError, tool};

mango_rt::migrations!();

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
"#;

/// Builds the baselines and the mango project; returns the three targets.
fn build(dir: &Path) -> Result<Vec<Target>, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(&cargo)
        .args([
            "build",
            "-q",
            "--release",
            "-p",
            "mango-bench",
            "--bins",
            "-p",
            "cargo-mango",
        ])
        .current_dir(root()))?;
    let release = root().join("target/release");
    let site_parent = dir.join("project");
    let _ = std::fs::remove_dir_all(&site_parent);
    std::fs::create_dir_all(&site_parent).map_err(|e| e.to_string())?;
    let mango = release.join("cargo-mango");
    run(Command::new(&mango)
        .args(["mango", "startproject", "benchsite"])
        .current_dir(&site_parent))?;
    let site = site_parent.join("benchsite");
    run(Command::new(&mango)
        .args(["mango", "startapp", "benchapp"])
        .current_dir(&site))?;
    let app = site.join("apps/benchapp");
    std::fs::write(app.join("src/lib.rs"), BENCH_APP).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(app.join("src/schema.rs"));
    let _ = std::fs::remove_dir_all(app.join("migrations"));
    let m = app.join("migrations/2024-01-01-000000_create_bench_notes");
    std::fs::create_dir_all(&m).map_err(|e| e.to_string())?;
    std::fs::write(m.join("up.sql"), "CREATE TABLE bench_notes (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, text TEXT NOT NULL);\n").map_err(|e| e.to_string())?;
    std::fs::write(m.join("down.sql"), "DROP TABLE bench_notes;\n").map_err(|e| e.to_string())?;
    run(Command::new(&mango)
        .args(["mango", "sync"])
        .current_dir(&site))?;
    let target_dir = dir.join("target");
    run(Command::new(&cargo)
        .args(["build", "-q", "--release", "-p", "benchsite"])
        .current_dir(&site)
        .env("CARGO_TARGET_DIR", &target_dir))?;
    let bin = target_dir.join("release/benchsite");
    let settings = site.join("Mango.toml");
    let mango_db = format!("sqlite://{}", dir.join("mango.db").display());
    let raw_db = dir.join("raw.db").display().to_string();
    for f in [
        "mango.db",
        "mango.db-wal",
        "mango.db-shm",
        "raw.db",
        "raw.db-wal",
        "raw.db-shm",
    ] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    run(Command::new(&bin)
        .args(["--settings", &settings.display().to_string(), "migrate"])
        .env("MANGO_DATABASE__URL", &mango_db)
        .stdout(Stdio::null()))?;
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let b = bin.display().to_string();
    let set = settings.display().to_string();
    // The database URL reaches mango through `env` in front of its command line.
    Ok(vec![
        Target {
            name: "mango",
            http: s(&[
                "env",
                &format!("MANGO_DATABASE__URL={mango_db}"),
                &b,
                "--settings",
                &set,
                "serve",
                "--transport",
                "http",
                "--stateless",
                "--port",
                "{port}",
            ]),
            stdio: Some(s(&[
                "env",
                &format!("MANGO_DATABASE__URL={mango_db}"),
                &b,
                "--settings",
                &set,
                "serve",
                "--transport",
                "stdio",
            ])),
            add: "benchapp_add",
            note_add: Some("benchapp_note_add"),
        },
        Target {
            name: "raw rmcp",
            http: s(&[
                &release.join("raw-rmcp").display().to_string(),
                "http",
                "{port}",
                &raw_db,
            ]),
            stdio: Some(s(&[
                &release.join("raw-rmcp").display().to_string(),
                "stdio",
                &raw_db,
            ])),
            add: "add",
            note_add: Some("note_add"),
        },
        Target {
            name: "axum echo",
            http: s(&[&release.join("echo").display().to_string(), "{port}"]),
            stdio: None,
            add: "add",
            note_add: None,
        },
    ])
}

#[derive(serde::Serialize)]
struct Cell {
    server: &'static str,
    tool: &'static str,
    concurrency: usize,
    requests_per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("all") {
        eprintln!("usage: cargo run -p mango-bench --release -- all [--quick]");
        std::process::exit(2);
    }
    let options = Options {
        quick: args.iter().any(|a| a == "--quick"),
    };
    if let Err(e) = bench(&options) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn bench(options: &Options) -> Result<(), String> {
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    eprintln!("building the baselines and the mango project (release)…");
    let targets = build(&dir)?;
    let (warmup, duration, reps, stdio_calls) = if options.quick {
        (Duration::from_millis(200), Duration::from_secs(1), 1, 200)
    } else {
        (Duration::from_secs(2), Duration::from_secs(10), 3, 2000)
    };
    // The load generator runs on core 1 (the servers on core 0).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut cells: Vec<Cell> = Vec::new();
    let mut memory_rows = Vec::new();
    for tool in ["add", "note_add"] {
        for concurrency in [1usize, 8, 64] {
            let mut per_target: Vec<Vec<loadgen::Stats>> =
                (0..targets.len()).map(|_| Vec::new()).collect();
            for rep in 0..reps {
                // Alternate the order of the servers between repetitions.
                let mut order: Vec<usize> = (0..targets.len()).collect();
                if rep % 2 == 1 {
                    order.reverse();
                }
                for i in order {
                    let t = &targets[i];
                    let name = if tool == "add" {
                        Some(t.add)
                    } else {
                        t.note_add
                    };
                    let Some(name) = name else { continue };
                    let port = free_port();
                    let server = start_http(t, port)?;
                    let (idle, _) = memory(server.0.id());
                    let body = call_body(
                        name,
                        if tool == "add" {
                            serde_json::json!({"a": 1, "b": 2})
                        } else {
                            serde_json::json!({"text": "hello"})
                        },
                    );
                    let stats = runtime.block_on(loadgen::run(
                        &format!("127.0.0.1:{port}"),
                        "/mcp",
                        &body,
                        concurrency,
                        warmup,
                        duration,
                    ));
                    let (_, peak) = memory(server.0.id());
                    if tool == "add" && concurrency == 64 && rep == 0 {
                        memory_rows.push((t.name, idle, peak));
                    }
                    per_target[i].push(stats);
                }
            }
            for (i, runs) in per_target.into_iter().enumerate() {
                if runs.is_empty() {
                    continue;
                }
                let cell = Cell {
                    server: targets[i].name,
                    tool: if tool == "add" { "add" } else { "note_add" },
                    concurrency,
                    requests_per_second: median(
                        runs.iter()
                            .map(loadgen::Stats::requests_per_second)
                            .collect(),
                    ),
                    p50_ms: median(runs.iter().map(|s| s.quantile_ms(0.5)).collect()),
                    p99_ms: median(runs.iter().map(|s| s.quantile_ms(0.99)).collect()),
                    errors: runs.iter().map(|s| s.errors).sum(),
                };
                eprintln!(
                    "{:<10} {:<9} c={:<3} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
                    cell.server,
                    cell.tool,
                    cell.concurrency,
                    cell.requests_per_second,
                    cell.p50_ms,
                    cell.p99_ms,
                    cell.errors
                );
                cells.push(cell);
            }
        }
    }
    let mut stdio_rows = Vec::new();
    for t in &targets {
        let Some(argv) = &t.stdio else { continue };
        let mut colds = Vec::new();
        let mut rates = Vec::new();
        for _ in 0..reps.max(3) {
            let (cold, rate) = stdio_run(argv, t.add, stdio_calls)?;
            colds.push(cold);
            rates.push(rate);
        }
        stdio_rows.push((t.name, median(colds), median(rates)));
    }
    let report = render(&cells, &stdio_rows, &memory_rows, options);
    println!("{report}");
    std::fs::write(dir.join("results.md"), &report).map_err(|e| e.to_string())?;
    let json = serde_json::json!({"http": cells, "stdio": stdio_rows.iter().map(|(n, c, r)| serde_json::json!({"server": n, "cold_start_ms": c, "sequential_add_per_second": r})).collect::<Vec<_>>(), "memory_mib": memory_rows.iter().map(|(n, i, p)| serde_json::json!({"server": n, "idle": i, "peak": p})).collect::<Vec<_>>()});
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(|e| e.to_string())?;
    eprintln!(
        "written: {} and results.json",
        dir.join("results.md").display()
    );
    Ok(())
}

fn render(
    cells: &[Cell],
    stdio: &[(&str, f64, f64)],
    memory: &[(&str, f64, f64)],
    options: &Options,
) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Streamable HTTP, stateless JSON ({} per cell{}):\n\n| tool | concurrency | server | req/s | × raw rmcp | p50 ms | p99 ms | errors |\n|---|---|---|---|---|---|---|---|\n",
        if options.quick { "1 s, 1 run" } else { "10 s, median of 3" },
        ""
    ));
    for c in cells {
        let raw = cells
            .iter()
            .find(|r| r.server == "raw rmcp" && r.tool == c.tool && r.concurrency == c.concurrency)
            .map_or(0.0, |r| r.requests_per_second);
        let ratio = if raw > 0.0 {
            c.requests_per_second / raw
        } else {
            0.0
        };
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |\n",
            c.tool,
            c.concurrency,
            c.server,
            c.requests_per_second,
            ratio,
            c.p50_ms,
            c.p99_ms,
            c.errors
        ));
    }
    out.push_str("\nstdio:\n\n| server | cold start to tools/list (ms) | sequential add calls/s |\n|---|---|---|\n");
    for (name, cold, rate) in stdio {
        out.push_str(&format!("| {name} | {cold:.1} | {rate:.0} |\n"));
    }
    out.push_str("\nmemory (HTTP server):\n\n| server | idle RSS (MiB) | peak RSS after add c=64 (MiB) |\n|---|---|---|\n");
    for (name, idle, peak) in memory {
        out.push_str(&format!("| {name} | {idle:.1} | {peak:.1} |\n"));
    }
    out
}
