//! Several replicas of one build behind a real nginx (Debian's package, started
//! with the configuration `run nginx` generates), on the suite's PostgreSQL: writes
//! under load land exactly once, also when a replica is killed or every replica is
//! restarted in turn; a call that asks its client completes on another replica and
//! cannot be replayed on any; resource updates reach listeners on other replicas; a
//! 2025-11-25 session stays on the replica that made it; a user's token revoked (or
//! its user deactivated) is refused by every replica within `[auth] token_cache`; a
//! task started through one replica is polled through the others; jobs are run by
//! every replica's workers, each once.
//!
//! Run it with `cargo test -p mango-tests --features replicas --test replicas` (it needs
//! PostgreSQL, nginx and the MCP Python SDK, which `scripts/test.sh` installs; the
//! suite runs it in a stage of its own, after the end-to-end tests, whose PostgreSQL
//! build of mango-rt in `target/e2e` its project shares). The servers are debug builds:
//! what is tested is what reaches the database, what nginx sends on and what a restart
//! loses, not speed (a debug replica serves thousands of calls a second here, and
//! `mango-bench scale` measures release builds).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use mango_tests::{
    build_for_postgres, cargo_in, command_in, copy_dir, e2e_target, fresh_postgres_database,
    http_get, http_post, mango_ok, missing, once_per_run, postgres_url, python, python_script,
    root, scratch, success,
};
use serde_json::Value;

/// The key every replica signs round states with (the same on all of them).
const KEY: &str = "replicas-test-key-0123456789abcdef0123456789";

/// The project: `startproject replicasite` on PostgreSQL with the `orders` fixture,
/// built once, beside the other projects.
struct Project {
    dir: PathBuf,
    binary: PathBuf,
}

fn project() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let dir = e2e_target().join("projects/replicasite/replicasite");
        once_per_run("replicasite", build_project);
        let binary = e2e_target().join("debug/replicasite");
        assert!(binary.is_file());
        Project { dir, binary }
    })
}

/// Scaffolds the project and builds it.
fn build_project() {
    let parent = scratch("replicasite");
    mango_ok(&parent, &["startproject", "replicasite"]);
    let dir = parent.join("replicasite");
    build_for_postgres(&dir);
    mango_ok(&dir, &["startapp", "orders"]);
    let fixtures = root().join("tests/e2e/fixtures");
    let app = dir.join("apps/orders");
    std::fs::copy(fixtures.join("orders.rs"), app.join("src/lib.rs")).unwrap();
    std::fs::remove_file(app.join("src/schema.rs")).unwrap();
    std::fs::remove_dir_all(app.join("migrations")).unwrap();
    copy_dir(&fixtures.join("orders/postgres"), &app.join("migrations"));
    mango_ok(&dir, &["sync"]);
    success(&mut cargo_in(&dir, &["build", "-q", "-p", "replicasite"]));
}

/// What the tests need: PostgreSQL, nginx, the MCP Python SDK (a skip on a laptop, a
/// failure in CI).
fn services() -> Option<(String, PathBuf, PathBuf)> {
    let Some(base) = postgres_url() else {
        missing("PostgreSQL (MANGO_TEST_DATABASE_URL)");
        return None;
    };
    let Some(nginx) = nginx() else {
        missing("nginx (Debian's package `nginx-light`)");
        return None;
    };
    let Some(python) = python() else {
        missing("the MCP Python SDK (pip install mcp)");
        return None;
    };
    Some((base, nginx, python))
}

fn nginx() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// One cluster at a time: each puts load on this 2-core machine.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ready(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        && http_get(&format!("127.0.0.1:{port}"), "/readyz").0 == 200
}

