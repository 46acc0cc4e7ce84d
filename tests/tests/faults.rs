//! Faults survived with nothing lost: a server killed during writes, a client that
//! cancels or goes away, a pool ten times too small, a write lock held by another
//! process, the database gone and back. Real processes, real SQLite files and a real
//! PostgreSQL server.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mango_tests::*;
use serde_json::{Value, json};

/// The ledger fixture with the fault tools appended (`fledger`), on `backend`.
fn fault_site(name: &str, backend: &str) -> Site {
    db_site(name, backend, "fledger", false, |dir| {
        let lib = dir.join("apps/fledger/src/lib.rs");
        let mut text = std::fs::read_to_string(&lib).unwrap();
        text.push_str(
            &std::fs::read_to_string(root().join("tests/e2e/fixtures/faults.rs")).unwrap(),
        );
        std::fs::write(&lib, text).unwrap();
    })
}

fn sqlite_site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| shared_site("faultsite", || fault_site("faultsite", "sqlite")))
}

fn postgres_site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| shared_site("pgfaultsite", || fault_site("pgfaultsite", "postgres")))
}

fn sqlite_url(test: &str) -> String {
    format!(
        "sqlite://{}",
        scratch(&format!("faults-{test}"))
            .join("db.sqlite3")
            .display()
    )
}

fn stdio(site: &Site, url: &str, env: &[(&str, &str)]) -> StdioClient {
    let mut cmd = site.command(&["serve", "--transport", "stdio", "--migrate"]);
    cmd.env("MANGO_DATABASE__URL", url).env("MANGO_LOG", "warn");
    cmd.envs(env.iter().copied());
    StdioClient::start(cmd)
}

fn labels(client: &mut StdioClient) -> Vec<String> {
    let r = client.call("fledger_labels", json!({}));
    assert!(!is_error(&r), "{r}");
    r["structuredContent"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// `PRAGMA integrity_check` of a SQLite file, by Python's sqlite3 (another process).
fn integrity(url: &str) -> String {
    let file = url.trim_start_matches("sqlite://");
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])",
            file,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// 300 two-row inserts under way, the server killed with SIGKILL, then restarted on the
/// same database: every pair answered as committed is there, and no pair is half there.
fn killed_during_writes(site: &Site, url: &str) {
    let mut client = stdio(site, url, &[]);
    let ids: Vec<(u64, String)> = (0..300)
        .map(|i| {
            let label = format!("pair {i:03}");
            let id = client.send_request(
                "tools/call",
                json!({"name": "fledger_insert_pair", "arguments": {"label": label}}),
            );
            (id, label)
        })
        .collect();
    // Let some of them commit, then kill the server in the middle of the rest.
    let _ = client.reply_within(ids[20].0, Duration::from_secs(30));
    client.kill();
    let replies = client.replies_so_far();
    let committed: Vec<&String> = ids
        .iter()
        .filter(|(id, _)| {
            replies
                .get(id)
                .is_some_and(|r| r["result"]["isError"] == false)
        })
        .map(|(_, label)| label)
        .collect();
    assert!(
        !committed.is_empty(),
        "no call was answered before the kill"
    );
    assert!(
        committed.len() < 300,
        "every call was answered before the kill: no load was cut"
    );
    let mut client = stdio(site, url, &[]);
    let mut halves: BTreeMap<String, usize> = BTreeMap::new();
    for label in labels(&mut client) {
        let pair = label
            .trim_end_matches(" a")
            .trim_end_matches(" b")
            .to_owned();
        *halves.entry(pair).or_default() += 1;
    }
    let half: Vec<(&String, &usize)> = halves.iter().filter(|(_, n)| **n != 2).collect();
    assert!(half.is_empty(), "pairs half there after the kill: {half:?}");
    let lost: Vec<&&String> = committed
        .iter()
        .filter(|l| !halves.contains_key(**l))
        .collect();
    assert!(
        lost.is_empty(),
        "answered as committed, then lost: {lost:?}"
    );
    eprintln!(
        "killed with {} of 300 pairs answered; {} pairs in the table after the restart",
        committed.len(),
        halves.len()
    );
    // The server serves on.
    let r = client.call("fledger_insert_pair", json!({"label": "after"}));
    assert!(!is_error(&r), "{r}");
}

#[test]
fn sqlite_survives_kill_9_during_writes() {
    let url = sqlite_url("kill");
    killed_during_writes(sqlite_site(), &url);
    assert_eq!(integrity(&url), "ok");
}

#[test]
fn postgres_survives_kill_9_during_writes() {
    let Some(base) = postgres_url() else {
        return missing("a PostgreSQL server (MANGO_TEST_DATABASE_URL)");
    };
    let site = postgres_site();
    let url = fresh_postgres_database(&base, "mango_e2e_kill");
    killed_during_writes(site, &url);
}

/// A call the client cancels (`notifications/cancelled`): its future is dropped, what it
/// wrote rolled back, its connection back in the pool at once.
#[test]
fn a_cancelled_call_is_rolled_back_and_frees_its_connection() {
    let url = sqlite_url("cancel");
    let mut client = stdio(
        sqlite_site(),
        &url,
        &[
            ("MANGO_DATABASE__POOL_SIZE", "2"),
            ("MANGO_DATABASE__CHECKOUT_TIMEOUT", "2"),
            ("MANGO_LOG", REQUEST_LOG),
        ],
    );
    let slow: Vec<u64> = (0..2)
        .map(|i| {
            client.send_request(
                "tools/call",
                json!({"name": "fledger_insert_slowly", "arguments": {"label": format!("slow {i}"), "millis": 10_000}}),
            )
        })
        .collect();
    // Both under way (rmcp has handed them to mango) before they are cancelled.
    wait_for_log(
        &client.log,
        "name: \"fledger_insert_slowly\"",
        2,
        Duration::from_secs(20),
    );
    for id in &slow {
        client.notify(
            "notifications/cancelled",
            json!({"requestId": id, "reason": "the user gave up"}),
        );
    }
    // Both connections are free again well before the slow calls would have ended.
    let started = Instant::now();
    let r = client.call("fledger_insert_pair", json!({"label": "next"}));
    assert!(!is_error(&r), "{r}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the cancelled calls kept their connections"
    );
    assert_eq!(
        labels(&mut client),
        ["next a", "next b"],
        "a cancelled call's row stayed"
    );
    for id in slow {
        assert!(
            client
                .reply_within(id, Duration::from_millis(100))
                .is_none_or(|r| r.get("error").is_some())
        );
    }
}

/// An HTTP client that goes away during a slow call: the call is dropped and rolled
/// back; the server goes on.
#[test]
fn a_client_that_disconnects_leaves_nothing_behind() {
    let url = sqlite_url("disconnect");
    let server = sqlite_site().serve_http_with_env(
        &["--stateless", "--migrate"],
        &[
            ("MANGO_DATABASE__URL", url.as_str()),
            ("MANGO_LOG", REQUEST_LOG),
        ],
    );
    let authority = server.authority();
    {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(&authority).unwrap();
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "fledger_insert_slowly", "arguments": {"label": "gone", "millis": 1500}}}).to_string();
        let head = format!(
            "POST /mcp HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        wait_for_log(
            &server.log,
            "name: \"fledger_insert_slowly\"",
            1,
            Duration::from_secs(20),
        );
    } // the client goes away
    // The call is dropped (and says so) well before it would have ended.
    wait_for_log(
        &server.log,
        "cancelled by the client",
        1,
        Duration::from_secs(20),
    );
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "fledger_labels", "arguments": {}}}).to_string();
    let (status, _, body) = http_post(&authority, "/mcp", JSON_HEADERS, &call);
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains("gone"),
        "the abandoned call committed its row: {body}"
    );
}

