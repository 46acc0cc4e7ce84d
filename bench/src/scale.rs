//! `scale [--quick]`: replicas of one release build of a mango project on PostgreSQL
//! (debug for the smoke test, `--quick`), measured alone (no balancer) and behind nginx
//! with 1, 2 and 3 replicas, in one run:
//! requests per second and latency of `add` (no database) and `note_add` (one insert);
//! then, on one replica, a task-mode call polled to completion against a plain call,
//! and no-op jobs per second with 1 and 4 workers (`run worker`) on PostgreSQL.
//!
//! Needs a PostgreSQL server (`MANGO_TEST_DATABASE_URL`, else the one
//! `./scripts/postgres.sh` starts) and nginx (Debian's `nginx-light`). Every process
//! shares the machine's cores: on one machine, more replicas show the balancer's and
//! the replicas' overhead, not more capacity.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mango_bench::loadgen;
use mango_bench::report::{TaskCost, Throughput};

use super::{Builds, Group, Running, cargo, cargo_mango, free_port, io, new_project, root, run};

/// The tools the scale run calls.
const SCALE_APP: &str = r#"//! The scale benchmark's tools.

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

/// Insert a note; returns its id.
#[tool]
async fn note_add(text: String, db: &mut Db) -> Result<i64, ToolError> {
    Ok(diesel::insert_into(bench_notes::table)
        .values(bench_notes::text.eq(text))
        .returning(bench_notes::id)
        .get_result(db)
        .await?)
}
"#;

const KEY: &str = "scale-benchmark-key-0123456789abcdef";

/// Concurrent connections of the load generator.
const CONCURRENCY: usize = 32;

struct Cell {
    setup: String,
    tool: &'static str,
    stats: loadgen::Stats,
}

pub(super) fn scale(quick: bool) -> Result<(), String> {
    let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or("nginx is missing: install Debian's `nginx-light` (apt-get install nginx-light)")?;
    let base = postgres()?;
    let dir = root().join("target/bench/scale");
    let builds = Builds::new(quick);
    let site = build(&dir, &builds)?;
    let bin = builds.project_binary("scalesite");
    let (warmup, duration, repetitions) = if quick {
        (Duration::from_millis(100), Duration::from_millis(300), 1)
    } else {
        (Duration::from_secs(2), Duration::from_secs(10), 3)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("tokio"))?;
    let mut cells: Vec<Cell> = Vec::new();
    // (name, replicas, behind nginx)
    let setups = [
        ("1 replica, no nginx", 1, false),
        ("nginx + 1 replica", 1, true),
        ("nginx + 2 replicas", 2, true),
        ("nginx + 3 replicas", 3, true),
    ];
    for tool in ["add", "note_add"] {
        for &(name, replicas, behind) in &setups {
            let mut runs = Vec::new();
            for _ in 0..repetitions {
                let db = fresh_database(&base)?;
                run(site_command(&bin, &site, &db, &["migrate"]).stdout(Stdio::null()))?;
                let servers: Vec<(Running, u16)> = (1..=replicas)
                    .map(|i| start_replica(&bin, &site, &db, i))
                    .collect::<Result<_, _>>()?;
                let (_nginx, port) = if behind {
                    let ports: Vec<u16> = servers.iter().map(|s| s.1).collect();
                    let (n, p) = start_nginx(&nginx, &bin, &site, &db, &dir, &ports)?;
                    (Some(n), p)
                } else {
                    (None, servers[0].1)
                };
                let body = body(tool);
                let stats = runtime.block_on(loadgen::run(
                    &format!("127.0.0.1:{port}"),
                    "/mcp",
                    "",
                    &body,
                    CONCURRENCY,
                    warmup,
                    duration,
                    None,
                ));
                if stats.ok == 0 {
                    return Err(format!(
                        "{name}, {tool}: no call succeeded ({} errors)",
                        stats.errors
                    ));
                }
                runs.push(stats);
            }
            runs.sort_by(|a, b| a.requests_per_second().total_cmp(&b.requests_per_second()));
            let stats = runs.swap_remove(runs.len() / 2);
            eprintln!(
                "  {name:<22} {tool:<9} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  {} errors",
                stats.requests_per_second(),
                stats.quantile_ms(0.5),
                stats.quantile_ms(0.99),
                stats.errors
            );
            cells.push(Cell {
                setup: name.to_owned(),
                tool,
                stats,
            });
        }
    }
    // Durable work on PostgreSQL: a task-mode call against a plain one (one replica),
    // and no-op jobs per second with 1 and 4 workers (`run worker`).
    let db = fresh_database(&base)?;
    run(site_command(&bin, &site, &db, &["migrate"]).stdout(Stdio::null()))?;
    let (server, port) = start_replica(&bin, &site, &db, 1)?;
    let tasks = runtime.block_on(super::work::task_cost(
        &format!("127.0.0.1:{port}"),
        "scaleapp_noop",
        if quick { 20 } else { 1000 },
        Some(server.0.id()),
    ))?;
    drop(server);
    let mut fresh = || -> Result<Box<super::work::Command>, String> {
        let db = fresh_database(&base)?;
        run(site_command(&bin, &site, &db, &["migrate"]).stdout(Stdio::null()))?;
        let (bin, site) = (bin.clone(), site.clone());
        Ok(Box::new(move |args: &[&str]| {
            site_command(&bin, &site, &db, args)
        }))
    };
    let jobs = if quick { 200 } else { 5000 };
    let throughput = [1, 4]
        .into_iter()
        .map(|workers| super::work::throughput("PostgreSQL", &mut fresh, workers, jobs))
        .collect::<Result<Vec<_>, _>>()?;
    write_report(&dir, &cells, &tasks, &throughput, quick, duration)
}