/// A replica: the project's binary serving on its own port, its log in a file.
struct Replica {
    name: String,
    port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl Replica {
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The project's binary with the replicas' environment.
fn site_command(db: &str, key: &str, args: &[&str]) -> Command {
    let p = project();
    let mut cmd = command_in(&p.binary, &p.dir);
    cmd.args(args)
        .env("MANGO_DATABASE__URL", db)
        .env("MANGO_INPUT__KEY", key)
        .env("MANGO_SERVER__BEHIND_PROXY", "true")
        .env("MANGO_ADMIN__ENABLED", "false")
        .env("MANGO_LOG_LEVEL", "info");
    cmd
}

fn start_replica(
    db: &str,
    key: &str,
    name: &str,
    port: u16,
    stateless: bool,
    dir: &Path,
    env: &[(&str, &str)],
) -> Replica {
    let log = dir.join(format!("{name}.log"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    let port_text = port.to_string();
    let mut args = vec![
        "serve",
        "--transport",
        "http",
        "--host",
        "127.0.0.1",
        "--port",
        &port_text,
    ];
    if stateless {
        args.push("--stateless");
    }
    let child = site_command(db, key, &args)
        .envs(env.iter().copied())
        .env("MANGO_SERVER__REPLICA", name)
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap();
    let replica = Replica {
        name: name.to_owned(),
        port,
        child: Some(child),
        log,
    };
    // A panic here drops `replica`, which kills its server.
    wait_until(
        &format!("replica {name} ready"),
        Duration::from_secs(20),
        || ready(port),
    );
    replica
}

/// nginx, in a folder of its own, with `run nginx`'s configuration.
struct Nginx {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Child,
}

impl Nginx {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    fn args(&self) -> Vec<String> {
        vec![
            "-p".into(),
            self.dir.display().to_string(),
            "-c".into(),
            self.dir.join("nginx.conf").display().to_string(),
            "-e".into(),
            self.dir.join("error.log").display().to_string(),
        ]
    }

    /// Writes the site's configuration and has nginx load it (`-s reload`: new workers
    /// take it; the old ones finish the requests they have).
    fn reload(&self, site: &str) {
        let started = self.workers_started();
        std::fs::write(self.dir.join("site.conf"), site).unwrap();
        let out = Command::new(&self.binary)
            .args(self.args())
            .args(["-s", "reload"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "nginx -s reload: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The new configuration is in force once the master has started its new worker
        // and the old one has finished the requests it had and exited: until then, a
        // request can still go where the old configuration says.
        wait_until(
            "nginx on the new configuration alone",
            Duration::from_secs(20),
            || {
                let (started_now, exited) = self.workers();
                started_now > started && started_now - exited == 1
            },
        );
    }

    /// How many workers the master has started.
    fn workers_started(&self) -> usize {
        self.workers().0
    }

    /// How many workers the master has started, and how many of them have exited (its
    /// error log, at `notice`; the configuration has one worker).
    fn workers(&self) -> (usize, usize) {
        let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
        (
            // "start worker process <pid>", not the "start worker processes" before it.
            log.matches("start worker process ").count(),
            log.matches("exited with code").count(),
        )
    }

    /// `$upstream_addr` of each request nginx logged: more than one address is a
    /// request it sent again to another replica.
    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    /// `nginx -s stop` (its master stops its workers, then exits), and if the master is
    /// still there after 10 s, SIGKILL to its whole process group: killing the master
    /// alone would leave its workers listening. Runs when a test fails too.
    fn drop(&mut self) {
        let _ = Command::new(&self.binary)
            .args(self.args())
            .args(["-s", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().is_ok_and(|s| s.is_some()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

fn start_nginx(binary: &Path, dir: &Path, site: &str, port: u16) -> Nginx {
    let dir = dir.join("nginx");
    std::fs::create_dir_all(dir.join("tmp")).unwrap();
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let d = dir.display();
    let conf = format!(
        "{user}worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log notice;
events {{ worker_connections 1024; }}
http {{
    log_format upstreams '$http_mcp_method $http_mcp_name $status \"$upstream_addr\" \"$upstream_status\"';
    access_log {d}/access.log upstreams;
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
    std::fs::write(dir.join("nginx.conf"), conf).unwrap();
    std::fs::write(dir.join("site.conf"), site).unwrap();
    let mut nginx = Nginx {
        binary: binary.to_owned(),
        dir: dir.clone(),
        port,
        child: Command::new("true").spawn().unwrap(),
    };
    let test = Command::new(binary)
        .args(nginx.args())
        .arg("-t")
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "nginx -t refused `run nginx`'s configuration:\n{}\n{site}",
        String::from_utf8_lossy(&test.stderr)
    );
    nginx.child = Command::new(binary)
        .args(nginx.args())
        .args(["-g", "daemon off;"])
        // Its own process group, with its workers: what Drop kills if all else fails.
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until("nginx listening", Duration::from_secs(10), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    nginx
}

/// Three replicas behind nginx, on a fresh database, migrated once.
struct Cluster {
    db: String,
    dir: PathBuf,
    replicas: Vec<Replica>,
    nginx: Nginx,
    stateless: bool,
    python: PathBuf,
}

impl Cluster {
    fn start(name: &str, stateless: bool) -> Option<Cluster> {
        Cluster::start_with(name, stateless, &[])
    }

    /// [`Cluster::start`] with `env` for every replica.
    fn start_with(name: &str, stateless: bool, env: &[(&str, &str)]) -> Option<Cluster> {
        let (base, nginx_binary, python) = services()?;
        let dir = scratch(name);
        let db = fresh_postgres_database(&base, name);
        // The release step: `migrate`, once, before the replicas start.
        success(&mut site_command(&db, KEY, &["migrate"]));
        let replicas: Vec<Replica> = (1..=3)
            .map(|i| {
                start_replica(
                    &db,
                    KEY,
                    &format!("r{i}"),
                    free_port(),
                    stateless,
                    &dir,
                    env,
                )
            })
            .collect();
        let port = free_port();
        let site = nginx_config(&db, &replicas, port, &[]);
        let nginx = start_nginx(&nginx_binary, &dir, &site, port);
        Some(Cluster {
            db,
            dir,
            replicas,
            nginx,
            stateless,
            python,
        })
    }

    /// Marks the replicas in `down` as down in nginx and reloads it.
    fn route_around(&self, down: &[&str]) {
        let site = nginx_config(&self.db, &self.replicas, self.nginx.port, down);
        self.nginx.reload(&site);
    }

    fn python(&self, args: &[&str]) -> Value {
        let out = python_script(&self.python, "replicas.py", args);
        serde_json::from_str(out.lines().last().unwrap_or_default())
            .unwrap_or_else(|_| panic!("{out}"))
    }

    /// Starts the load generator in the background (`workers` threads for `seconds`).
    fn load(&self, seconds: u32, workers: u32) -> (Child, PathBuf) {
        let out = self.dir.join(format!("load-{}.json", free_port()));
        let child = Command::new(&self.python)
            .arg(root().join("tests/e2e/replicas.py"))
            .args([
                "load",
                &self.nginx.url(),
                &seconds.to_string(),
                &workers.to_string(),
            ])
            .arg(&out)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        (child, out)
    }

    fn psql(&self, sql: &str) -> String {
        success(Command::new("psql").arg(&self.db).args([
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            "-c",
            sql,
        ]))
    }

    /// How many orders are in the table (those of `replica` only, if given).
    fn orders(&self, replica: Option<&str>) -> u64 {
        let filter = replica
            .map(|r| format!(" WHERE replica = '{r}'"))
            .unwrap_or_default();
        self.psql(&format!("SELECT count(*) FROM orders{filter}"))
            .trim()
            .parse()
            .unwrap()
    }

    /// Waits (up to 20 s) until [`Cluster::orders`] reaches `at_least`: the load is
    /// flowing (through that replica).
    fn wait_for_orders(&self, replica: Option<&str>, at_least: u64) {
        wait_until(
            &format!("{at_least} orders placed (replica {replica:?})"),
            Duration::from_secs(20),
            || self.orders(replica) >= at_least,
        );
    }

    /// How many rows each token has in `table`.
    fn rows_by_token(&self, table: &str) -> HashMap<String, u32> {
        self.psql(&format!(
            "SELECT token, count(*) FROM {table} GROUP BY token"
        ))
        .lines()
        .filter_map(|l| l.split_once('|'))
        .map(|(t, n)| (t.to_owned(), n.parse().unwrap()))
        .collect()
    }

    fn logs(&self) -> String {
        let mut text = String::new();
        for r in &self.replicas {
            text.push_str(&format!("--- {}\n{}", r.name, r.log()));
        }
        text.push_str(&format!(
            "--- nginx error.log\n{}",
            std::fs::read_to_string(self.nginx.dir.join("error.log")).unwrap_or_default()
        ));
        text
    }
}

/// A replica's server is killed when the replica goes: when its cluster ends, and when
/// a test fails half-way (one that has not passed its readiness check included).
impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `run nginx` for these replicas (`down`: the names marked down).
fn nginx_config(db: &str, replicas: &[Replica], port: u16, down: &[&str]) -> String {
    let mut args = vec!["run".to_owned(), "nginx".to_owned()];
    for r in replicas {
        args.push("--replica".into());
        args.push(format!("{}={}", r.name, r.address()));
    }
    args.extend(["--listen".into(), format!("127.0.0.1:{port}")]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut text = success(&mut site_command(db, KEY, &args));
    for r in replicas.iter().filter(|r| down.contains(&r.name.as_str())) {
        let line = format!("server {} max_fails", r.address());
        assert!(text.contains(&line), "{text}");
        text = text.replace(&line, &format!("server {} down max_fails", r.address()));
    }
    text
}

/// The load generator's records: (tool, token, acknowledged, why not).
fn records(child: Child, out: &Path) -> Vec<(String, String, bool, String)> {
    let done = mango_tests::wait_with_timeout(child, Duration::from_secs(120), "the load");
    assert!(
        done.status.success(),
        "the load generator failed:\n{}\n{}",
        String::from_utf8_lossy(&done.stdout),
        String::from_utf8_lossy(&done.stderr)
    );
    eprintln!("the load: {}", String::from_utf8_lossy(&done.stdout).trim());
    let records: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    records
        .into_iter()
        .map(|r| {
            (
                r["tool"].as_str().unwrap().to_owned(),
                r["token"].as_str().unwrap().to_owned(),
                r["ok"].as_bool().unwrap(),
                r["why"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Every acknowledged write is in its table exactly once, and no write is there twice
/// (acknowledged or not). Returns the calls that were not acknowledged.
fn check_exactly_once(
    cluster: &Cluster,
    records: &[(String, String, bool, String)],
) -> Vec<(String, String)> {
    let orders = cluster.rows_by_token("orders");
    let stock = cluster.rows_by_token("stock");
    let mut failed = Vec::new();
    for (tool, token, ok, why) in records {
        let rows = if tool == "orders_place" {
            orders.get(token)
        } else {
            stock.get(token)
        };
        if *ok {
            assert_eq!(
                rows,
                Some(&1),
                "the acknowledged {tool} {token} is in the table {rows:?} times\n{}",
                cluster.logs()
            );
        } else {
            failed.push((tool.clone(), why.clone()));
        }
    }
    let twice: Vec<_> = orders.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "orders placed twice: {twice:?}");
    failed
}

/// Under a concurrent write load through nginx, replica r2 is killed (SIGKILL): every
/// acknowledged write is in the table exactly once, nothing is written twice, and every
/// call of the idempotent tool succeeds (nginx sent those again to another replica);
/// the only calls lost are calls of the non-idempotent tool that r2 had in flight.
#[test]
fn writes_through_nginx_land_once_when_a_replica_is_killed() {
    let Some(mut cluster) = Cluster::start("replicas_kill", true) else {
        return;
    };
    let _one = one_at_a_time();
    let (load, out) = cluster.load(6, 8);
    // r2 dies once the load is well under way.
    cluster.wait_for_orders(None, 100);
    let r2 = &mut cluster.replicas[1];
    let mut child = r2.child.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let records = records(load, &out);
    let calls = records.len();
    assert!(calls > 200, "only {calls} calls in 6 s");
    let failed = check_exactly_once(&cluster, &records);
    // Calls that were in flight on r2 when it died: those of `orders_place` get 502 (it
    // is not idempotent: nginx does not send it again); `orders_put` was retried.
    for (tool, why) in &failed {
        assert_eq!(tool, "orders_place", "a call of {tool} failed: {why}");
        assert!(why.starts_with("502"), "{why}");
    }
    assert!(failed.len() <= 8, "{} calls lost: {failed:?}", failed.len());
    // What nginx sent on to another replica (two upstream addresses in its log).
    let log = cluster.nginx.access_log();
    let sent_on = log.lines().filter(|l| l.contains(", ")).count();
    let served: Vec<u32> = cluster
        .psql("SELECT count(*) FROM orders GROUP BY replica ORDER BY replica")
        .lines()
        .map(|n| n.parse().unwrap())
        .collect();
    assert_eq!(served.len(), 3, "every replica placed orders: {served:?}");
    eprintln!(
        "{calls} calls, {} not acknowledged (in flight on the killed replica), {sent_on} sent on to another replica; orders by replica: {served:?}",
        failed.len()
    );
}

/// A replica that dies with every request it receives: it reads the request, then
/// drops the connection without a word. Behind nginx beside two real replicas, every
/// call of the idempotent tool succeeds (nginx sends it on), every call of the other
/// tool that reached it gets 502 (sent once), and nothing is written twice.
#[test]
fn nginx_sends_on_only_the_calls_that_are_safe_to_repeat() {
    let Some(mut cluster) = Cluster::start("replicas_retry", true) else {
        return;
    };
    let _one = one_at_a_time();
    let dying = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dying.local_addr().unwrap().port();
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = received.clone();
    std::thread::spawn(move || {
        use std::io::Read;
        for stream in dying.incoming() {
            let Ok(mut stream) = stream else { continue };
            let count = count.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                // Read the request, then close without answering.
                if stream.read(&mut buf).is_ok_and(|n| n > 0) {
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                drop(stream);
            });
        }
    });
    // The dying replica takes r3's place in nginx.
    let mut r3 = cluster.replicas.pop().unwrap();
    if let Some(mut child) = r3.child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
    cluster.replicas.push(Replica {
        name: "r3".into(),
        port,
        child: None,
        log: r3.log.clone(),
    });
    // No passive health check: nginx keeps sending to it.
    let site = nginx_config(&cluster.db, &cluster.replicas, cluster.nginx.port, &[])
        .replace("max_fails=1", "max_fails=0");
    cluster.nginx.reload(&site);
    let (load, out) = cluster.load(3, 4);
    let records = records(load, &out);
    let failed = check_exactly_once(&cluster, &records);
    let reached = received.load(std::sync::atomic::Ordering::Relaxed);
    assert!(reached >= 20, "the dying replica got {reached} requests");
    assert!(!failed.is_empty(), "no call reached the dying replica");
    for (tool, why) in &failed {
        assert_eq!(tool, "orders_place", "a call of {tool} failed: {why}");
        assert!(why.starts_with("502"), "{why}");
    }
    let puts = records.iter().filter(|r| r.0 == "orders_put").count();
    eprintln!(
        "{} calls; the dying replica received {reached}: {} calls of orders_place failed (502), all {puts} of orders_put succeeded",
        records.len(),
        failed.len()
    );
}

/// A rolling restart under load: one replica at a time is taken out of nginx, stopped
/// with SIGTERM (it drains), started again and put back once `/readyz` says so. Every
/// call is answered, and every write is in its table once.
#[test]
fn a_rolling_restart_under_load_answers_every_call() {
    let Some(mut cluster) = Cluster::start("replicas_roll", true) else {
        return;
    };
    let _one = one_at_a_time();
    let (load, out) = cluster.load(9, 6);
    cluster.wait_for_orders(None, 50);
    for i in 0..cluster.replicas.len() {
        let name = cluster.replicas[i].name.clone();
        cluster.route_around(&[&name]);
        let r = &mut cluster.replicas[i];
        let mut child = r.child.take().unwrap();
        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "{name} stopped with {status}:\n{}",
            r.log()
        );
        let (port, db) = (r.port, cluster.db.clone());
        cluster.replicas[i] = start_replica(&db, KEY, &name, port, true, &cluster.dir, &[]);
        let placed = cluster.orders(Some(&name));
        cluster.route_around(&[]);
        // Back in service: it takes calls again before the next replica goes.
        cluster.wait_for_orders(Some(&name), placed + 1);
    }
    let records = records(load, &out);
    let failed = check_exactly_once(&cluster, &records);
    assert!(
        failed.is_empty(),
        "{} of {} calls failed during the rolling restart: {:?}\n{}",
        failed.len(),
        records.len(),
        &failed[..failed.len().min(5)],
        cluster.logs()
    );
    // Each replica's log (both processes of it) says the first one drained and stopped.
    for r in &cluster.replicas {
        assert!(r.log().contains("stopped"), "{}: {}", r.name, r.log());
    }
    eprintln!(
        "{} calls through a rolling restart, none failed",
        records.len()
    );
}

/// The official SDK through nginx: a call that asks its client (2026-07-28 rounds) is
/// asked by one replica and completed by another. By hand: the completed call's state
/// is refused on every replica, and a replica with another key refuses the state
/// cleanly.
#[test]
fn a_call_that_asks_completes_on_another_replica_and_cannot_be_replayed() {
    let Some(cluster) = Cluster::start("replicas_rounds", true) else {
        return;
    };
    let _one = one_at_a_time();
    let asked = cluster.python(&["elicit", &cluster.nginx.url()]);
    assert_eq!(asked["question"], "Place pear?", "{asked}");
    assert!(
        asked["placed_by"].as_str().unwrap().starts_with('r'),
        "{asked}"
    );
    // nginx's log: the call's two rounds went to two replicas.
    let log = cluster.nginx.access_log();
    let rounds: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("tools/call orders_confirm "))
        .filter_map(|l| l.split('"').nth(1))
        .collect();
    assert_eq!(rounds.len(), 2, "{log}");
    assert_ne!(rounds[0], rounds[1], "one replica had both rounds:\n{log}");
    // A fourth replica, outside nginx, with a key of its own.
    let other = start_replica(
        &cluster.db,
        "another-key-of-at-least-32-bytes-0123456789",
        "r4",
        free_port(),
        true,
        &cluster.dir,
        &[],
    );
    let replay = cluster.python(&["replay", &cluster.nginx.url(), &other.url()]);
    let foreign = replay["foreign"].as_str().unwrap();
    assert!(
        foreign.contains("was not issued by this server"),
        "{replay}"
    );
    for refusal in replay["refusals"].as_array().unwrap() {
        assert!(
            refusal.as_str().unwrap().contains("already completed"),
            "{replay}"
        );
    }
    let token = replay["token"].as_str().unwrap();
    assert_eq!(cluster.rows_by_token("orders").get(token), Some(&1));
    // The rounds' ledger is PostgreSQL's: the completed calls are there.
    let completed = cluster.psql("SELECT count(*) FROM mango_rounds WHERE completed");
    assert_eq!(completed.trim(), "2", "{completed}");
}

/// One 2026-07-28 request to `authority` (a replica, or nginx) with the tasks
/// extension declared; its answer.
fn rpc_2026(authority: &str, method: &str, name: &str, mut params: Value) -> Value {
    params["_meta"] = serde_json::json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "replicas-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {
            "extensions": {"io.modelcontextprotocol/tasks": {}},
        },
    });
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
        .to_string();
    let mut headers = mango_tests::JSON_HEADERS.to_vec();
    headers.extend([
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", method),
        ("Mcp-Name", name),
    ]);
    let (status, head, body) = mango_tests::http_post(authority, "/mcp", &headers, &body);
    mango_tests::reply_in(&body, 7).unwrap_or_else(|| {
        panic!("{method} through {authority}: no answer ({status}): {head}\n{body}")
    })
}

/// A task started through nginx runs on one replica and is polled through nginx (its
/// polls spread over the replicas) and through each replica directly: all see it, and
/// its result, from PostgreSQL; its order is placed once. Sixty jobs queued through
/// nginx are run by the workers of all three replicas, each exactly once.
#[test]
fn tasks_and_jobs_are_shared_by_every_replica() {
    let Some(cluster) = Cluster::start_with("replicas_work", true, &[("MANGO_JOBS__POLL", "0.2")])
    else {
        return;
    };
    let _one = one_at_a_time();
    let nginx = format!("127.0.0.1:{}", cluster.nginx.port);
    let made = rpc_2026(
        &nginx,
        "tools/call",
        "orders_ship",
        serde_json::json!({"name": "orders_ship", "arguments": {"token": "task-1", "item": "crate", "millis": 1500}}),
    );
    assert_eq!(made["result"]["resultType"], "task", "{made}");
    let id = made["result"]["taskId"].as_str().unwrap().to_owned();
    let get = |at: &str| rpc_2026(at, "tasks/get", &id, serde_json::json!({"taskId": id}));
    // While it runs: every replica sees it working.
    for r in &cluster.replicas {
        let got = get(&r.address());
        assert_eq!(got["result"]["status"], "working", "{} {got}", r.name);
    }
    let mut done = Value::Null;
    wait_until("the task completed", Duration::from_secs(20), || {
        done = get(&nginx);
        done["result"]["status"] == "completed"
    });
    let ran_on = done["result"]["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{done}"))
        .to_owned();
    assert!(ran_on.starts_with('r'), "{done}");
    for r in &cluster.replicas {
        let got = get(&r.address());
        assert_eq!(got["result"]["status"], "completed", "{} {got}", r.name);
        assert_eq!(
            got["result"]["result"]["content"][0]["text"], ran_on,
            "{got}"
        );
    }
    assert_eq!(cluster.rows_by_token("orders").get("task-1"), Some(&1));
    // nginx sent the polls to more than one replica.
    let log = cluster.nginx.access_log();
    let polled_on: std::collections::HashSet<&str> = log
        .lines()
        .filter(|l| l.starts_with("tasks/get "))
        .filter_map(|l| l.split('"').nth(1))
        .collect();
    assert!(polled_on.len() > 1, "{log}");
    // Jobs: 60 of 100 ms each, over 3 replicas' 2 workers.
    let queued = rpc_2026(
        &nginx,
        "tools/call",
        "orders_deliver_all",
        serde_json::json!({"name": "orders_deliver_all", "arguments": {"prefix": "job", "count": 60, "millis": 100}}),
    );
    assert_eq!(queued["result"]["isError"], false, "{queued}");
    wait_until("60 jobs completed", Duration::from_secs(60), || {
        cluster
            .psql("SELECT count(*) FROM mango_jobs WHERE status = 'completed'")
            .trim()
            == "60"
    });
    let rows = cluster.rows_by_token("orders");
    let delivered: Vec<(&String, &u32)> =
        rows.iter().filter(|(t, _)| t.starts_with("job-")).collect();
    assert_eq!(delivered.len(), 60, "{rows:?}");
    assert!(delivered.iter().all(|(_, n)| **n == 1), "{rows:?}");
    let by_replica = cluster.psql(
        "SELECT replica, count(*) FROM orders WHERE item = 'delivered' GROUP BY replica ORDER BY replica",
    );
    assert_eq!(
        by_replica.lines().count(),
        3,
        "not every replica's workers ran jobs:\n{by_replica}"
    );
    let attempts = cluster.psql("SELECT max(attempts) FROM mango_jobs");
    assert_eq!(attempts.trim(), "1", "a job ran twice");
}

/// A listener on r1 (`subscriptions/listen`) hears of a write made through r2: the
/// change is announced with PostgreSQL's NOTIFY.
#[test]
fn a_resource_update_through_one_replica_reaches_a_listener_on_another() {
    let Some(cluster) = Cluster::start("replicas_listen", true) else {
        return;
    };
    let _one = one_at_a_time();
    let (r1, r2) = (&cluster.replicas[0], &cluster.replicas[1]);
    let heard = cluster.python(&["listen", &r1.url(), &r2.url()]);
    assert_eq!(heard["written_by"], "r2", "{heard}");
}

/// 2025-11-25 sessions behind nginx: the session's id starts with the replica that made
/// it, nginx sends all its requests there, and its subscription hears of a write made
/// on another replica.
#[test]
fn a_session_stays_on_the_replica_that_made_it() {
    let Some(cluster) = Cluster::start("replicas_sessions", false) else {
        return;
    };
    assert!(!cluster.stateless);
    let _one = one_at_a_time();
    let (status, head, _) = mango_tests::http_post(
        &format!("127.0.0.1:{}", cluster.nginx.port),
        "/mcp",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ],
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
    );
    assert_eq!(status, 200, "{head}");
    let id = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("mcp-session-id: ")
                .or_else(|| l.strip_prefix("Mcp-Session-Id: "))
        })
        .unwrap_or_else(|| panic!("{head}"));
    assert!(
        ["r1.", "r2.", "r3."].iter().any(|p| id.starts_with(p)),
        "the session id does not name its replica: {id}"
    );
    for round in 0..2 {
        let writer = &cluster.replicas[round];
        let seen = cluster.python(&["session", &cluster.nginx.url(), &writer.url()]);
        assert!(seen["replica"].as_str().unwrap().starts_with('r'), "{seen}");
    }
}

/// `run nginx` refuses what it cannot write a configuration for, saying why; with the
/// admin on, its configuration also sends one browser to one replica, and nginx takes
/// it.
#[test]
fn run_nginx_refuses_bad_replicas() {
    let Some((base, nginx, _)) = services() else {
        return;
    };
    let port = free_port();
    let site = success(
        site_command(
            &format!("{base}_unused"),
            KEY,
            &[
                "run",
                "nginx",
                "--replica",
                "127.0.0.1:9",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ],
        )
        .env("MANGO_ADMIN__ENABLED", "true"),
    );
    assert!(
        site.contains("ip_hash;") && site.contains("location ^~ /admin/"),
        "{site}"
    );
    let dir = scratch("replicas_nginx_admin");
    drop(start_nginx(&nginx, &dir, &site, port));
    let db = format!("{}_unused", base);
    for (args, expected) in [
        (vec!["--replica", "localhost"], "HOST:PORT"),
        (vec!["--replica", "a b=127.0.0.1:1"], "not a replica name"),
        (
            vec!["--replica", "x=127.0.0.1:1", "--replica", "x=127.0.0.1:2"],
            "two replicas are named `x`",
        ),
    ] {
        let mut all = vec!["run", "nginx"];
        all.extend(args);
        let out = site_command(&db, KEY, &all).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && text.contains(expected), "{text}");
    }
    let out = site_command(&db, KEY, &["serve", "--port", "0"])
        .env("MANGO_SERVER__REPLICA", "no.dots")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("[server] replica"),
        "{text}"
    );
}

/// A replica whose database is unreachable does not start serving: it exits 1 saying
/// why, so the balancer never gets a port that answers with errors (and once serving,
/// `/readyz` turns 503 when the database goes: `faults.rs`).
#[test]
fn a_replica_without_its_database_does_not_serve() {
    if services().is_none() {
        return;
    }
    let port = free_port();
    let out = mango_tests::wait_with_timeout(
        site_command(
            "postgres://postgres@127.0.0.1:1/none",
            KEY,
            &[
                "serve",
                "--transport",
                "http",
                "--stateless",
                "--port",
                &port.to_string(),
            ],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap(),
        Duration::from_secs(30),
        "a replica without its database",
    );
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("could not connect to the database"), "{text}");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// Users' tokens on PostgreSQL, two replicas: a token works on both; revoked through
/// one command, it is refused by both within `[auth] token_cache` (1 s here), as is
/// the token of a user deactivated meanwhile.
#[test]
fn a_revoked_token_is_refused_by_every_replica_within_the_cache() {
    let Some((base, _, _)) = services() else {
        return;
    };
    let _one = one_at_a_time();
    let dir = scratch("replicas_tokens");
    let db = fresh_postgres_database(&base, "replicas_tokens");
    let env = [
        ("MANGO_AUTH__USERS", "true"),
        ("MANGO_AUTH__TOKEN_CACHE", "1"),
        ("MANGO_MIDDLEWARE", r#"["mango.auth"]"#),
    ];
    let run = |args: &[&str]| {
        success(site_command(&db, KEY, args).envs(env))
            .trim()
            .to_owned()
    };
    run(&["migrate"]);
    run(&["run", "createuser", "ada"]);
    run(&["run", "createuser", "bob"]);
    let ada = run(&["run", "createtoken", "ada"]);
    let bob = run(&["run", "createtoken", "bob"]);
    let replicas: Vec<Replica> = (1..=2)
        .map(|i| start_replica(&db, KEY, &format!("t{i}"), free_port(), true, &dir, &env))
        .collect();
    let status = |replica: &Replica, token: &str| {
        let auth = format!("Bearer {token}");
        let mut headers = mango_tests::JSON_HEADERS.to_vec();
        headers.push(("Authorization", auth.as_str()));
        let (status, _, body) = mango_tests::http_post(
            &format!("127.0.0.1:{}", replica.port),
            "/mcp",
            &headers,
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        );
        (status, body)
    };
    for r in &replicas {
        assert_eq!(status(r, &ada).0, 200, "{}", r.log());
        assert_eq!(status(r, &bob).0, 200, "{}", r.log());
    }
    run(&["run", "revoketoken", &ada[6..14]]);
    run(&["run", "changeuser", "bob", "--active", "false"]);
    let revoked = Instant::now();
    for r in &replicas {
        wait_until(
            &format!("{} refuses the revoked token", r.name),
            Duration::from_secs(5),
            || status(r, &ada).0 == 401,
        );
        wait_until(
            &format!("{} refuses the inactive user's token", r.name),
            Duration::from_secs(5),
            || status(r, &bob).0 == 401,
        );
    }
    // Within the cache's bound (1 s), and a little for the requests themselves.
    assert!(
        revoked.elapsed() < Duration::from_millis(2500),
        "{:?}",
        revoked.elapsed()
    );
    let (_, body) = status(&replicas[1], &ada);
    assert!(body.contains("was revoked"), "{body}");
    let (_, body) = status(&replicas[0], &bob);
    assert!(body.contains("is not active"), "{body}");
}

/// Through `run nginx`'s configuration the replica checks the Host the client asked for
/// (nginx passes it in `X-Forwarded-Host`, with its port), and a client cannot forge
/// what nginx says: its own `X-Forwarded-Host` is replaced.
#[test]
fn nginx_says_which_host_the_client_asked_for_and_a_client_cannot_forge_it() {
    let Some((base, nginx_binary, _)) = services() else {
        return;
    };
    let dir = scratch("replicas_hosts");
    let db = fresh_postgres_database(&base, "replicas_hosts");
    success(&mut site_command(&db, KEY, &["migrate"]));
    let replica = start_replica(
        &db,
        KEY,
        "r1",
        free_port(),
        true,
        &dir,
        &[("MANGO_SERVER__ALLOWED_HOSTS", r#"["mcp.example.test"]"#)],
    );
    let port = free_port();
    let site = nginx_config(&db, std::slice::from_ref(&replica), port, &[]);
    assert!(site.contains("X-Forwarded-Host $http_host"), "{site}");
    let _nginx = start_nginx(&nginx_binary, &dir, &site, port);
    let nginx = format!("127.0.0.1:{port}");
    let initialize = |host: &str, extra: &[(&str, &str)]| {
        let mut headers = mango_tests::JSON_HEADERS.to_vec();
        headers.push(("Host", host));
        headers.extend_from_slice(extra);
        http_post(&nginx, "/mcp", &headers, mango_tests::INITIALIZE).0
    };
    let public = format!("mcp.example.test:{port}");
    assert_eq!(initialize(&public, &[]), 200);
    // What the client says it is forwarded for is replaced by what nginx saw.
    assert_eq!(
        initialize("evil.example", &[("X-Forwarded-Host", "mcp.example.test")]),
        403
    );
    assert_eq!(
        initialize(
            "evil.example",
            &[("Forwarded", "host=mcp.example.test;proto=https")]
        ),
        403
    );
    // Straight to the replica (a trusted peer: this machine) the same.
    let direct = |host: &str| {
        let mut headers = mango_tests::JSON_HEADERS.to_vec();
        headers.push(("X-Forwarded-Host", host));
        http_post(
            &replica.address(),
            "/mcp",
            &headers,
            mango_tests::INITIALIZE,
        )
        .0
    };
    assert_eq!(direct("mcp.example.test"), 200);
    assert_eq!(direct("evil.example"), 403);
}