/// Ten times as many slow calls as connections: each completes or fails with the
/// pool's error within its bound, and the server's memory stays put.
#[test]
fn ten_times_the_pool_completes_or_fails_within_its_bound() {
    let url = sqlite_url("pool");
    let mut client = stdio(
        sqlite_site(),
        &url,
        &[
            ("MANGO_DATABASE__POOL_SIZE", "2"),
            ("MANGO_DATABASE__CHECKOUT_TIMEOUT", "0.5"),
        ],
    );
    let rss = |pid: u32| -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let before = rss(client.pid());
    for round in 0..3 {
        let started = Instant::now();
        let calls: Vec<(&str, Value)> = (0..20)
            .map(|i| ("fledger_hold_reading", json!({"millis": 300 + i})))
            .collect();
        let results = client.call_many(&calls);
        let (held, refused): (Vec<&Value>, Vec<&Value>) =
            results.iter().partition(|r| !is_error(r));
        assert!(!held.is_empty(), "round {round}: no call got a connection");
        for r in &refused {
            assert!(
                text(r).contains("no database connection was free within 500ms"),
                "{r}"
            );
        }
        // Two connections, 300 ms each, and the rest give up after 0.5 s.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "round {round} took {:?}",
            started.elapsed()
        );
    }
    let after = rss(client.pid());
    assert!(
        after < before + 20_000,
        "RSS grew from {before} kB to {after} kB"
    );
    assert!(!is_error(&client.call("fledger_count", json!({}))));
}

