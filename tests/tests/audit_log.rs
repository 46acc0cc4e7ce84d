//! `mango.audit` end to end, on SQLite and PostgreSQL: a real project's calls over
//! stdio, each logged once with its outcome after its transaction ended (a call rolled
//! back is logged as failed), secrets redacted, the queue written out at SIGTERM, and
//! `audit --prune` keeping what the settings say.

#![allow(clippy::unwrap_used)]

use std::sync::OnceLock;

use mango_tests::*;
use serde_json::{Value, json};

/// The project of `backend`, built once per run for the tests that share it.
fn site(backend: &'static str) -> &'static Site {
    static SQLITE: OnceLock<Site> = OnceLock::new();
    static POSTGRES: OnceLock<Site> = OnceLock::new();
    let cell = if backend == "sqlite" {
        &SQLITE
    } else {
        &POSTGRES
    };
    cell.get_or_init(|| {
        let name = format!("auditlog{backend}");
        shared_site(&name, || make_site(backend))
    })
}

fn make_site(backend: &str) -> Site {
    db_site(
        &format!("auditlog{backend}"),
        backend,
        &format!("alledger{backend}"),
        false,
        |dir| {
            let settings = dir.join("Mango.toml");
            let text = std::fs::read_to_string(&settings).unwrap();
            assert!(text.contains("[default]\n"), "{text}");
            std::fs::write(
                &settings,
                text.replacen(
                    "[default]\n",
                    "[default]\nmiddleware = [\"mango.audit\"]\n",
                    1,
                ) + "\n[default.audit]\nredact = [\"label\"]\n",
            )
            .unwrap();
        },
    )
}

fn logged(site: &Site, url: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["run", "audit", "--json"];
    args.extend(extra);
    let mut cmd = site.command(&args);
    cmd.env("MANGO_DATABASE__URL", url);
    let out = success(&mut cmd);
    serde_json::from_str::<Value>(&out)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn every_call_is_logged_once(site: &Site, url: &str, ledger: &str) {
    let mut cmd = site.command(&["serve", "--transport", "stdio", "--migrate"]);
    cmd.env("MANGO_DATABASE__URL", url);
    let mut client = StdioClient::start(cmd);
    let ok = client.call(&format!("{ledger}_insert"), json!({"label": "kept"}));
    assert!(!is_error(&ok), "{ok}");
    let failed = client.call(
        &format!("{ledger}_insert_then_fail"),
        json!({"label": "gone"}),
    );
    assert!(is_error(&failed), "{failed}");
    let panicked = client.call(
        &format!("{ledger}_insert_then_panic"),
        json!({"label": "gone"}),
    );
    assert!(is_error(&panicked), "{panicked}");
    let count = client.call(&format!("{ledger}_count"), json!({}));
    assert_eq!(count["structuredContent"]["result"], 1, "{count}");
    // SIGTERM: the queue is written out before the process ends.
    assert!(client.terminate().success());

    let rows = logged(site, url, &[]);
    let outcomes: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["name"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    let name = |t: &str| format!("{ledger}_{t}");
    assert_eq!(
        outcomes,
        [
            (name("count").as_str(), "ok"),
            (name("insert_then_panic").as_str(), "tool_error"),
            (name("insert_then_fail").as_str(), "tool_error"),
            (name("insert").as_str(), "ok"),
        ],
        "newest first: {rows:?}"
    );
    assert!(
        rows[1]["error"].as_str().unwrap().contains("panicked"),
        "{}",
        rows[1]
    );
    for r in &rows {
        assert_eq!(r["transport"], "stdio", "{r}");
        assert_eq!(r["kind"], "tool", "{r}");
        assert_eq!(r["app"], ledger, "{r}");
        assert!(r["duration_ms"].as_f64().unwrap() >= 0.0, "{r}");
        // `[audit] redact = ["label"]`: the value never reaches the log.
        assert!(!r["arguments"].as_str().unwrap().contains("kept"), "{r}");
    }
    assert_eq!(rows[3]["arguments"], r#"{"label":"[redacted]"}"#);

    // Filters.
    let failed = logged(site, url, &["--outcome", "tool_error"]);
    assert_eq!(failed.len(), 2, "{failed:?}");

    let mut typo = site.command(&["run", "audit", "--outcome", "error"]);
    typo.env("MANGO_DATABASE__URL", url);
    let (code, _, err) = outcome(&mut typo);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("the outcomes are ok, tool_error"), "{err}");

    // Retention: the newest two rows are kept.
    let mut prune = site.command(&["run", "audit", "--prune"]);
    prune
        .env("MANGO_DATABASE__URL", url)
        .env("MANGO_AUDIT__RETENTION_ROWS", "2");
    let said = success(&mut prune);
    assert!(said.contains("removed 2 audit row(s)"), "{said}");
    let rows = logged(site, url, &[]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["name"], name("count"));
}

#[test]
fn sqlite_calls_are_logged_once_after_their_transaction() {
    let site = site("sqlite");
    let dir = scratch("auditlog-db");
    let url = format!("sqlite://{}", dir.join("db.sqlite3").display());
    every_call_is_logged_once(site, &url, "alledgersqlite");
}

#[test]
fn postgres_calls_are_logged_once_after_their_transaction() {
    let Some(base) = postgres_url() else {
        return missing("a PostgreSQL server (MANGO_TEST_DATABASE_URL)");
    };
    let site = site("postgres");
    let url = fresh_postgres_database(&base, "mango_e2e_audit");
    every_call_is_logged_once(site, &url, "alledgerpostgres");
}

/// 400 inserts under way, the server killed with SIGKILL: every call whose insert was
/// committed has its audit row (written in the call's own transaction), and no row says
/// `ok` for a call that did not commit.
fn killed_calls_keep_their_rows(site: &Site, url: &str, ledger: &str) {
    let serve = || {
        let mut cmd = site.command(&["serve", "--transport", "stdio", "--migrate"]);
        cmd.env("MANGO_DATABASE__URL", url).env("MANGO_LOG", "warn");
        StdioClient::start(cmd)
    };
    let mut client = serve();
    let insert = format!("{ledger}_insert");
    let ids: Vec<u64> = (0..400)
        .map(|i| {
            client.send_request(
                "tools/call",
                json!({"name": insert, "arguments": {"label": format!("row {i}")}}),
            )
        })
        .collect();
    let _ = client.reply_within(ids[40], std::time::Duration::from_secs(30));
    client.kill();
    let answered = client
        .replies_so_far()
        .values()
        .filter(|r| r["result"]["isError"] == false)
        .count();
    assert!(
        answered < 400,
        "every call was answered before the kill: no load was cut"
    );
    let mut client = serve();
    let count = client.call(&format!("{ledger}_count"), json!({}));
    let committed = count["structuredContent"]["result"].as_u64().unwrap();
    drop(client);
    let rows = logged(
        site,
        url,
        &["--name", &insert, "--outcome", "ok", "--limit", "100000"],
    );
    eprintln!(
        "killed with {answered} of 400 inserts answered: {committed} committed, {} audit rows",
        rows.len()
    );
    assert!(committed as usize >= answered, "answered inserts were lost");
    assert_eq!(
        rows.len(),
        committed as usize,
        "{committed} inserts committed but {} audit rows say ok",
        rows.len()
    );
}

#[test]
fn sqlite_kill_9_loses_no_audit_row() {
    let site = site("sqlite");
    let dir = scratch("auditlog-kill");
    let url = format!("sqlite://{}", dir.join("db.sqlite3").display());
    killed_calls_keep_their_rows(site, &url, "alledgersqlite");
}

#[test]
fn postgres_kill_9_loses_no_audit_row() {
    let Some(base) = postgres_url() else {
        return missing("a PostgreSQL server (MANGO_TEST_DATABASE_URL)");
    };
    let site = site("postgres");
    let url = fresh_postgres_database(&base, "mango_e2e_audit_kill");
    killed_calls_keep_their_rows(site, &url, "alledgerpostgres");
}

/// A wrong-typed argument named like a secret: its value is in no answer, log line or
/// audit row. A 1 MB wrong-typed argument: the answer, the log line and the audit row
/// keep a few KiB of it, with its size noted.
#[test]
fn secret_and_huge_arguments_are_hidden_and_cut() {
    let site = site("sqlite");
    let dir = scratch("auditlog-cut");
    let url = format!("sqlite://{}", dir.join("db.sqlite3").display());
    let mut cmd = site.command(&["serve", "--transport", "stdio", "--migrate"]);
    cmd.env("MANGO_DATABASE__URL", &url);
    let mut client = StdioClient::start(cmd);
    let r = client.call(
        "alledgersqlite_sign_in",
        json!({"user": "ada", "api_key": "hunter2-SECRET"}),
    );
    assert!(is_error(&r), "{r}");
    assert!(text(&r).contains("invalid argument `api_key`"), "{r}");
    assert!(!r.to_string().contains("SECRET"), "{r}");
    let huge = "x".repeat(1_000_000);
    let r = client.call("alledgersqlite_hold", json!({"millis": huge}));
    assert!(is_error(&r), "{r}");
    let answer = text(&r);
    assert!(
        answer.len() < 2_000 && answer.contains("[cut: "),
        "the answer is {} bytes: {}",
        answer.len(),
        &answer[..200.min(answer.len())]
    );
    assert!(client.terminate().success());
    let log = client.log.lock().unwrap().clone();
    assert!(!log.contains("SECRET"), "the log has the secret:\n{log}");
    let longest = log.lines().map(str::len).max().unwrap_or(0);
    assert!(
        longest < 10_000,
        "a log line of {longest} bytes (the 1 MB argument was written out)"
    );
    let rows = logged(site, &url, &["--outcome", "tool_error"]);
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        let (arguments, error) = (
            row["arguments"].as_str().unwrap(),
            row["error"].as_str().unwrap(),
        );
        assert!(
            !arguments.contains("SECRET") && !error.contains("SECRET"),
            "{row}"
        );
        assert!(
            arguments.len() <= 5_000 && error.len() <= 5_000,
            "an audit row keeps {} bytes of arguments and {} of error",
            arguments.len(),
            error.len()
        );
    }
    let arguments = rows[0]["arguments"].as_str().unwrap();
    assert!(
        arguments.ends_with("[cut: 1000013 bytes in all]"),
        "{}",
        &arguments[arguments.len().saturating_sub(200)..]
    );
}

/// mango's own migrations (the audit table) run again when their record is lost: with
/// their rows of `__mango_migrations` deleted, `migrate` applies them again over the
/// tables they made, and the audit log still reads.
#[test]
fn mangos_own_migrations_recover_a_lost_record() {
    let site = site("sqlite");
    let dir = scratch("auditlog-record");
    let file = dir.join("db.sqlite3");
    let url = format!("sqlite://{}", file.display());
    success(site.command(&["migrate"]).env("MANGO_DATABASE__URL", &url));
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(\"DELETE FROM __mango_migrations WHERE app = 'mango'\"); c.commit()",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut migrate = site.command(&["migrate"]);
    migrate.env("MANGO_DATABASE__URL", &url);
    let (code, stdout, stderr) = outcome(&mut migrate);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(logged(site, &url, &[]).is_empty());
}

/// With the database locked by another process (the audit rows cannot be written), 100
/// failing calls carrying a 2 MiB string each: the rows kept for later are cut, and
/// the server's memory grows by less than 96 MiB (26 MiB here; it grew by 970 MiB for
/// 100 calls of 4 MiB when the rows kept everything); once the lock is gone the rows
/// are written.
#[test]
fn audit_rows_held_while_the_database_is_locked_stay_small() {
    use std::io::{BufRead, Write};
    let site = site("sqlite");
    let dir = scratch("auditlog-locked");
    let file = dir.join("db.sqlite3");
    let url = format!("sqlite://{}", file.display());
    success(site.command(&["migrate"]).env("MANGO_DATABASE__URL", &url));
    let mut cmd = site.command(&["serve", "--transport", "stdio"]);
    cmd.env("MANGO_DATABASE__URL", &url)
        .env("MANGO_DATABASE__BUSY_TIMEOUT", "0.02")
        .env("MANGO_LOG", "warn");
    let mut client = StdioClient::start(cmd);
    let _ = client.call("alledgersqlite_count", json!({}));
    let before = rss_mib(client.pid());
    let mut holder = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); sys.stdin.readline(); c.execute('ROLLBACK')",
            file.to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    let huge = "x".repeat(2 << 20);
    for _ in 0..100 {
        let r = client.call("alledgersqlite_hold", json!({"millis": huge}));
        assert!(is_error(&r), "{r}");
    }
    let after = rss_mib(client.pid());
    holder.stdin.take().unwrap().write_all(b"go\n").unwrap();
    holder.wait().unwrap();
    eprintln!("100 calls of 2 MiB with the database locked: RSS {before} → {after} MiB");
    assert!(
        after < before + 96,
        "the server grew from {before} to {after} MiB holding 100 audit rows"
    );
    assert!(client.terminate().success());
    let rows = logged(
        site,
        &url,
        &["--name", "alledgersqlite_hold", "--limit", "200"],
    );
    assert_eq!(
        rows.len(),
        100,
        "the held rows were written once the lock was gone"
    );
}