/// The suite's PostgreSQL, or the one `scripts/postgres.sh` starts.
fn postgres() -> Result<String, String> {
    if let Ok(url) = std::env::var("MANGO_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        return Ok(url);
    }
    let out = Command::new(root().join("scripts/postgres.sh"))
        .output()
        .map_err(io("scripts/postgres.sh"))?;
    if !out.status.success() {
        return Err(format!(
            "scripts/postgres.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(str::to_owned)
        .ok_or_else(|| "scripts/postgres.sh printed no URL".to_owned())
}

fn fresh_database(base: &str) -> Result<String, String> {
    for sql in [
        "DROP DATABASE IF EXISTS mango_bench_scale WITH (FORCE)",
        "CREATE DATABASE mango_bench_scale",
    ] {
        run(Command::new("psql")
            .arg(base)
            .args(["-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .stdout(Stdio::null()))?;
    }
    let (head, _) = base
        .rsplit_once('/')
        .ok_or_else(|| format!("{base} is not a postgres:// URL"))?;
    Ok(format!("{head}/mango_bench_scale"))
}

/// The project `scalesite` (app `scaleapp`) for PostgreSQL, built as [`Builds`] says
/// (`--release` into the repository's target directory, but for the smoke test).
fn build(dir: &Path, builds: &Builds) -> Result<PathBuf, String> {
    let mango = cargo_mango()?;
    let site = new_project(&mango, &dir.join("project"), "scalesite", "scaleapp")?;
    let manifest = site.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(io("Cargo.toml"))?;
    let from = "mango-rt = { path = ";
    if !text.contains(from) {
        return Err(format!(
            "{}: the template no longer has `{from}`, which the benchmark edits",
            manifest.display()
        ));
    }
    let text = text.replacen(
        from,
        "mango-rt = { default-features = false, features = [\"postgres\"], path = ",
        1,
    );
    std::fs::write(&manifest, text).map_err(io("Cargo.toml"))?;
    let app = site.join("apps/scaleapp");
    std::fs::write(
        app.join("src/lib.rs"),
        format!("{SCALE_APP}{}", super::work::WORK_ITEMS),
    )
    .map_err(io("the app"))?;
    let _ = std::fs::remove_file(app.join("src/schema.rs"));
    let _ = std::fs::remove_dir_all(app.join("migrations"));
    let m = app.join("migrations/2024-01-01-000000_create_bench_notes");
    std::fs::create_dir_all(&m).map_err(io("the migration"))?;
    std::fs::write(
        m.join("up.sql"),
        "CREATE TABLE bench_notes (id BIGSERIAL PRIMARY KEY, text TEXT NOT NULL);\n",
    )
    .map_err(io("the migration"))?;
    std::fs::write(m.join("down.sql"), "DROP TABLE bench_notes;\n").map_err(io("the migration"))?;
    run(Command::new(&mango)
        .args(["mango", "sync"])
        .current_dir(&site))?;
    run(Command::new(cargo())
        .args(["build", "-q", "-p", "scalesite"])
        .args(builds.flags())
        .current_dir(&site)
        .env("CARGO_TARGET_DIR", builds.project_target()))?;
    Ok(site)
}

fn site_command(bin: &Path, site: &Path, db: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .current_dir(site)
        .env_remove("MANGO_SETTINGS")
        .env_remove("MANGO_PROFILE")
        .env("MANGO_DATABASE__URL", db)
        .env("MANGO_INPUT__KEY", KEY)
        .env("MANGO_SERVER__BEHIND_PROXY", "true")
        .env("MANGO_ADMIN__ENABLED", "false")
        .env("MANGO_LOG_LEVEL", "warn");
    cmd
}

fn start_replica(bin: &Path, site: &Path, db: &str, i: usize) -> Result<(Running, u16), String> {
    let port = free_port();
    let child = site_command(
        bin,
        site,
        db,
        &[
            "serve",
            "--transport",
            "http",
            "--stateless",
            "--port",
            &port.to_string(),
        ],
    )
    .env("MANGO_SERVER__REPLICA", format!("r{i}"))
    .stdout(Stdio::null())
    .spawn()
    .map_err(io("starting a replica"))?;
    let running = Running(child);
    wait_for(port, "/readyz")?;
    Ok((running, port))
}

/// Waits until `GET path` on `port` answers 200.
fn wait_for(port: u16, path: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = write!(
                s,
                "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            );
            let mut answer = String::new();
            let _ = s.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("nothing ready on port {port} within 20 s"))
}

/// nginx with `run nginx`'s configuration for the replicas on `ports`.
fn start_nginx(
    nginx: &Path,
    bin: &Path,
    site: &Path,
    db: &str,
    dir: &Path,
    ports: &[u16],
) -> Result<(Group, u16), String> {
    let port = free_port();
    let mut args = vec!["run".to_owned(), "nginx".to_owned()];
    for p in ports {
        args.extend(["--replica".into(), format!("127.0.0.1:{p}")]);
    }
    args.extend(["--listen".into(), format!("127.0.0.1:{port}")]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = site_command(bin, site, db, &args)
        .output()
        .map_err(io("run nginx"))?;
    if !out.status.success() {
        return Err(format!(
            "run nginx: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let conf_dir = dir.join("nginx");
    std::fs::create_dir_all(conf_dir.join("tmp")).map_err(io("nginx's folder"))?;
    std::fs::write(conf_dir.join("site.conf"), &out.stdout).map_err(io("site.conf"))?;
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let d = conf_dir.display();
    let conf = format!(
        "{user}worker_processes auto;
pid {d}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    # The load generator keeps its connections for the whole run (nginx closes a client's
    # connection after 1,000 requests by default).
    keepalive_requests 1000000;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    include {d}/site.conf;
}}
",
        user = if root_user { "user root;\n" } else { "" },
    );
    std::fs::write(conf_dir.join("nginx.conf"), conf).map_err(io("nginx.conf"))?;
    let running = Group::spawn(
        Command::new(nginx)
            .arg("-p")
            .arg(&conf_dir)
            .arg("-c")
            .arg(conf_dir.join("nginx.conf"))
            .arg("-e")
            .arg(conf_dir.join("error.log"))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
    .map_err(io("starting nginx"))?;
    wait_for(port, "/readyz")?;
    Ok((running, port))
}

fn body(tool: &str) -> String {
    let arguments = if tool == "add" {
        serde_json::json!({"a": 2, "b": 3})
    } else {
        serde_json::json!({"text": "a note"})
    };
    serde_json::json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": format!("scaleapp_{tool}"), "arguments": arguments},
    })
    .to_string()
}

fn write_report(
    dir: &Path,
    cells: &[Cell],
    tasks: &TaskCost,
    jobs: &[Throughput],
    quick: bool,
    duration: Duration,
) -> Result<(), String> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut md = format!(
        "# mango behind nginx: 1, 2 and 3 replicas on one PostgreSQL\n\n`cargo run -p mango-bench --release -- scale{} on {cpus} cores: the load generator, nginx, \
the replicas and PostgreSQL share them. Closed loop, {CONCURRENCY} keep-alive connections, \
{} s measured after a warm-up, the median of {} runs, a fresh database each run.\n\n\
| setup | tool | req/s | p50 ms | p99 ms | errors |\n| --- | --- | ---: | ---: | ---: | ---: |\n",
        if quick {
            " --quick` (the smoke test: debug builds, not a measure of speed)"
        } else {
            "`"
        },
        duration.as_secs(),
        if quick { 1 } else { 3 },
    );
    let mut json = Vec::new();
    for c in cells {
        md.push_str(&format!(
            "| {} | `{}` | {:.0} | {:.2} | {:.2} | {} |\n",
            c.setup,
            c.tool,
            c.stats.requests_per_second(),
            c.stats.quantile_ms(0.5),
            c.stats.quantile_ms(0.99),
            c.stats.errors
        ));
        json.push(serde_json::json!({
            "setup": c.setup,
            "tool": c.tool,
            "requests_per_second": c.stats.requests_per_second(),
            "p50_ms": c.stats.quantile_ms(0.5),
            "p99_ms": c.stats.quantile_ms(0.99),
            "errors": c.stats.errors,
        }));
    }
    md.push_str(&format!(
        "\nOne replica: a task-mode call of a no-op tool polled to completion (`tasks/get` with no wait between, {:.1} per task) p50 {:.3} ms, p99 {:.3} ms; a plain call of it p50 {:.3} ms, p99 {:.3} ms ({:.2}×).\n\n\
| jobs (`run worker`, no-op) | workers | jobs | jobs/s |\n| --- | ---: | ---: | ---: |\n",
        tasks.polls_per_task,
        tasks.task.p50_ms,
        tasks.task.p99_ms,
        tasks.plain.p50_ms,
        tasks.plain.p99_ms,
        tasks.task.p50_ms / tasks.plain.p50_ms.max(1e-9),
    ));
    if let Some(cpu) = &tasks.server_cpu {
        md.insert_str(
            md.rfind("\n\n| jobs").unwrap_or(md.len()),
            &format!(
                " The replica's CPU time (every thread's): {:.1} µs per task, {:.1} µs per plain call ({:.2}×).",
                cpu.task_us,
                cpu.plain_us,
                cpu.task_us / cpu.plain_us.max(1e-9)
            ),
        );
    }
    for j in jobs {
        md.push_str(&format!(
            "| {} | {} | {} | {:.0} |\n",
            j.database, j.workers, j.jobs, j.per_second
        ));
    }
    std::fs::write(dir.join("results.md"), &md).map_err(io("results.md"))?;
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(
            &serde_json::json!({"cells": json, "tasks": tasks, "jobs": jobs}),
        )
        .unwrap_or_default(),
    )
    .map_err(io("results.json"))?;
    println!("{md}");
    println!("(written to {})", dir.join("results.md").display());
    Ok(())
}