/// Another process (a management command, a migration, a script) holds SQLite's write
/// lock: writing calls wait up to the busy timeout (`[database] busy_timeout`, 1 s
/// here), then fail with a clear error; once the lock is gone they succeed, and the file
/// is intact.
#[test]
fn a_write_lock_held_elsewhere_fails_calls_cleanly() {
    let url = sqlite_url("locked");
    let mut client = stdio(
        sqlite_site(),
        &url,
        &[("MANGO_DATABASE__BUSY_TIMEOUT", "1")],
    );
    let file = url.trim_start_matches("sqlite://").to_owned();
    // It holds the lock until told to let go (a line on its stdin).
    let holder = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN IMMEDIATE'); c.execute(\"INSERT INTO entries (label) VALUES ('held')\"); print('locked', flush=True); sys.stdin.readline(); c.execute('ROLLBACK')",
            &file,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut holder = holder;
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    let started = Instant::now();
    let r = client.call("fledger_insert", json!({"label": "while locked"}));
    let waited = started.elapsed();
    assert!(is_error(&r), "{r}");
    assert!(
        text(&r).to_lowercase().contains("locked") || text(&r).contains("busy"),
        "{r}"
    );
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "waited {waited:?} (the busy timeout is 1 s)"
    );
    // Reads go on meanwhile (WAL).
    assert!(!is_error(&client.call("fledger_count", json!({}))));
    // Let go; once the holder has rolled back and exited, writes go through.
    drop(holder.stdin.take());
    holder.wait().unwrap();
    let r = client.call("fledger_insert", json!({"label": "after the lock"}));
    assert!(!is_error(&r), "{r}");
    assert_eq!(labels(&mut client), ["after the lock"]);
    assert_eq!(integrity(&url), "ok");
}

/// PostgreSQL gone during a load (every connection cut, new ones refused), then back:
/// calls fail fast saying the database is unreachable, `/readyz` says so, and calls
/// succeed again once it is back, without a restart.
#[test]
fn postgres_gone_and_back() {
    let Some(base) = postgres_url() else {
        return missing("a PostgreSQL server (MANGO_TEST_DATABASE_URL)");
    };
    let site = postgres_site();
    let url = fresh_postgres_database(&base, "mango_e2e_gone");
    let target = url
        .trim_start_matches("postgres://")
        .split('@')
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let proxy = TcpProxy::start(&target);
    let proxied = url.replace(&target, &format!("127.0.0.1:{}", proxy.port));
    let server = site.serve_http_with_env(
        &["--stateless", "--migrate"],
        &[
            ("MANGO_DATABASE__URL", proxied.as_str()),
            ("MANGO_DATABASE__CHECKOUT_TIMEOUT", "2"),
        ],
    );
    let authority = server.authority();
    let insert = |label: &str| {
        let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "fledger_insert", "arguments": {"label": label}}}).to_string();
        let started = Instant::now();
        let (_, _, body) = http_post(&authority, "/mcp", JSON_HEADERS, &call);
        (body, started.elapsed())
    };
    let ready = || {
        let mut stream = std::net::TcpStream::connect(&authority).unwrap();
        use std::io::{Read, Write};
        write!(
            stream,
            "GET /readyz HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let (body, _) = insert("before");
    assert!(body.contains(r#""isError":false"#), "{body}");
    assert!(ready().starts_with("HTTP/1.1 200"), "{}", ready());
    proxy.cut();
    for i in 0..5 {
        let (body, took) = insert(&format!("while gone {i}"));
        assert!(body.contains(r#""isError":true"#), "{body}");
        assert!(body.contains("the database is unreachable"), "{body}");
        assert!(
            took < Duration::from_secs(3),
            "a call took {took:?} with the database gone"
        );
    }
    let status = ready();
    assert!(
        status.starts_with("HTTP/1.1 503") && status.contains("unreachable"),
        "{status}"
    );
    // The admin still loads, and says the database is down.
    let cookie = admin_session(&server);
    for (page, says) in [
        ("/admin/", "unreachable"),
        ("/admin/data", "the database could not be read"),
        ("/admin/apps", "The migrations could not be read"),
        ("/admin/tools/fledger_insert", "fledger_insert"),
    ] {
        let (status, _, body) = admin_get(&authority, page, &cookie);
        assert_eq!(status, 200, "{page}: {body}");
        assert!(body.contains(says), "{page} should say {says:?}: {body}");
    }
    proxy.restore();
    let mut back = false;
    for _ in 0..50 {
        let (body, _) = insert("after");
        if body.contains(r#""isError":false"#) {
            back = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        back,
        "calls did not succeed again once the database was back"
    );
    assert!(ready().starts_with("HTTP/1.1 200"));
    let (_, _, body) = admin_get(&authority, "/admin/", &cookie);
    assert!(body.contains("state-ok"), "{body}");
}

/// Logs in to the admin with the one-time link `serve` printed: the session cookie.
fn admin_session(server: &Server) -> String {
    let log = server.log.lock().unwrap().clone();
    let link = log
        .lines()
        .find_map(|l| l.split("it works once): ").nth(1))
        .unwrap_or_else(|| panic!("no admin login link in the log:\n{log}"))
        .trim()
        .to_owned();
    let path = link.trim_start_matches(&format!("http://{}", server.authority()));
    let (status, head, _) = http_get(&server.authority(), path);
    assert_eq!(status, 303, "{head}");
    head.lines()
        .find_map(|l| l.strip_prefix("set-cookie: mango_admin="))
        .and_then(|v| v.split(';').next())
        .map(|v| format!("mango_admin={v}"))
        .unwrap_or_else(|| panic!("no session cookie: {head}"))
}

/// A GET of an admin page with the session cookie: (status, headers, body).
fn admin_get(authority: &str, path: &str, cookie: &str) -> (u16, String, String) {
    http_get_with(authority, path, &[("Cookie", cookie)])
}

/// SIGTERM with 25 calls in flight (20 reading, 5 writing: SQLite takes writers one at
/// a time): each is answered, the writes committed, the listener closed, exit 0.
#[test]
fn sigterm_under_load_answers_every_call_in_flight() {
    let url = sqlite_url("sigterm");
    let mut server = sqlite_site().serve_http_with_env(
        &["--stateless", "--migrate"],
        &[
            ("MANGO_DATABASE__URL", url.as_str()),
            ("MANGO_LOG", REQUEST_LOG),
        ],
    );
    let authority = server.authority();
    let calls: Vec<_> = (0..25)
        .map(|i| {
            let authority = authority.clone();
            std::thread::spawn(move || {
                let (name, arguments) = if i < 5 {
                    ("fledger_insert_slowly", json!({"label": format!("in flight {i:02}"), "millis": 500}))
                } else {
                    ("fledger_hold_reading", json!({"millis": 800}))
                };
                let call = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": arguments}}).to_string();
                http_post(&authority, "/mcp", JSON_HEADERS, &call)
            })
        })
        .collect();
    // Every call under way.
    wait_for_log(
        &server.log,
        "received request id=",
        25,
        Duration::from_secs(20),
    );
    let (code, _, body) = http_get(&authority, "/readyz");
    assert_eq!(code, 200, "{body}");
    let started = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &server.child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    // Unready at once, while the calls in flight finish: a balancer stops sending. Alive.
    std::thread::sleep(Duration::from_millis(100));
    let (code, _, body) = http_get(&authority, "/readyz");
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("stopping"), "{body}");
    let (code, _, body) = http_get(&authority, "/healthz");
    assert_eq!(code, 200, "{body}");
    let status = server.terminate();
    for call in calls {
        let (code, _, body) = call.join().unwrap();
        assert_eq!(code, 200, "{body}");
        assert!(
            body.contains(r#""isError":false"#),
            "a call in flight was cut: {body}"
        );
    }
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        server.log.lock().unwrap()
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        std::net::TcpStream::connect(&authority).is_err(),
        "the server still accepts connections after it stopped"
    );
    let mut client = stdio(sqlite_site(), &url, &[]);
    assert_eq!(
        labels(&mut client).len(),
        5,
        "a call answered as done was not committed"
    );
}

/// The labels in the table, read in a session of its own.
fn kept(authority: &str) -> std::collections::BTreeSet<String> {
    let session = open_session(authority);
    call_in_session(authority, &session, 9, "fledger_labels", json!({}))
        .expect("the labels")["result"]["structuredContent"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Checks every answer against the rows: an answer "committed" must have its row, an
/// error ("cancelled", "rolled back", "shut down") must not. Returns (committed,
/// failed, unanswered).
fn check_answers(
    seen: &[(String, Option<Value>)],
    kept: &std::collections::BTreeSet<String>,
) -> (usize, usize, usize) {
    let (mut committed, mut refused, mut silent) = (0, 0, 0);
    for (label, reply) in seen {
        match reply {
            Some(r) if r.get("result").is_some() && !is_error(&r["result"]) => {
                committed += 1;
                assert!(
                    kept.contains(label),
                    "{label} was answered as committed but is not in the table: {r}"
                );
            }
            Some(r) => {
                refused += 1;
                assert!(
                    !kept.contains(label),
                    "{label} was answered as failed (cancelled, rolled back) but its row was committed: {r}"
                );
            }
            None => silent += 1,
        }
    }
    (committed, refused, silent)
}

/// A slow write in a session of its own, on a thread: its label and its answer.
fn slow_write(
    authority: &str,
    label: String,
    millis: u64,
) -> (String, std::thread::JoinHandle<Option<Value>>) {
    let session = open_session(authority);
    let authority = authority.to_owned();
    let arguments = json!({"label": label, "millis": millis});
    let call = std::thread::spawn(move || {
        call_in_session(&authority, &session, 2, "fledger_insert_slowly", arguments)
    });
    (label, call)
}

/// What the server's log says of the calls: (received, said rolled back).
fn told(log: &str) -> (usize, usize) {
    let received = log
        .lines()
        .filter(|l| l.contains("name: \"fledger_insert_slowly\""))
        .count();
    let rolled_back = log
        .lines()
        .filter(|l| l.contains("its work was rolled back") && l.contains("fledger_insert_slowly"))
        .count();
    (received, rolled_back)
}

/// Every call the server received either committed its row or was said (in the log) to
/// be rolled back, never both: rows + "rolled back" lines = calls received.
fn check_log(log: &str, prefix: &str, kept: &std::collections::BTreeSet<String>) {
    let (received, rolled_back) = told(log);
    let rows = kept.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        rows + rolled_back,
        received,
        "{received} calls received, {rows} rows committed and {rolled_back} said rolled back: a call said rolled back committed, or one vanished; the log's warnings and cancellations:\n{}",
        log.lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("cancel"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The table's labels once every call the server received since `offset` in its log
/// has ended (its row committed, or its rollback logged): a call whose session was
/// deleted may still be waiting for SQLite's write lock, or for its commit.
fn settled(server: &Server, offset: usize, prefix: &str) -> std::collections::BTreeSet<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let kept_now = kept(&server.authority());
        let (received, rolled_back) = told(&server.log.lock().unwrap()[offset..]);
        let rows = kept_now.iter().filter(|l| l.starts_with(prefix)).count();
        if rows + rolled_back >= received || Instant::now() > deadline {
            return kept_now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sessions deleted while their calls run: rmcp lets a deleted session's calls run
/// on for 5 s, then cancels them. `n` slow writes that end from 150 ms before that
/// deadline to 150 ms after it, their sessions deleted at once: a call cancelled as it
/// commits must be answered (and logged) as what it did.
fn deleted_at_the_drain_deadline(server: &Server, n: u64) {
    let authority = server.authority();
    let needle = "name: \"fledger_insert_slowly\"";
    let (before, offset) = {
        let log = server.log.lock().unwrap();
        (log.matches(needle).count(), log.len())
    };
    let calls: Vec<_> = (0..n)
        .map(|i| {
            let session = open_session(&authority);
            let label = format!("drain {i:03}");
            let millis = 4_850 + i * 300 / n;
            let arguments = json!({"label": label, "millis": millis});
            let (authority, for_call) = (authority.clone(), session.clone());
            let call = std::thread::spawn(move || {
                call_in_session(&authority, &for_call, 2, "fledger_insert_slowly", arguments)
            });
            (session, label, call)
        })
        .collect();
    wait_for_log(
        &server.log,
        needle,
        before + n as usize,
        Duration::from_secs(20),
    );
    for (session, _, _) in &calls {
        let _ = http_delete(&authority, "/mcp", session);
    }
    let seen: Vec<(String, Option<Value>)> = calls
        .into_iter()
        .map(|(_, label, call)| (label, call.join().unwrap()))
        .collect();
    let kept_now = settled(server, offset, "drain");
    let (committed, refused, silent) = check_answers(&seen, &kept_now);
    check_log(&server.log.lock().unwrap()[offset..], "drain", &kept_now);
    eprintln!(
        "sessions deleted, their calls cancelled as they commit: {n} calls, {committed} answered committed, {refused} answered failed, {silent} unanswered; {} rows",
        kept_now.iter().filter(|l| l.starts_with("drain")).count()
    );
}

/// How a phase of the race stops its calls.
#[derive(Clone, Copy)]
enum Cut {
    /// The client closes the connection that would carry the answer.
    Disconnect,
    /// The client sends `notifications/cancelled` for the call.
    Cancel,
}

/// `trials` slow writes (5 ms, then the commit), each stopped by `cut` from before its
/// commit to after it; every call received must be a row or a "rolled back" log line,
/// never both, and an answer must be what happened.
fn cut_phase(server: &Server, prefix: &'static str, trials: u64, cut: Cut) {
    use std::io::Write;
    let authority = server.authority();
    let offset = server.log.lock().unwrap().len();
    let workers: Vec<_> = (0..2u64)
        .map(|worker| {
            let authority = authority.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                for trial in (worker..trials).step_by(2) {
                    let session = open_session(&authority);
                    let label = format!("{prefix} {trial:04}");
                    let delay = Duration::from_millis(2 + 2 * (trial % 40));
                    let arguments = json!({"label": label, "millis": 5});
                    match cut {
                        Cut::Disconnect => {
                            let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "fledger_insert_slowly", "arguments": arguments}}).to_string();
                            let mut stream = std::net::TcpStream::connect(&authority).unwrap();
                            let head = format!(
                                "POST /mcp HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Session-Id: {session}\r\nMCP-Protocol-Version: 2025-06-18\r\nContent-Length: {}\r\n\r\n",
                                body.len()
                            );
                            stream.write_all(head.as_bytes()).unwrap();
                            stream.write_all(body.as_bytes()).unwrap();
                            std::thread::sleep(delay);
                            drop(stream);
                            seen.push((label, None));
                        }
                        Cut::Cancel => {
                            let call = {
                                let (authority, session) = (authority.clone(), session.clone());
                                std::thread::spawn(move || {
                                    call_in_session(
                                        &authority,
                                        &session,
                                        2,
                                        "fledger_insert_slowly",
                                        arguments,
                                    )
                                })
                            };
                            std::thread::sleep(delay);
                            let mut headers = JSON_HEADERS.to_vec();
                            headers.push(("Mcp-Session-Id", &session));
                            headers.push(("MCP-Protocol-Version", "2025-06-18"));
                            let _ = http_post(
                                &authority,
                                "/mcp",
                                &headers,
                                r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"the race"}}"#,
                            );
                            seen.push((label, call.join().unwrap()));
                        }
                    }
                }
                seen
            })
        })
        .collect();
    let seen: Vec<(String, Option<Value>)> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let kept_now = settled(server, offset, prefix);
    let (committed, refused, silent) = check_answers(&seen, &kept_now);
    check_log(&server.log.lock().unwrap()[offset..], prefix, &kept_now);
    let rows = kept_now.iter().filter(|l| l.starts_with(prefix)).count();
    eprintln!(
        "{prefix}: {trials} trials, {committed} answered committed, {refused} answered failed, {silent} unanswered; {rows} rows"
    );
    // A cancellation stops some calls before their commit; a closed connection is
    // seen when the server next writes to it, which for a 5 ms call is mostly its
    // answer: there the check is that what was said and what was kept agree.
    let stopped_some = matches!(cut, Cut::Disconnect) || rows < trials as usize;
    assert!(
        rows > 0 && stopped_some,
        "the {prefix} race was not run: {rows} of {trials} calls committed"
    );
}

/// What a call is told is what the database kept. `trials` slow writes (5 ms, then the
/// commit) in sessions of their own, each session deleted (`DELETE`) from well before
/// the commit to well after it; as many again stopped by their client closing the
/// connection, or cancelling them; then 16 slow writes under way when the server is
/// told to stop, its shutdown deadline (1 s) passing as they commit. An answer "committed"
/// must have its row, an error must not, and what the log says of each call received
/// must be what happened. `start` starts the server (again, on the same database).
fn outcome_race(start: impl Fn() -> Server, trials: u64, at_drain_deadline: u64) {
    let mut server = start();
    let authority = server.authority();
    let mut workers = Vec::new();
    for worker in 0..2u64 {
        let authority = authority.clone();
        workers.push(std::thread::spawn(move || {
            let mut seen = Vec::new();
            for trial in (worker..trials).step_by(2) {
                let session = open_session(&authority);
                let label = format!("race {trial:04}");
                let call = {
                    let (authority, session, label) =
                        (authority.clone(), session.clone(), label.clone());
                    std::thread::spawn(move || {
                        call_in_session(
                            &authority,
                            &session,
                            2,
                            "fledger_insert_slowly",
                            json!({"label": label, "millis": 5}),
                        )
                    })
                };
                // From before the call's commit to after it, in 2 ms steps.
                std::thread::sleep(Duration::from_millis(2 + 2 * (trial % 40)));
                let _ = http_delete(&authority, "/mcp", &session);
                seen.push((label, call.join().unwrap()));
            }
            seen
        }));
    }
    let seen: Vec<(String, Option<Value>)> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let kept_now = settled(&server, 0, "race");
    let (committed, refused, silent) = check_answers(&seen, &kept_now);
    check_log(&server.log.lock().unwrap(), "race", &kept_now);
    eprintln!(
        "sessions deleted: {trials} trials, {committed} answered committed, {refused} answered failed, {silent} unanswered; {} rows",
        kept_now.len()
    );
    assert!(
        committed > 0 && committed < seen.len(),
        "the race was not run: {committed} of {} calls answered committed",
        seen.len()
    );
    if at_drain_deadline > 0 {
        deleted_at_the_drain_deadline(&server, at_drain_deadline);
    }
    cut_phase(&server, "gone", trials / 2, Cut::Disconnect);
    cut_phase(&server, "cancel", trials / 2, Cut::Cancel);
    // The shutdown deadline: calls that end from 0.7 s to 1.45 s after SIGTERM.
    let needle = "name: \"fledger_insert_slowly\"";
    let (before, offset) = {
        let log = server.log.lock().unwrap();
        (log.matches(needle).count(), log.len())
    };
    let calls: Vec<_> = (0..16u64)
        .map(|i| slow_write(&authority, format!("stop {i:02}"), 700 + i * 50))
        .collect();
    wait_for_log(&server.log, needle, before + 16, Duration::from_secs(20));
    server.terminate();
    let seen: Vec<(String, Option<Value>)> = calls
        .into_iter()
        .map(|(label, call)| (label, call.join().unwrap()))
        .collect();
    let log = server.log.lock().unwrap()[offset..].to_owned();
    let server = start();
    let kept_now = kept(&server.authority());
    let (committed, refused, silent) = check_answers(&seen, &kept_now);
    check_log(&log, "stop", &kept_now);
    eprintln!(
        "shutdown deadline: 16 calls, {committed} answered committed, {refused} answered failed, {silent} unanswered"
    );
    assert!(
        committed > 0 && committed < 16,
        "the shutdown race was not run: {committed} of 16 calls committed"
    );
    assert!(
        log.contains("stopped at the shutdown deadline"),
        "calls stopped at the shutdown deadline are logged as such:\n{log}"
    );
}

/// PostgreSQL's commit made slow (a deferred constraint trigger that sleeps 30 ms at
/// `COMMIT`): the window in which a call is stopped while it commits is wide.
fn slow_commits(url: &str) {
    let sql = "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.03); RETURN NULL; END $$; \
               CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON entries DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();";
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const RACE_ENV: [(&str, &str); 3] = [
    ("MANGO_SERVER__SHUTDOWN_TIMEOUT", "1"),
    ("MANGO_DATABASE__POOL_SIZE", "64"),
    ("MANGO_LOG", REQUEST_LOG),
];

#[test]
fn sqlite_answers_are_what_was_committed() {
    let url = sqlite_url("race");
    outcome_race(
        || {
            let mut env = RACE_ENV.to_vec();
            env.push(("MANGO_DATABASE__URL", url.as_str()));
            sqlite_site().serve_http_with_env(&["--migrate"], &env)
        },
        240,
        // SQLite's writes take turns: calls that write for 5 s cannot end together.
        0,
    );
}

#[test]
fn postgres_answers_are_what_was_committed() {
    let Some(base) = postgres_url() else {
        return missing("a PostgreSQL server (MANGO_TEST_DATABASE_URL)");
    };
    let url = fresh_postgres_database(&base, "mango_e2e_race");
    // Migrated first, then the commits made slow.
    success(
        postgres_site()
            .command(&["migrate"])
            .env("MANGO_DATABASE__URL", &url),
    );
    slow_commits(&url);
    outcome_race(
        || {
            let mut env = RACE_ENV.to_vec();
            env.push(("MANGO_DATABASE__URL", url.as_str()));
            postgres_site().serve_http_with_env(&[], &env)
        },
        240,
        60,
    );
}

/// A server whose port is taken stops saying so before it creates or migrates its
/// database.
#[test]
fn a_taken_port_stops_start_up_before_the_database_is_made() {
    let dir = scratch("faults-port");
    let db = dir.join("db.sqlite3");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = sqlite_site()
        .command(&["serve", "--transport", "http", "--port", &port, "--migrate"])
        .env("MANGO_DATABASE__URL", format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is another server using the port"), "{err}");
    assert!(
        !db.exists(),
        "the database was made and migrated before the port was found taken"
    );
}

/// An `initialize` of a client that can answer questions (elicitation).
const INITIALIZE_ASKABLE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{"elicitation":{}},"clientInfo":{"name":"raw","version":"1"}}}"#;

/// Starts `fledger_insert_asking` in a new session whose client can answer questions,
/// and returns once the question has arrived: the session, and the connection that
/// carries the call's answer (open).
fn asked(authority: &str) -> (String, std::net::TcpStream) {
    use std::io::{BufRead, Write};
    let (status, head, body) = http_post(authority, "/mcp", JSON_HEADERS, INITIALIZE_ASKABLE);
    assert_eq!(status, 200, "{body}");
    let session = session_id(&head).unwrap();
    let mut headers = JSON_HEADERS.to_vec();
    headers.push(("Mcp-Session-Id", &session));
    headers.push(("MCP-Protocol-Version", "2025-06-18"));
    let (status, _, _) = http_post(
        authority,
        "/mcp",
        &headers,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    );
    assert_eq!(status, 202);
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "fledger_insert_asking", "arguments": {"label": "asked"}}}).to_string();
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\n",
        call.len()
    );
    for (k, v) in &headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&call);
    stream.write_all(request.as_bytes()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "the call's stream ended before its question"
        );
        if line.contains("elicitation/create") {
            return (session, stream);
        }
    }
}

/// A write from another session while the asking call waits: how long it took, and
/// whether it committed.
fn other_write(authority: &str, label: &str) -> (Duration, bool) {
    let session = open_session(authority);
    let started = Instant::now();
    let reply = call_in_session(
        authority,
        &session,
        2,
        "fledger_insert_pair",
        json!({"label": label}),
    );
    let ok = reply.is_some_and(|r| r.get("result").is_some() && !is_error(&r["result"]));
    (started.elapsed(), ok)
}

/// A call waiting for an answer to its question holds SQLite's write lock; when its
/// client goes away (the connection that would carry the answer closes, or the session
/// is deleted), the call ends at once and rolls back, and other writers go on within a
/// second or two (not after `[input] timeout`).
#[test]
fn a_question_never_holds_the_database_hostage() {
    let url = sqlite_url("hostage");
    let server = sqlite_site().serve_http_with_env(
        &["--migrate"],
        &[
            ("MANGO_DATABASE__URL", url.as_str()),
            ("MANGO_DATABASE__BUSY_TIMEOUT", "10"),
        ],
    );
    let authority = server.authority();
    // The client closes the connection of its call.
    let (_, stream) = asked(&authority);
    drop(stream);
    let (took, ok) = other_write(&authority, "after a closed connection");
    assert!(
        ok && took < Duration::from_secs(3),
        "a write waited {took:?} (committed: {ok}) behind a call whose client had gone"
    );
    // The client deletes its session.
    let (session, _stream) = asked(&authority);
    let _ = http_delete(&authority, "/mcp", &session);
    let (took, ok) = other_write(&authority, "after a deleted session");
    assert!(
        ok && took < Duration::from_secs(3),
        "a write waited {took:?} (committed: {ok}) behind a call whose session was deleted"
    );
    let labels = kept(&authority);
    assert!(
        !labels.iter().any(|l| l.starts_with("asked")),
        "the abandoned calls' rows were committed: {labels:?}"
    );
}

/// A resource subscriber that never reads (its event stream open, nothing read, on a
/// socket with a small receive buffer): the calls that change the resource go on at
/// full speed, and the subscriber is dropped with a warning instead of being waited for
/// (each subscriber has an outbox of its own, told by a task of its own; one whose
/// notification has waited 5 s is dropped at the next change). Before, a call that
/// changed it waited for the stuck client's socket, with no end.
#[test]
fn a_subscriber_that_never_reads_is_dropped_not_waited_for() {
    use std::io::Write;
    const ROWS: u64 = 1000;
    let url = sqlite_url("stuck-subscriber");
    let server =
        sqlite_site().serve_http_with_env(&["--migrate"], &[("MANGO_DATABASE__URL", url.as_str())]);
    let authority = server.authority();
    let session = open_session(&authority);
    let mut headers = JSON_HEADERS.to_vec();
    headers.push(("Mcp-Session-Id", &session));
    headers.push(("MCP-Protocol-Version", "2025-06-18"));
    for n in 1..=ROWS {
        let subscribe = json!({"jsonrpc": "2.0", "id": n + 1, "method": "resources/subscribe", "params": {"uri": format!("ledger://rows/{n}")}});
        let (status, _, body) = http_post(&authority, "/mcp", &headers, &subscribe.to_string());
        assert_eq!(status, 200, "{body}");
    }
    // Its event stream: opened, then never read.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let address: std::net::SocketAddr = authority.parse().unwrap();
    socket.connect(&address.into()).unwrap();
    let mut stream: std::net::TcpStream = socket.into();
    write!(
        stream,
        "GET /mcp HTTP/1.1\r\nHost: {authority}\r\nAccept: text/event-stream\r\nMcp-Session-Id: {session}\r\nMCP-Protocol-Version: 2025-06-18\r\n\r\n"
    )
    .unwrap();

    // Another client changes the resources, all of them in each call.
    let caller = open_session(&authority);
    let dropped = "a resource subscriber is not reading its notifications";
    let mut slowest = Duration::ZERO;
    let mut calls = 0u64;
    let mut after_drop = 0;
    let began = Instant::now();
    while after_drop < 20 {
        assert!(
            began.elapsed() < Duration::from_secs(60),
            "{calls} calls of 1,000 changes in a minute, and the subscriber that never reads was not dropped:\n{}",
            server.log.lock().unwrap()
        );
        calls += 1;
        let started = Instant::now();
        let reply = call_in_session(
            &authority,
            &caller,
            10 + calls,
            "fledger_touch_many",
            json!({"rows": ROWS}),
        );
        slowest = slowest.max(started.elapsed());
        assert!(
            reply.as_ref().is_some_and(|r| !is_error(&r["result"])),
            "call {calls}: {reply:?}"
        );
        if after_drop > 0 || server.log.lock().unwrap().contains(dropped) {
            after_drop += 1;
        }
    }
    assert!(
        slowest < Duration::from_secs(2),
        "a call took {slowest:?} while a subscriber did not read (of {calls})"
    );
    // The server still serves, writes included.
    let reply = call_in_session(
        &authority,
        &caller,
        1,
        "fledger_insert",
        json!({"label": "after"}),
    );
    assert!(reply.is_some_and(|r| !is_error(&r["result"])));
    eprintln!(
        "{calls} calls of 1,000 changes, the slowest {slowest:?}; the subscriber was dropped"
    );
    drop(stream);
}
