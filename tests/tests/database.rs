//! The database layer end to end: a project built from this checkout with the
//! `ledger` and `audit` fixtures, on a real SQLite file and a real PostgreSQL server.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use mango_tests::*;
use serde_json::{Value, json};

fn sqlite_site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        shared_site("dbsite", || {
            db_site("dbsite", "sqlite", "ledger", true, |_| {})
        })
    })
}

/// The PostgreSQL build of the same project, shared by the PostgreSQL tests.
fn pg_site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        shared_site("pgsite", || {
            db_site("pgsite", "postgres", "ledger", true, |_| {})
        })
    })
}

/// The site's binary with its database at `url`.
fn with_db(site: &Site, url: &str, args: &[&str]) -> Command {
    let mut cmd = site.command(args);
    cmd.env("MANGO_DATABASE__URL", url);
    cmd
}

fn sqlite_url(test: &str) -> String {
    let dir = scratch(&format!("db-{test}"));
    format!("sqlite://{}", dir.join("db.sqlite3").display())
}

fn count(client: &mut StdioClient) -> i64 {
    let r = client.call("ledger_count", json!({}));
    assert!(!is_error(&r), "{r}");
    r["structuredContent"]["result"].as_i64().unwrap()
}

/// 200 concurrent writers, then every way a call can fail: nothing a failed call wrote
/// stays, and the server keeps serving.
fn writes_and_rollbacks(site: &Site, url: &str) {
    let mut client = StdioClient::start(with_db(
        site,
        url,
        &["serve", "--transport", "stdio", "--migrate"],
    ));
    let calls: Vec<(&str, Value)> = (0..200)
        .map(|i| ("ledger_insert", json!({"label": format!("row {i}")})))
        .collect();
    let results = client.call_many(&calls);
    let failed: Vec<String> = results.iter().filter(|r| is_error(r)).map(text).collect();
    assert!(
        failed.is_empty(),
        "{} of 200 concurrent inserts failed: {:?}",
        failed.len(),
        &failed[..failed.len().min(3)]
    );
    assert_eq!(count(&mut client), 200);

    // Reads see the data, and cannot write.
    let r = client.request("resources/read", json!({"uri": "ledger://count"}));
    assert_eq!(r["result"]["contents"][0]["text"], "200", "{r}");
    let r = client.request("resources/read", json!({"uri": "ledger://sneaky"}));
    let message = r["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("read-only") || message.contains("readonly"),
        "a read wrote: {r}"
    );
    assert_eq!(count(&mut client), 200, "the read wrote nothing");

    let r = client.call("ledger_insert_then_fail", json!({"label": "failed"}));
    assert!(is_error(&r) && text(&r).contains("on purpose"), "{r}");
    assert_eq!(
        count(&mut client),
        200,
        "a tool that returned Err left its row"
    );

    let r = client.call("ledger_insert_then_panic", json!({"label": "panicked"}));
    assert!(
        is_error(&r) && text(&r).contains("panicking after the insert"),
        "{r}"
    );
    assert_eq!(count(&mut client), 200, "a tool that panicked left its row");

    // A database error inside a tool: an error result with the message, rolled back.
    let r = client.call("ledger_insert", json!({"label": "row 7"}));
    assert!(is_error(&r), "{r}");
    let message = text(&r).to_lowercase();
    assert!(
        message.contains("unique") || message.contains("duplicate"),
        "{r}"
    );
    assert_eq!(count(&mut client), 200);

    // A syntax error: the database's message, and the server goes on.
    let r = client.call("ledger_exec_sql", json!({"sql": "SELEC 1"}));
    assert!(
        is_error(&r) && text(&r).to_lowercase().contains("syntax"),
        "{r}"
    );
    assert_eq!(count(&mut client), 200);

    // atomic = false: what the tool wrote stays, even though it failed.
    let r = client.call(
        "ledger_insert_unguarded_then_fail",
        json!({"label": "unguarded"}),
    );
    assert!(is_error(&r), "{r}");
    assert_eq!(count(&mut client), 201);
}

#[test]
fn sqlite_writes_and_rollbacks() {
    writes_and_rollbacks(sqlite_site(), &sqlite_url("writes"));
}

#[test]
fn postgres_writes_and_rollbacks() {
    let Some(base) = postgres_url() else {
        return missing("a PostgreSQL server (MANGO_TEST_DATABASE_URL)");
    };
    let site = pg_site();
    // Three `migrate`s at once (a release step run on several replicas): each waits
    // for the migrations' lock, the first applies, the others find nothing to do.
    let racing = fresh_postgres_database(&base, "mango_e2e_migrate_race");
    let runs: Vec<_> = (0..3)
        .map(|_| {
            with_db(site, &racing, &["migrate"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied = 0;
    for run in runs {
        let out = run.wait_with_output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "a concurrent migrate failed: {stdout}{stderr}"
        );
        applied += stdout.matches("Applied ").count();
    }
    // The ledger's two, audit's one, and mango's own: on PostgreSQL the rounds' ledger
    // (`mango_rounds`), the jobs' table and the tasks' (the ledger has jobs and tasks).
    assert_eq!(
        applied, 6,
        "each migration applied once, by one of the runs"
    );
    let (_, listed, _) = run(site, &racing, &["migrate", "--list"]);
    assert_eq!(listed.matches("[X]").count(), 6, "{listed}");
    assert!(
        listed.contains("mango\n [X] 2026-12-02-000000_create_mango_rounds"),
        "{listed}"
    );
    let url = fresh_postgres_database(&base, "mango_e2e_writes");
    writes_and_rollbacks(site, &url);
    app_tests_pass(site, &[("MANGO_TEST_DATABASE_URL", base.as_str())]);
    // [database] statement_timeout: a statement that runs longer is cancelled, the call
    // fails with the reason, and the server goes on.
    let mut cmd = with_db(site, &url, &["serve", "--transport", "stdio"]);
    cmd.env("MANGO_DATABASE__STATEMENT_TIMEOUT", "300");
    let mut client = StdioClient::start(cmd);
    let started = std::time::Instant::now();
    let r = client.call("ledger_exec_sql", json!({"sql": "SELECT pg_sleep(5)"}));
    assert!(
        is_error(&r) && text(&r).contains("statement timeout"),
        "{r}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert_eq!(count(&mut client), 201);
    // Unreachable: start-up fails with the URL, password hidden, and the reason.
    let out = with_db(
        site,
        "postgres://app:s3cret@127.0.0.1:1/nothing",
        &["serve", "--transport", "stdio"],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not connect") && stderr.contains("app:***@127.0.0.1:1"),
        "{stderr}"
    );
    assert!(!stderr.contains("s3cret"), "{stderr}");
    // Asking the client, in both eras, on PostgreSQL; a model's tools.
    match python() {
        Some(python) => {
            talking_back(site, &url, &python);
            models_with_the_python_sdk(site, &url, &python);
        }
        None => missing("the MCP Python SDK (pip install mcp)"),
    }
}

/// The ledger's `#[model] Entry` over Streamable HTTP with the MCP Python SDK, in both
/// protocol eras: create, a duplicate refused naming the field, 60 rows paged by cursor,
/// filters, update, the row's resource and its completion, delete; `Posting`s found
/// across their relation to `Entry`, summed per entry, 1,000 paged, refused by `clean`,
/// and kept apart per caller by their scope hook.
fn models_with_the_python_sdk(site: &Site, url: &str, python: &Path) {
    // `apps` and `items` show the models, with their tools and fields.
    let mut cmd = site.command(&["apps"]);
    cmd.env("MANGO_DATABASE__URL", url);
    let apps = success(&mut cmd);
    assert!(
        apps.contains("2 models")
            && apps.contains("model     Entry (entries)")
            && apps.contains("model     Posting (postings)")
            && apps.contains(
                "query, get, aggregate, create, update, delete; fields id, entry_id, amount"
            ),
        "{apps}"
    );
    let mut cmd = site.command(&["run", "items"]);
    cmd.env("MANGO_DATABASE__URL", url);
    let items: Value = serde_json::from_str(&success(&mut cmd)).unwrap();
    let posting = items["models"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["name"] == "Posting"))
        .unwrap_or_else(|| panic!("no Posting in {items}"));
    assert_eq!(posting["tools"]["aggregate"], "ledger_posting_aggregate");
    assert_eq!(posting["uriTemplate"], "ledger://postings/{id}");
    assert_eq!(posting["fields"][1]["name"], "entry_id");
    assert_eq!(posting["fields"][2]["kind"], "number");
    assert_eq!(posting["fields"][0]["writable"], false);
    // The models' tools need `<table>:read` and `<table>:write`: over HTTP, a token's.
    let (token, reader) = ("models-token-with-every-scope", "models-token-that-reads");
    let other = "models-token-of-another-caller";
    let mut server = site.serve_http_with_env(
        &["--migrate"],
        &[
            ("MANGO_DATABASE__URL", url),
            ("MANGO_MIDDLEWARE", r#"["mango.audit", "mango.auth"]"#),
            ("MANGO_AUTH__TOKENS__WRITER", token),
            ("MANGO_AUTH__TOKENS__READER", reader),
            ("MANGO_AUTH__TOKENS__OTHER", other),
            ("MANGO_AUTH__TOKEN_SCOPES__READER", r#"["entries:read"]"#),
        ],
    );
    for legacy in [false, true] {
        let mut args = if legacy { vec!["--legacy"] } else { vec![] };
        args.extend(["ledger", token, reader, other, "http", server.url.as_str()]);
        let out = python_script(python, "models.py", &args);
        assert!(out.contains("\"ok\": true"), "{out}");
    }
    // Every write is a row of the audit log, naming who wrote (the token's name).
    assert!(server.terminate().success(), "the server stops cleanly");
    let mut cmd = site.command(&["run", "audit", "--json", "--limit", "10000"]);
    cmd.env("MANGO_DATABASE__URL", url)
        .env("MANGO_MIDDLEWARE", r#"["mango.audit"]"#);
    let rows: Vec<Value> = serde_json::from_str(&success(&mut cmd)).unwrap();
    let writes = |name: &str, outcome: &str| {
        rows.iter()
            .filter(|r| r["name"] == name && r["outcome"] == outcome && r["caller"] == "writer")
            .count()
    };
    // Each era: 60 created and one refused, one update, one delete.
    assert_eq!(writes("ledger_entry_create", "ok"), 120, "{rows:?}");
    assert_eq!(writes("ledger_entry_create", "tool_error"), 2);
    assert_eq!(writes("ledger_entry_update", "ok"), 2);
    assert_eq!(writes("ledger_entry_delete", "ok"), 2);
    // Each era: a delete refused (postings refer to the entry), 1,006 postings, two
    // refused (no such entry; clean), and the other caller's posting, written as its.
    assert_eq!(writes("ledger_entry_delete", "tool_error"), 2);
    assert_eq!(writes("ledger_posting_create", "ok"), 2012);
    assert_eq!(writes("ledger_posting_create", "tool_error"), 4);
    let others = rows
        .iter()
        .filter(|r| r["name"] == "ledger_posting_create" && r["caller"] == "other")
        .count();
    assert_eq!(others, 2, "{rows:?}");
}

#[test]
fn sqlite_models_with_the_python_sdk() {
    let Some(python) = python() else {
        return missing("the MCP Python SDK (pip install mcp)");
    };
    models_with_the_python_sdk(sqlite_site(), &sqlite_url("models"), &python);
}

/// Elicitation, sampling, log levels, subscriptions and a call that asks twice and
/// writes, with the MCP Python SDK in both protocol eras, over stdio and HTTP (sessions
/// and stateless); the database at `url`.
fn talking_back(site: &Site, url: &str, python: &Path) {
    let binary = site.binary.to_str().unwrap();
    let settings = site.dir.join("Mango.toml");
    let settings = settings.to_str().unwrap();
    // `env` sets the database for the server the SDK starts.
    let database = format!("MANGO_DATABASE__URL={url}");
    for legacy in [true, false] {
        let mut args: Vec<&str> = if legacy { vec!["--legacy"] } else { vec![] };
        args.extend(["stdio", "/usr/bin/env", &database, binary, "serve"]);
        args.extend(["--transport", "stdio", "--migrate", "--settings", settings]);
        let out = python_script(python, "talk.py", &args);
        assert!(out.contains("\"ok\": true"), "{out}");
    }
    // A client that answers too late: the call fails saying so; the server goes on.
    let args = ["--legacy", "--slow", "stdio", "/usr/bin/env", &database];
    let mut args = args.to_vec();
    args.extend([
        "MANGO_INPUT__TIMEOUT=0.5",
        binary,
        "serve",
        "--transport",
        "stdio",
    ]);
    args.extend(["--settings", settings]);
    let out = python_script(python, "talk.py", &args);
    assert!(out.contains("\"ok\": true"), "{out}");
    for extra in [&[][..], &["--stateless"][..]] {
        let server = site.serve_http_with_env(extra, &[("MANGO_DATABASE__URL", url)]);
        if !extra.is_empty() {
            // No sessions: a 2025-11-25 resources/subscribe is refused, saying why.
            let authority = server.url.trim_start_matches("http://");
            let authority = authority.split('/').next().unwrap();
            let mut headers = JSON_HEADERS.to_vec();
            headers.push(("MCP-Protocol-Version", "2025-11-25"));
            let body = r#"{"jsonrpc":"2.0","id":3,"method":"resources/subscribe","params":{"uri":"ledger://count"}}"#;
            let (_, _, answer) = http_post(authority, "/mcp", &headers, body);
            assert!(
                answer.contains("needs a session") && answer.contains("subscriptions/listen"),
                "{answer}"
            );
        }
        for mode in [&["--legacy", "http"][..], &["http"][..]] {
            if extra.is_empty() || !mode.contains(&"--legacy") {
                let mut args = mode.to_vec();
                args.push(&server.url);
                let out = python_script(python, "talk.py", &args);
                assert!(out.contains("\"ok\": true"), "{extra:?} {mode:?}: {out}");
            }
        }
    }
}

#[test]
fn sqlite_talking_back_with_the_python_sdk() {
    let Some(python) = python() else {
        return missing("the MCP Python SDK (pip install mcp)");
    };
    talking_back(sqlite_site(), &sqlite_url("talk"), &python);
}

/// `cargo test` in the project: the app's own test, on `mango_rt::testing::TestServer`.
fn app_tests_pass(site: &Site, env: &[(&str, &str)]) {
    let stdout =
        success(cargo_in(&site.dir, &["test", "-q", "-p", "ledger"]).envs(env.iter().copied()));
    assert!(stdout.contains("3 passed"), "{stdout}");
}

#[test]
fn the_test_server_gives_each_test_a_fresh_database() {
    app_tests_pass(sqlite_site(), &[]);
}

/// The same connection handling over Streamable HTTP as over stdio.
#[test]
fn http_calls_get_a_connection_and_a_transaction_too() {
    let site = sqlite_site();
    let url = sqlite_url("http");
    let server = site.serve_http_with_env(
        &["--stateless", "--migrate"],
        &[("MANGO_DATABASE__URL", url.as_str())],
    );
    let auth = server.authority();
    let call = |tool: &str, args: Value| {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args}});
        let (status, _, body) = http_post(&auth, "/mcp", JSON_HEADERS, &body.to_string());
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["result"].clone()
    };
    let r = call("ledger_insert", json!({"label": "over http"}));
    assert_eq!(r["structuredContent"]["result"], 1, "{r}");
    let r = call("ledger_insert_then_fail", json!({"label": "gone"}));
    assert!(is_error(&r), "{r}");
    let r = call("ledger_count", json!({}));
    assert_eq!(r["structuredContent"]["result"], 1, "{r}");
}

#[test]
fn an_exhausted_pool_fails_the_call_after_the_checkout_timeout() {
    let site = sqlite_site();
    let mut cmd = with_db(
        site,
        &sqlite_url("pool"),
        &["serve", "--transport", "stdio", "--migrate"],
    );
    cmd.env("MANGO_DATABASE__POOL_SIZE", "1")
        .env("MANGO_DATABASE__CHECKOUT_TIMEOUT", "0.3");
    let mut client = StdioClient::start(cmd);
    let started = std::time::Instant::now();
    // The first call takes the only connection and keeps it 3 s; a call after it must
    // give up after 0.3 s. (Until the first has its connection, a call still finds it
    // free: asked again until one finds it taken.)
    let hold = client.send_request(
        "tools/call",
        json!({"name": "ledger_hold", "arguments": {"millis": 3000}}),
    );
    let waited = loop {
        let r = client.call("ledger_count", json!({}));
        if is_error(&r) || started.elapsed() > std::time::Duration::from_secs(2) {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(is_error(&waited), "{waited}");
    assert!(
        text(&waited).contains("no database connection was free within 300ms"),
        "{waited}"
    );
    let held = client.wait_for(hold);
    assert!(!is_error(&held["result"]), "{held}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    // The pool is fine afterwards.
    assert_eq!(count(&mut client), 0);
}

/// TLS to PostgreSQL (`sslmode`, `sslrootcert`): the suite's server has `ssl = on` with
/// a certificate for `localhost` signed by a test CA (scripts/postgres.sh), and its role
/// `mango_tls` may connect over TLS only, so a connection that works as it went over TLS.
#[test]
fn postgres_over_tls() {
    let Some(base) = postgres_url() else {
        return missing("a PostgreSQL server (MANGO_TEST_DATABASE_URL)");
    };
    let tls = root().join("target/postgres/tls");
    if !tls.join("ca.crt").exists() {
        return missing("the test CA of scripts/postgres.sh (target/postgres/tls)");
    }
    let site = pg_site();
    fresh_postgres_database(&base, "mango_e2e_tls");
    let port = base
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .unwrap()
        .to_owned();
    let url = |host: &str, query: &str| {
        format!("postgres://mango_tls@{host}:{port}/mango_e2e_tls?{query}")
    };
    let ca = tls.join("ca.crt").display().to_string();
    let other = tls.join("other-ca.crt").display().to_string();

    // Without TLS the server refuses the role: the rule the rest relies on holds.
    let (code, _, err) = run(site, &url("127.0.0.1", "sslmode=disable"), &["migrate"]);
    assert_ne!(code, 0);
    assert!(err.contains("no encryption"), "{err}");

    // verify-full with the CA, by the name on the certificate: migrate, then serve.
    let full = url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let (code, out, err) = run(site, &full, &["migrate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Applied "), "{out}");
    let mut client = StdioClient::start(with_db(site, &full, &["serve", "--transport", "stdio"]));
    let r = client.call("ledger_insert", json!({"label": "over TLS"}));
    assert!(!is_error(&r), "{r}");
    assert_eq!(count(&mut client), 1);
    drop(client);

    // require (encrypted, unchecked) through the pool, and verify-ca by address (the
    // chain checked, not the name) for a command.
    let mut client = StdioClient::start(with_db(
        site,
        &url("127.0.0.1", "sslmode=require"),
        &["serve", "--transport", "stdio"],
    ));
    assert_eq!(count(&mut client), 1);
    drop(client);
    let (code, out, err) = run(
        site,
        &url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")),
        &["migrate", "--list"],
    );
    assert_eq!(code, 0, "{out}{err}");

    // Refused, saying what to fix: the certificate does not name 127.0.0.1; another CA;
    // a CA file that is not there; an sslmode libpq has and mango does not.
    let (code, out, err) = run(
        site,
        &url(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        &["migrate"],
    );
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("does not name the host"), "{err}");
    let (code, out, err) = run(
        site,
        &url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={other}"),
        ),
        &["migrate"],
    );
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("not signed by a certificate authority that sslrootcert names"),
        "{err}"
    );
    let (code, _, err) = run(
        site,
        &url(
            "localhost",
            "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        ),
        &["migrate"],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("sslrootcert /nonexistent/ca.pem cannot be read"),
        "{err}"
    );
    let (code, _, err) = run(site, &url("localhost", "sslmode=allow"), &["migrate"]);
    assert_ne!(code, 0);
    assert!(err.contains("sslmode=allow"), "{err}");

    // check --deploy: a database beyond this machine (its name; `hostaddr` sends the
    // connection here) reached without a TLS mode that encrypts for sure.
    let remote = |query: &str| {
        format!("postgres://postgres@db.example.com:{port}/mango_e2e_tls?hostaddr=127.0.0.1{query}")
    };
    let (_, out, err) = run(site, &remote(""), &["run", "check", "--deploy"]);
    assert!(
        format!("{out}{err}")
            .contains("connects to PostgreSQL on db.example.com without sslmode=require"),
        "{out}{err}"
    );
    let (_, out, err) = run(
        site,
        &remote("&sslmode=require"),
        &["run", "check", "--deploy"],
    );
    let said = format!("{out}{err}");
    assert!(!said.contains("without sslmode=require"), "{said}");
    assert!(said.contains("migrations: all applied"), "{said}");
}

fn run(site: &Site, url: &str, args: &[&str]) -> (i32, String, String) {
    outcome(&mut with_db(site, url, args))
}

#[test]
fn migrations_run_in_dependency_order_and_are_recorded_per_app() {
    let site = sqlite_site();
    let url = sqlite_url("migrate");
    let (code, out, err) = run(site, &url, &["migrate", "--list"]);
    assert_eq!(code, 0, "{err}");
    // The generated binary passes the apps' dependencies for this order.
    let main = std::fs::read_to_string(site.dir.join("manage/main.rs")).unwrap();
    assert!(
        main.contains(r#"AppInfo::new("audit", "audit").depends_on(&["ledger"])"#),
        "{main}"
    );
    assert!(
        out.contains("audit\n [ ] 2024-01-01-000000_create_audit"),
        "{out}"
    );
    assert!(
        out.contains("ledger\n [ ] 2024-01-01-000000_create_entries"),
        "{out}"
    );
    // `audit` sorts first but depends on `ledger`: ledger's migration runs first, and
    // both run although they share a version string.
    let (code, out, err) = run(site, &url, &["migrate"]);
    assert_eq!(code, 0, "{err}");
    let ledger = out.find("Applied ledger").unwrap_or(usize::MAX);
    let audit = out.find("Applied audit").unwrap_or(0);
    assert!(ledger < audit, "{out}");
    let (_, out, _) = run(site, &url, &["migrate"]);
    assert!(out.contains("No migrations to apply."), "{out}");
    let (_, out, _) = run(site, &url, &["migrate", "--list"]);
    // The ledger's two, audit's one, and mango's jobs' and tasks' tables (the ledger
    // has both).
    assert_eq!(out.matches("[X]").count(), 5, "{out}");
    // Back to zero and forward again.
    let (code, out, err) = run(site, &url, &["migrate", "audit", "zero"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Reverted audit 2024-01-01-000000_create_audit"),
        "{out}"
    );
    let (code, out, _) = run(site, &url, &["migrate", "audit", "2024-01-01-000000"]);
    assert_eq!(code, 0);
    assert!(out.contains("Applied audit"), "{out}");
    // Mistakes say what exists.
    let (code, _, err) = run(site, &url, &["migrate", "nope", "zero"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no installed app `nope` has migrations"),
        "{err}"
    );
    let (code, _, err) = run(site, &url, &["migrate", "audit", "1999"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("has no migration `1999`") && err.contains("2024-01-01-000000"),
        "{err}"
    );
}

#[test]
fn serve_warns_about_pending_migrations_and_bad_urls_stop_it() {
    let site = sqlite_site();
    let url = sqlite_url("warn");
    let (code, _, err) = run(site, &url, &["serve", "--transport", "stdio"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("5 migration(s) not applied") && err.contains("cargo mango migrate"),
        "{err}"
    );
    for (bad, expected) in [
        ("mysql://x/y", "is not valid"),
        (
            "sqlite:///no/such/folder/db.sqlite3",
            "could not connect to the database",
        ),
        ("postgres://app:s3cret@db.example/x", "built for sqlite"),
    ] {
        let (code, _, err) = run(site, bad, &["serve", "--transport", "stdio"]);
        assert_eq!(code, 1, "{bad}: {err}");
        assert!(err.contains(expected), "{bad}: {err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
}

#[test]
fn a_failing_migration_is_rolled_back_and_migrate_resumes_after_the_fix() {
    let broken = "2024-01-02-000000_add_half_done";
    // An app name of its own: the shared target directory keys members by path.
    let site = db_site("migsite", "sqlite", "mledger", false, |dir| {
        let m = dir.join("apps/mledger/migrations").join(broken);
        std::fs::create_dir_all(&m).unwrap();
        std::fs::write(
            m.join("up.sql"),
            "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n",
        )
        .unwrap();
        std::fs::write(m.join("down.sql"), "DROP TABLE half_done;\n").unwrap();
    });
    let url = sqlite_url("broken");
    let (code, _, err) = run(&site, &url, &["migrate"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("`mledger`") && err.contains(broken) && err.contains("no_such_table"),
        "{err}"
    );
    let (_, out, _) = run(&site, &url, &["migrate", "--list"]);
    assert!(out.contains(&format!(" [ ] {broken}")), "{out}");
    // Fix it; `cargo mango migrate` rebuilds (build.rs watches migrations/) and resumes.
    // Had the failed run left `half_done` behind, CREATE TABLE would fail now.
    let up = site
        .dir
        .join("apps/mledger/migrations")
        .join(broken)
        .join("up.sql");
    write_newer(&up, "CREATE TABLE half_done (x INTEGER);\n");
    let stdout = success(mango_in(&site.dir, &["migrate"]).env("MANGO_DATABASE__URL", &url));
    assert!(
        stdout.contains(&format!("Applied mledger {broken}")),
        "{stdout}"
    );
}

#[test]
fn makemigrations_writes_an_empty_pair() {
    let site = sqlite_site();
    let out = mango(&site.dir, &["makemigrations", "ledger", "add_index"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = site.dir.join("apps/ledger/migrations");
    let made: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("_add_index"))
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(Path::new(&dir.join(&made[0]).join("up.sql")).is_file());
    assert!(dir.join(&made[0]).join("down.sql").is_file());
    std::fs::remove_dir_all(dir.join(&made[0])).unwrap();
    let out = mango(&site.dir, &["makemigrations", "nope", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = mango(&site.dir, &["makemigrations", "ledger", "Bad Name"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Migration versions: `makemigrations` twice in one second (and right after
/// `startapp`) gives distinct versions in order; two folders with one version on disk
/// stop `migrate` before anything runs, naming both.
#[test]
fn migration_versions_are_unique_and_a_duplicate_is_refused() {
    let mut versions = Vec::new();
    // Named apart from e2e.rs's `clashsite` and its app `alpha` (one target directory).
    let site = db_site("dupversite", "sqlite", "dupledger", false, |dir| {
        mango_ok(dir, &["startapp", "valpha"]);
        for name in ["x", "y"] {
            mango_ok(dir, &["makemigrations", "valpha", name]);
        }
        let mut found: Vec<String> = std::fs::read_dir(dir.join("apps/valpha/migrations"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        found.sort();
        versions = found;
        // A copy of the ledger's migration under a second name: one version, two folders.
        let migrations = dir.join("apps/dupledger/migrations");
        let original = std::fs::read_dir(&migrations)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .find(|name| name.ends_with("_create_entries"))
            .unwrap();
        let version = original.split('_').next().unwrap().to_owned();
        copy_dir(
            &migrations.join(&original),
            &migrations.join(format!("{version}_again")),
        );
    });
    assert_eq!(versions.len(), 3, "{versions:?}");
    let unique: std::collections::BTreeSet<&str> = versions
        .iter()
        .map(|v| v.split('_').next().unwrap())
        .collect();
    assert_eq!(unique.len(), 3, "versions repeat: {versions:?}");
    assert!(
        versions[1].ends_with("_x") && versions[2].ends_with("_y"),
        "{versions:?}"
    );
    let url = sqlite_url("dup");
    let (code, _, err) = run(&site, &url, &["migrate"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("has two migrations with the version")
            && err.contains("_create_entries")
            && err.contains("_again"),
        "{err}"
    );
    // Nothing ran, not even the other app's migrations: no table of theirs exists.
    let file = url.trim_start_matches("sqlite://");
    let tables = Command::new("python3")
        .args(["-c", "import sqlite3, sys; print([r[0] for r in sqlite3.connect(sys.argv[1]).execute(\"select name from sqlite_master where type='table'\")])", file])
        .output()
        .unwrap();
    let tables = String::from_utf8_lossy(&tables.stdout);
    assert!(
        !tables.contains("entries") && !tables.contains("valpha_items"),
        "{tables}"
    );
}

/// Users and their API tokens (`[auth] users`), on SQLite: made with the commands
/// (`createsuperuser` non-interactive in a script, `createuser`, `createtoken`,
/// `changeuser`, `revoketoken`), used by the MCP Python SDK over HTTP: a token's scopes
/// hide and refuse tools; an expired token, a revoked one (within `[auth]
/// token_cache`), a wrong one and an inactive user's get 401 saying which; bad input to
/// the commands is refused, saying why, with nothing written.
#[test]
fn sqlite_users_and_their_tokens() {
    let Some(python) = python() else {
        return missing("the MCP Python SDK (pip install mcp)");
    };
    let site = sqlite_site();
    let url = sqlite_url("users");
    let env: [(&str, &str); 4] = [
        ("MANGO_DATABASE__URL", url.as_str()),
        ("MANGO_AUTH__USERS", "true"),
        ("MANGO_AUTH__TOKEN_CACHE", "0.5"),
        ("MANGO_MIDDLEWARE", r#"["mango.audit", "mango.auth"]"#),
    ];
    let run = |args: &[&str], extra: &[(&str, &str)]| {
        let mut cmd = site.command(args);
        cmd.envs(env.iter().copied()).envs(extra.iter().copied());
        outcome(&mut cmd)
    };
    let ok = |args: &[&str], extra: &[(&str, &str)]| {
        let (code, out, err) = run(args, extra);
        assert_eq!(code, 0, "{args:?}: {err}{out}");
        out.trim().to_owned()
    };
    let refused = |args: &[&str], extra: &[(&str, &str)], words: &str| {
        let (code, out, err) = run(args, extra);
        assert_eq!(code, 1, "{args:?} was not refused: {out}");
        assert!(err.contains(words), "{args:?}: {err}");
    };
    ok(&["migrate"], &[]);
    let secret = [("MANGO_SUPERUSER_PASSWORD", "a long enough password")];
    let made = ok(
        &["run", "createsuperuser", "--username", "root", "--noinput"],
        &secret,
    );
    assert!(made.contains("superuser root made"), "{made}");
    refused(
        &["run", "createsuperuser", "--username", "root", "--noinput"],
        &secret,
        "there is a user `root` already",
    );
    refused(
        &["run", "createsuperuser", "--username", "", "--noinput"],
        &[],
        "a user name is 1 to 150",
    );
    refused(
        &[
            "run",
            "createsuperuser",
            "--username",
            "shorty",
            "--noinput",
        ],
        &[("MANGO_SUPERUSER_PASSWORD", "short")],
        "shorter than 8 characters",
    );
    ok(
        &["run", "createuser", "reader", "--scope", "entries:read"],
        &[],
    );
    ok(
        &["run", "createuser", "leaver", "--scope", "entries:read"],
        &[],
    );
    refused(
        &["run", "createtoken", "nobody"],
        &[],
        "there is no user `nobody`",
    );
    refused(
        &["run", "createtoken", "root", "--expires", "soon"],
        &[],
        "is not a duration",
    );
    let reader = ok(&["run", "createtoken", "reader", "--name", "ci"], &[]);
    assert!(
        reader.starts_with("mango_") && reader.len() == 55,
        "{reader}"
    );
    let writer = ok(
        &[
            "run",
            "createtoken",
            "root",
            "--scope",
            "entries:read",
            "--scope",
            "entries:write",
        ],
        &[],
    );
    let expired = ok(&["run", "createtoken", "root", "--expires", "1s"], &[]);
    let leaver = ok(&["run", "createtoken", "leaver"], &[]);
    ok(&["run", "changeuser", "leaver", "--active", "false"], &[]);
    let revoked = ok(
        &["run", "createtoken", "reader", "--name", "to revoke"],
        &[],
    );
    // `check --deploy` finds a superuser whose password a guesser tries first.
    ok(
        &["run", "createsuperuser", "--username", "weak", "--noinput"],
        &[("MANGO_SUPERUSER_PASSWORD", "password")],
    );
    let (_, out, err) = run(&["run", "check", "--deploy"], &[]);
    assert!(
        format!("{out}{err}").contains("the superuser `weak` has a password a guesser tries first")
            && !format!("{out}{err}").contains("the superuser `root`"),
        "{out}{err}"
    );
    ok(&["run", "deleteuser", "weak"], &[]);
    // The listing names tokens by prefix, never whole.
    let listed = ok(&["run", "users"], &[]);
    assert!(
        listed.contains("root (superuser)")
            && listed.contains("leaver (inactive)")
            && listed.contains(&format!("token mango_{}_…", &reader[6..14])),
        "{listed}"
    );
    for token in [&reader, &writer, &expired, &leaver, &revoked] {
        assert!(!listed.contains(token.as_str()), "{listed}");
    }

    let server = site.serve_http_with_env(&[], &env);
    let script = |args: &[&str]| {
        let out = python_script(&python, "users.py", args);
        assert!(out.contains("\"ok\": true"), "{args:?}: {out}");
    };
    script(&["scopes", &server.url, &reader, &writer]);
    script(&["scopes", &server.url, &revoked, &writer]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    script(&["refused", &server.url, &expired, "expired"]);
    script(&["refused", &server.url, &leaver, "is not active"]);
    script(&[
        "refused",
        &server.url,
        "mango_00000000_0000000000000000000000000000000000000000",
        "the bearer token is not valid",
    ]);
    // Revoked while the server runs: refused within [auth] token_cache (0.5 s here).
    let said = ok(&["run", "revoketoken", &revoked[6..14]], &[]);
    assert!(said.contains("revoked"), "{said}");
    std::thread::sleep(std::time::Duration::from_millis(700));
    script(&["refused", &server.url, &revoked, "was revoked"]);
    script(&["scopes", &server.url, &reader, &writer]);
    drop(server);
    // The tokens' last use is kept; the audit log names the users.
    let listed = ok(&["run", "users", "--json"], &[]);
    let users: Value = serde_json::from_str(&listed).unwrap();
    let reader_tokens = &users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "reader")
        .unwrap()["tokens"];
    assert!(reader_tokens[0]["last_used_ms"].is_i64(), "{users}");
    assert!(reader_tokens[1]["revoked_ms"].is_i64(), "{users}");
    let rows = ok(&["run", "audit", "--json", "--limit", "100"], &[]);
    let rows: Vec<Value> = serde_json::from_str(&rows).unwrap();
    assert!(
        rows.iter()
            .any(|r| r["caller"] == "root" && r["name"] == "ledger_entry_create"),
        "{rows:?}"
    );
}

/// The jobs of the database, as `run jobs --json` lists them, by label.
fn jobs_by_label(site: &Site, url: &str) -> std::collections::BTreeMap<String, Value> {
    let (code, out, err) = run(site, url, &["run", "jobs", "--json", "--limit", "1000"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Value> = serde_json::from_str(&out).unwrap();
    rows.into_iter()
        .map(|row| {
            let args: Value = serde_json::from_str(row["arguments"].as_str().unwrap()).unwrap();
            (args["label"].as_str().unwrap().to_owned(), row)
        })
        .collect()
}

/// Waits until `done` holds for the jobs (at most `limit`), or fails saying what they are.
fn wait_for_jobs(
    site: &Site,
    url: &str,
    limit: std::time::Duration,
    done: impl Fn(&std::collections::BTreeMap<String, Value>) -> bool,
) -> std::collections::BTreeMap<String, Value> {
    let until = std::time::Instant::now() + limit;
    loop {
        let jobs = jobs_by_label(site, url);
        if done(&jobs) {
            return jobs;
        }
        assert!(
            std::time::Instant::now() < until,
            "the jobs did not get there within {limit:?}: {jobs:#?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn status_of(jobs: &std::collections::BTreeMap<String, Value>, label: &str) -> String {
    jobs.get(label)
        .and_then(|j| j["status"].as_str())
        .unwrap_or("missing")
        .to_owned()
}

/// Settings that make the jobs' clock quick: a lease of 1.5 s, a look every 0.1 s,
/// retries at once.
const QUICK_JOBS: [(&str, &str); 3] = [
    ("MANGO_JOBS__LEASE", "1.5"),
    ("MANGO_JOBS__POLL", "0.1"),
    ("MANGO_JOBS__BACKOFF", "0"),
];

/// Jobs on PostgreSQL, with workers in several processes: a server killed (SIGKILL)
/// in the middle of two jobs loses neither: another process's worker finds their
/// leases run out, runs the idempotent one again and fails the other, saying why
/// (and neither run's writes were kept); twenty jobs shared by two processes' workers
/// (`FOR UPDATE SKIP LOCKED`) each run once (their labels are unique: a second run
/// would fail); SIGTERM lets a running job finish; a job enqueued by a call that
/// fails does not exist; `jobs retry` and `jobs cancel`.
#[test]
fn postgres_jobs_survive_a_killed_worker() {
    let Some(base) = postgres_url() else {
        return missing("a PostgreSQL server (MANGO_TEST_DATABASE_URL)");
    };
    let site = pg_site();
    let url = fresh_postgres_database(&base, "mango_e2e_jobs");
    let (code, _, err) = run(site, &url, &["migrate"]);
    assert_eq!(code, 0, "{err}");
    let serve = || {
        let mut cmd = with_db(site, &url, &["serve", "--transport", "stdio"]);
        cmd.envs(QUICK_JOBS);
        StdioClient::start(cmd)
    };
    let enqueue = |client: &mut StdioClient, args: Value| {
        let r = client.call("ledger_enqueue", args);
        assert!(!is_error(&r), "{r}");
    };
    let mut first = serve();
    enqueue(
        &mut first,
        json!({"label": "slow", "job": "slow", "millis": 2500}),
    );
    enqueue(
        &mut first,
        json!({"label": "once", "job": "slow_once", "millis": 2500}),
    );
    let refused = first.call(
        "ledger_enqueue",
        json!({"label": "phantom", "job": "file", "refuse": true}),
    );
    assert!(is_error(&refused), "{refused}");
    wait_for_jobs(site, &url, std::time::Duration::from_secs(20), |jobs| {
        status_of(jobs, "slow") == "running" && status_of(jobs, "once") == "running"
    });
    first.kill();
    let mut worker = with_db(site, &url, &["run", "worker", "--workers", "2"]);
    let worker = worker
        .envs(QUICK_JOBS)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let jobs = wait_for_jobs(site, &url, std::time::Duration::from_secs(30), |jobs| {
        status_of(jobs, "slow") == "completed" && status_of(jobs, "once") == "failed"
    });
    assert!(!jobs.contains_key("phantom"), "{jobs:#?}");
    assert_eq!(jobs["slow"]["attempts"], 1, "{jobs:#?}");
    let why = jobs["once"]["error"].as_str().unwrap();
    assert!(
        why.contains("stopped renewing its lease") && why.contains("not marked idempotent"),
        "{why}"
    );
    // The killed runs wrote nothing; the second run of `slow` did.
    let mut second = serve();
    assert_eq!(count(&mut second), 1);
    // Twenty jobs, claimed by the server's two workers and the worker's two.
    for i in 0..20 {
        enqueue(
            &mut second,
            json!({"label": format!("q{i}"), "job": "file"}),
        );
    }
    let jobs = wait_for_jobs(site, &url, std::time::Duration::from_secs(60), |jobs| {
        (0..20).all(|i| status_of(jobs, &format!("q{i}")) == "completed")
    });
    assert!(
        (0..20).all(|i| jobs[&format!("q{i}")]["attempts"] == 1),
        "{jobs:#?}"
    );
    assert_eq!(count(&mut second), 21);
    // `jobs retry` queues the failed one again (it runs, and completes); `jobs cancel`
    // refuses a finished job, saying so.
    let once_id = jobs["once"]["id"].as_str().unwrap().to_owned();
    let (code, out, err) = run(site, &url, &["run", "jobs", "retry", &once_id]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for_jobs(site, &url, std::time::Duration::from_secs(30), |jobs| {
        status_of(jobs, "once") == "completed"
    });
    let (code, _, err) = run(site, &url, &["run", "jobs", "cancel", &once_id]);
    assert_eq!(code, 1);
    assert!(err.contains("has ended (completed)"), "{err}");
    // A resource's read enqueues a job on the side (its transaction is READ ONLY).
    let read = second.request(
        "resources/read",
        json!({"uri": "ledger://file-later/from-a-read"}),
    );
    assert!(read["result"]["contents"][0]["text"].is_string(), "{read}");
    wait_for_jobs(site, &url, std::time::Duration::from_secs(30), |jobs| {
        status_of(jobs, "from-a-read") == "completed"
    });
    // SIGTERM: the job running is let finish (within shutdown_timeout).
    enqueue(
        &mut second,
        json!({"label": "last", "job": "slow", "millis": 1500}),
    );
    wait_for_jobs(site, &url, std::time::Duration::from_secs(20), |jobs| {
        status_of(jobs, "last") == "running"
    });
    second.terminate();
    sigterm(&worker);
    let out = wait_with_timeout(worker, std::time::Duration::from_secs(30), "the worker");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jobs = jobs_by_label(site, &url);
    assert_eq!(status_of(&jobs, "last"), "completed", "{jobs:#?}");
}

/// SIGTERM to a child process.
fn sigterm(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Jobs on SQLite, run by `serve`'s workers: a job enqueued by a call runs once the
/// call committed; one that fails is retried, then failed with its error; `jobs
/// cancel` cancels a queued one (`[jobs] workers = 0` in a second server leaves it
/// queued); bad input to `jobs` is refused, saying what is expected.
#[test]
fn sqlite_jobs_run_in_serve() {
    let site = sqlite_site();
    let url = sqlite_url("jobs");
    let (code, _, err) = run(site, &url, &["migrate"]);
    assert_eq!(code, 0, "{err}");
    let mut cmd = with_db(site, &url, &["serve", "--transport", "stdio"]);
    cmd.envs(QUICK_JOBS);
    let mut server = StdioClient::start(cmd);
    for args in [
        json!({"label": "a", "job": "file"}),
        json!({"label": "b", "job": "file_fail"}),
        json!({"label": "c", "job": "slow", "millis": 100}),
        json!({"label": "stale", "job": "stale"}),
    ] {
        let r = server.call("ledger_enqueue", args);
        assert!(!is_error(&r), "{r}");
    }
    // A resource's read enqueues one too (on the side: its transaction cannot write).
    let read = server.request(
        "resources/read",
        json!({"uri": "ledger://file-later/from-a-read"}),
    );
    assert!(read["result"]["contents"][0]["text"].is_string(), "{read}");
    let jobs = wait_for_jobs(site, &url, std::time::Duration::from_secs(30), |jobs| {
        status_of(jobs, "a") == "completed"
            && status_of(jobs, "b") == "failed"
            && status_of(jobs, "c") == "completed"
            && status_of(jobs, "stale") == "failed"
            && status_of(jobs, "from-a-read") == "completed"
    });
    assert_eq!(jobs["b"]["attempts"], 2);
    assert!(
        jobs["b"]["error"].as_str().unwrap().contains("on purpose"),
        "{jobs:#?}"
    );
    // Arguments an older version wrote, which the job no longer reads: failed at once
    // (running it again cannot help), saying which, and kept with its arguments.
    assert_eq!(jobs["stale"]["attempts"], 1, "{jobs:#?}");
    let why = jobs["stale"]["error"].as_str().unwrap();
    assert!(why.contains("fail"), "{why}");
    assert!(
        jobs["stale"]["arguments"]
            .as_str()
            .unwrap()
            .contains("\"no\""),
        "{jobs:#?}"
    );
    assert_eq!(count(&mut server), 3);
    server.terminate();
    // No workers: the job stays queued, and is cancelled.
    let mut cmd = with_db(site, &url, &["serve", "--transport", "stdio"]);
    cmd.envs(QUICK_JOBS).env("MANGO_JOBS__WORKERS", "0");
    let mut idle = StdioClient::start(cmd);
    let r = idle.call("ledger_enqueue", json!({"label": "d", "job": "file"}));
    let id = text(&r);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(status_of(&jobs_by_label(site, &url), "d"), "queued");
    let (code, out, err) = run(site, &url, &["run", "jobs", "cancel", &id]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(status_of(&jobs_by_label(site, &url), "d"), "cancelled");
    idle.terminate();
    let (code, _, err) = run(site, &url, &["run", "jobs", "retry"]);
    assert_eq!(code, 1);
    assert!(err.contains("name the job: jobs retry <id>"), "{err}");
    let (code, _, err) = run(site, &url, &["run", "jobs", "--status", "done"]);
    assert_eq!(code, 1);
    assert!(err.contains("a job is one of queued, running"), "{err}");
    let (code, _, err) = run(site, &url, &["run", "jobs", "retry", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("there is no job `nope`"), "{err}");
}

/// The tasks extension's capability, and the client's others, as a 2026-07-28
/// request's `_meta` carries them.
fn meta_2026() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "tasks-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {
            "elicitation": {"form": {}},
            "extensions": {"io.modelcontextprotocol/tasks": {}},
        },
    })
}

/// One 2026-07-28 request (no session); `tasks`: with the tasks extension declared.
fn rpc_2026(authority: &str, method: &str, name: &str, params: Value, tasks: bool) -> Value {
    rpc_2026_as(authority, None, method, name, params, tasks)
}

/// [`rpc_2026`] with `Authorization: Bearer <token>` when given.
fn rpc_2026_as(
    authority: &str,
    token: Option<&str>,
    method: &str,
    name: &str,
    mut params: Value,
    tasks: bool,
) -> Value {
    let mut meta = meta_2026();
    if !tasks {
        meta["io.modelcontextprotocol/clientCapabilities"]["extensions"] = json!({});
    }
    params["_meta"] = meta;
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}).to_string();
    let mut headers = JSON_HEADERS.to_vec();
    headers.extend([
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", method),
        ("Mcp-Name", name),
    ]);
    let bearer = token.map(|t| format!("Bearer {t}"));
    if let Some(bearer) = &bearer {
        headers.push(("Authorization", bearer));
    }
    let (status, head, body) = http_post(authority, "/mcp", &headers, &body);
    reply_in(&body, 7).unwrap_or_else(|| panic!("{method}: no answer ({status}): {head}\n{body}"))
}

/// `tasks/get` until `done` holds for the task (at most 20 s).
fn poll_task(get: &dyn Fn() -> Value, done: &dyn Fn(&Value) -> bool) -> Value {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let got = get();
        let task = got["result"].clone();
        if done(&task) {
            return task;
        }
        assert!(
            std::time::Instant::now() < until,
            "the task did not get there: {got}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A task that asks (`ledger_count_slowly` with `ask`), started by the caller of
/// `token`, once it waits: its id, its question's key, and the task.
fn asking_task(at: &str, token: Option<&str>) -> (String, String, Value) {
    let made = rpc_2026_as(
        at,
        token,
        "tools/call",
        "ledger_count_slowly",
        json!({"name": "ledger_count_slowly", "arguments": {"steps": 1, "millis": 1, "ask": true}}),
        true,
    );
    let id = made["result"]["taskId"].as_str().unwrap().to_owned();
    let get = || rpc_2026_as(at, token, "tasks/get", &id, json!({"taskId": id}), true);
    let asking = poll_task(&get, &|t| t["status"] == "input_required");
    let key = asking["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    (id, key, asking)
}

/// Tool calls as tasks (the MCP tasks extension), over HTTP in both eras, as JSON-RPC
/// the extension specifies (the Python SDK has no client side of it): the extension is
/// advertised; a call answered with a task handle whose progress `tasks/get` shows,
/// then its result; a task that asks for input, answered with `tasks/update`; a task
/// cancelled (its write rolled back); a tool that requires tasks refuses a client
/// without the extension (-32021) and one that may be a task runs as a plain call for
/// it; an unknown task is -32602; another caller's task is as unknown; one past its TTL
/// is gone.
fn tasks_over_http(site: &Site, url: &str) {
    let server = site.serve_http_with_env(&["--migrate"], &[("MANGO_DATABASE__URL", url)]);
    let at = server.authority();
    let at = at.as_str();
    let call = |tool: &str, args: Value, tasks: bool| {
        rpc_2026(
            at,
            "tools/call",
            tool,
            json!({"name": tool, "arguments": args}),
            tasks,
        )
    };
    let get = |id: &str| rpc_2026(at, "tasks/get", id, json!({"taskId": id}), true);
    let discovered = rpc_2026(at, "server/discover", "", json!({}), true);
    assert!(
        discovered
            .to_string()
            .contains("io.modelcontextprotocol/tasks"),
        "{discovered}"
    );
    // Progress, then the result.
    let made = call(
        "ledger_count_slowly",
        json!({"steps": 4, "millis": 400}),
        true,
    );
    let handle = &made["result"];
    assert_eq!(handle["resultType"], "task", "{made}");
    assert_eq!(handle["status"], "working", "{made}");
    assert!(
        handle["ttlMs"].as_u64().unwrap() > 0 && handle["pollIntervalMs"].is_u64(),
        "{made}"
    );
    let id = handle["taskId"].as_str().unwrap().to_owned();
    let midway = poll_task(&|| get(&id), &|t| {
        t["statusMessage"]
            .as_str()
            .is_some_and(|m| m.contains("/4: counting"))
    });
    assert_eq!(midway["status"], "working", "{midway}");
    let done = poll_task(&|| get(&id), &|t| t["status"] == "completed");
    assert_eq!(done["resultType"], "complete", "{done}");
    assert_eq!(
        done["result"]["content"][0]["text"], "counted to 4",
        "{done}"
    );
    // Without the extension: a plain call for a tool that may be a task, -32021 for
    // one that must be.
    let plain = call(
        "ledger_count_slowly",
        json!({"steps": 1, "millis": 1}),
        false,
    );
    assert_eq!(
        plain["result"]["content"][0]["text"], "counted to 1",
        "{plain}"
    );
    let refused = call(
        "ledger_insert_as_task",
        json!({"label": "x", "millis": 1}),
        false,
    );
    assert_eq!(refused["error"]["code"], -32021, "{refused}");
    // Input mid-task, through tasks/update.
    let (id, key, asking) = asking_task(at, None);
    assert!(
        asking["inputRequests"][&key].to_string().contains("Count?"),
        "{asking}"
    );
    let ack = rpc_2026(
        at,
        "tasks/update",
        &id,
        json!({"taskId": id, "inputResponses": {key.as_str(): {"action": "accept", "content": {"confirm": true}}}}),
        true,
    );
    assert!(ack.get("result").is_some(), "{ack}");
    let done = poll_task(&|| get(&id), &|t| t["status"] == "completed");
    assert_eq!(
        done["result"]["content"][0]["text"], "counted to 1",
        "{done}"
    );
    // Cancelled: its insert is rolled back.
    let before = call("ledger_count", json!({}), false);
    let made = call(
        "ledger_insert_as_task",
        json!({"label": "cancelled", "millis": 1500}),
        true,
    );
    let id = made["result"]["taskId"].as_str().unwrap().to_owned();
    let ack = rpc_2026(at, "tasks/cancel", &id, json!({"taskId": id}), true);
    assert!(ack.get("result").is_some(), "{ack}");
    poll_task(&|| get(&id), &|t| t["status"] == "cancelled");
    std::thread::sleep(std::time::Duration::from_millis(1600));
    let after = call("ledger_count", json!({}), false);
    assert_eq!(before["result"], after["result"], "{after}");
    // One that completes writes.
    let made = call(
        "ledger_insert_as_task",
        json!({"label": "kept", "millis": 10}),
        true,
    );
    let id = made["result"]["taskId"].as_str().unwrap().to_owned();
    poll_task(&|| get(&id), &|t| t["status"] == "completed");
    // Calls that end at once (most do): the handle already says how they ended (its
    // row is written once), and `tasks/get` has the result; one that writes (on SQLite
    // its row is written before its transaction begins) keeps what it wrote.
    let before = call("ledger_count", json!({}), false)["result"]["structuredContent"]["result"]
        .as_i64()
        .unwrap();
    let mut ended_at_once = 0;
    for i in 0..5 {
        let made = call(
            "ledger_count_slowly",
            json!({"steps": 0, "millis": 0}),
            true,
        );
        let handle = &made["result"];
        assert_eq!(handle["resultType"], "task", "{made}");
        if handle["status"] == "completed" {
            ended_at_once += 1;
        }
        let id = handle["taskId"].as_str().unwrap().to_owned();
        let done = poll_task(&|| get(&id), &|t| t["status"] == "completed");
        assert_eq!(
            done["result"]["content"][0]["text"], "counted to 0",
            "{done}"
        );
        let made = call(
            "ledger_insert_as_task",
            json!({"label": format!("at once {i}"), "millis": 0}),
            true,
        );
        let id = made["result"]["taskId"].as_str().unwrap().to_owned();
        let done = poll_task(&|| get(&id), &|t| t["status"] == "completed");
        assert_ne!(done["result"]["isError"], true, "{done}");
    }
    assert!(ended_at_once > 0, "no quick task's handle said completed");
    let after = call("ledger_count", json!({}), false)["result"]["structuredContent"]["result"]
        .as_i64()
        .unwrap();
    assert_eq!(after, before + 5, "the quick tasks' inserts");
    let unknown = get("nope");
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    // A finished task: cancel and update are acknowledged (the extension's eventual
    // consistency) and change nothing.
    let ack = rpc_2026(at, "tasks/cancel", &id, json!({"taskId": id}), true);
    assert!(ack.get("result").is_some(), "{ack}");
    let ack = rpc_2026(
        at,
        "tasks/update",
        &id,
        json!({"taskId": id, "inputResponses": {"q0": {"action": "accept", "content": {}}}}),
        true,
    );
    assert!(ack.get("result").is_some(), "{ack}");
    let still = get(&id);
    assert_eq!(still["result"]["status"], "completed", "{still}");
    // An answer that does not fit the question: the tool is told, and says so.
    let (asking_id, key, _) = asking_task(at, None);
    let ack = rpc_2026(
        at,
        "tasks/update",
        &asking_id,
        json!({"taskId": asking_id, "inputResponses": {key.as_str(): {"action": "accept", "content": {"confirm": "yes please"}}}}),
        true,
    );
    assert!(ack.get("result").is_some(), "{ack}");
    let ended = poll_task(&|| get(&asking_id), &|t| t["status"] == "completed");
    assert_eq!(ended["result"]["isError"], true, "{ended}");
    // `run tasks` lists them; `run tasks cancel` stops a running one (on this server,
    // through the row), and refuses a finished one.
    let (code, out, err) = run(site, url, &["run", "tasks", "--json"]);
    assert_eq!(code, 0, "{err}");
    let listed: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert!(
        listed.iter().any(|t| t["id"] == id.as_str()
            && t["status"] == "completed"
            && t["tool"] == "ledger_insert_as_task"),
        "{out}"
    );
    let made = call(
        "ledger_count_slowly",
        json!({"steps": 40, "millis": 100}),
        true,
    );
    let running = made["result"]["taskId"].as_str().unwrap().to_owned();
    let (code, out, err) = run(site, url, &["run", "tasks", "cancel", &running]);
    assert_eq!(code, 0, "{out}{err}");
    let stopped = poll_task(&|| get(&running), &|t| t["status"] == "cancelled");
    assert!(
        stopped["statusMessage"]
            .as_str()
            .unwrap_or("")
            .contains("rolled back"),
        "{stopped}"
    );
    let (code, _, err) = run(site, url, &["run", "tasks", "cancel", &id]);
    assert_ne!(code, 0);
    assert!(err.contains("has ended (completed)"), "{err}");
    let (code, _, err) = run(site, url, &["run", "tasks", "--status", "done"]);
    assert_ne!(code, 0);
    assert!(err.contains("a task is one of"), "{err}");
    // 2025-11-25: a session whose initialize declared the extension.
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}},"clientInfo":{"name":"raw","version":"1"}}}"#;
    let (status, head, body) = http_post(at, "/mcp", JSON_HEADERS, init);
    assert_eq!(status, 200, "{head}\n{body}");
    assert!(body.contains("io.modelcontextprotocol/tasks"), "{body}");
    let session = session_id(&head).unwrap();
    let mut headers = JSON_HEADERS.to_vec();
    headers.push(("Mcp-Session-Id", &session));
    headers.push(("MCP-Protocol-Version", "2025-11-25"));
    let send = |id: u64, method: &str, params: Value| {
        let body =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        let (_, _, body) = http_post(at, "/mcp", &headers, &body);
        reply_in(&body, id).unwrap_or_else(|| panic!("{method}: {body}"))
    };
    let (status, _, _) = http_post(
        at,
        "/mcp",
        &headers,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    );
    assert_eq!(status, 202);
    let made = send(
        2,
        "tools/call",
        json!({"name": "ledger_count_slowly", "arguments": {"steps": 2, "millis": 50}}),
    );
    assert_eq!(made["result"]["resultType"], "task", "{made}");
    let id = made["result"]["taskId"].as_str().unwrap().to_owned();
    let done = poll_task(&|| send(3, "tasks/get", json!({"taskId": id})), &|t| {
        t["status"] == "completed"
    });
    assert_eq!(
        done["result"]["content"][0]["text"], "counted to 2",
        "{done}"
    );
    drop(server);
    // A server killed (SIGKILL) in the middle of a task that has written: the next
    // server fails the task once its lease has run out, saying why; the write was
    // rolled back; the task is never run again.
    let server = site.serve_http_with_env(
        &[],
        &[("MANGO_DATABASE__URL", url), ("MANGO_TASKS__LEASE", "1.5")],
    );
    let killed_at = server.authority();
    let before_kill = rpc_2026(
        &killed_at,
        "tools/call",
        "ledger_count",
        json!({"name": "ledger_count", "arguments": {}}),
        false,
    );
    let made = rpc_2026(
        &killed_at,
        "tools/call",
        "ledger_insert_as_task",
        json!({"name": "ledger_insert_as_task", "arguments": {"label": "killed", "millis": 30000}}),
        true,
    );
    let killed = made["result"]["taskId"].as_str().unwrap().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop(server);
    // With `mango.auth`: a task is its caller's; another caller's get, update and cancel
    // are answered as for an unknown task, and change nothing. Kept for [tasks] ttl,
    // then gone: -32602 as for an unknown one, and no longer listed.
    let server = site.serve_http_with_env(
        &[],
        &[
            ("MANGO_DATABASE__URL", url),
            ("MANGO_TASKS__TTL", "4"),
            ("MANGO_TASKS__LEASE", "1.5"),
            ("MANGO_MIDDLEWARE", r#"["mango.auth"]"#),
            ("MANGO_AUTH__TOKENS__OWNER", "tasks-token-of-the-owner"),
            ("MANGO_AUTH__TOKENS__OTHER", "tasks-token-of-another-caller"),
        ],
    );
    let at = server.authority();
    let at = at.as_str();
    let owner = Some("tasks-token-of-the-owner");
    let other = Some("tasks-token-of-another-caller");
    let get =
        |id: &str, token| rpc_2026_as(at, token, "tasks/get", id, json!({"taskId": id}), true);
    let listed = |id: &str| {
        let (code, out, err) = run(site, url, &["run", "tasks", "--json"]);
        assert_eq!(code, 0, "{err}");
        let all: Vec<Value> = serde_json::from_str(&out).unwrap();
        all.into_iter().find(|t| t["id"] == id)
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let failed = loop {
        let row = listed(&killed).expect("the killed task is kept");
        if row["status"] == "failed" || std::time::Instant::now() > until {
            break row;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed.to_string().contains("stopped before it finished"),
        "{failed}"
    );
    let counted = rpc_2026_as(
        at,
        owner,
        "tools/call",
        "ledger_count",
        json!({"name": "ledger_count", "arguments": {}}),
        false,
    );
    assert_eq!(
        counted["result"], before_kill["result"],
        "the killed task's insert is rolled back: {counted}"
    );
    let made_at = std::time::Instant::now();
    let (id, key, _) = asking_task(at, owner);
    let theirs = get(&id, other);
    assert_eq!(theirs["error"]["code"], -32602, "{theirs}");
    let answer = json!({"taskId": id, "inputResponses": {key.as_str(): {"action": "accept", "content": {"confirm": true}}}});
    let theirs = rpc_2026_as(at, other, "tasks/update", &id, answer.clone(), true);
    assert_eq!(theirs["error"]["code"], -32602, "{theirs}");
    let theirs = rpc_2026_as(at, other, "tasks/cancel", &id, json!({"taskId": id}), true);
    assert_eq!(theirs["error"]["code"], -32602, "{theirs}");
    let still = get(&id, owner);
    assert_eq!(still["result"]["status"], "input_required", "{still}");
    let ack = rpc_2026_as(at, owner, "tasks/update", &id, answer, true);
    assert!(ack.get("result").is_some(), "{ack}");
    let done = poll_task(&|| get(&id, owner), &|t| t["status"] == "completed");
    assert_eq!(done["ttlMs"], 4000, "{done}");
    std::thread::sleep(std::time::Duration::from_millis(4600).saturating_sub(made_at.elapsed()));
    let gone = get(&id, owner);
    assert_eq!(gone["error"]["code"], -32602, "{gone}");
    let (code, out, err) = run(site, url, &["run", "tasks", "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(&id), "{out}");
}

#[test]
fn sqlite_tool_calls_as_tasks() {
    tasks_over_http(sqlite_site(), &sqlite_url("tasks"));
}

#[test]
fn postgres_tool_calls_as_tasks() {
    let Some(base) = postgres_url() else {
        return missing("a PostgreSQL server (MANGO_TEST_DATABASE_URL)");
    };
    tasks_over_http(
        pg_site(),
        &fresh_postgres_database(&base, "mango_e2e_tasks"),
    );
}

/// `[metrics]` scraped by a real Prometheus (Debian's), every second, during a mixed
/// load over HTTP: tools that succeed and fail, a resource, jobs run by the workers,
/// the audit log; Prometheus finds the target up and the counts the load made, and
/// `promtool check metrics` finds nothing to say about the exposition.
#[test]
fn sqlite_metrics_scraped_by_prometheus() {
    let (Some(prometheus), Some(promtool)) = (
        Some("/usr/bin/prometheus").filter(|p| Path::new(p).is_file()),
        Some("/usr/bin/promtool").filter(|p| Path::new(p).is_file()),
    ) else {
        missing("Prometheus (Debian's package `prometheus`)");
        return;
    };
    let site = sqlite_site();
    let url = sqlite_url("metrics");
    let audit = [("MANGO_MIDDLEWARE", r#"["mango.audit"]"#)];
    let (code, _, err) = outcome(with_db(site, &url, &["migrate"]).envs(audit));
    assert_eq!(code, 0, "{err}");
    let mut env = vec![
        ("MANGO_DATABASE__URL", url.as_str()),
        ("MANGO_METRICS__ENABLED", "true"),
        ("MANGO_METRICS__PORT", "0"),
    ];
    env.extend(audit);
    env.extend(QUICK_JOBS);
    let server = site.serve_http_with_env(&["--stateless"], &env);
    let log = server.log.lock().unwrap().clone();
    let metrics = log
        .split("metrics for Prometheus at http://")
        .nth(1)
        .and_then(|rest| rest.split("/metrics").next())
        .unwrap_or_else(|| panic!("no metrics address in the log:\n{log}"))
        .to_owned();

    // Prometheus, on loopback, scraping every second.
    let dir = scratch("metrics-prometheus");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: mango\n    static_configs:\n      - targets: ['{metrics}']\n"
        ),
    )
    .unwrap();
    let child = Command::new(prometheus)
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .unwrap();
    let _prometheus = KillOnDrop(child);
    let prom = format!("127.0.0.1:{port}");
    let query = |q: &str| -> Vec<Value> {
        let encoded: String = q
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, _, body) = http_get(&prom, &format!("/api/v1/query?query={encoded}"));
        if status != 200 {
            return Vec::new();
        }
        serde_json::from_str::<Value>(&body).unwrap()["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let value = |q: &str| -> Option<f64> {
        query(q)
            .first()
            .and_then(|r| r["value"][1].as_str().and_then(|v| v.parse().ok()))
    };
    let wait_for = |what: &str, ok: &dyn Fn() -> bool| {
        let started = std::time::Instant::now();
        while !ok() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "Prometheus never saw {what}:\n{}",
                std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    };
    wait_for("the target up", &|| {
        std::net::TcpStream::connect(&prom).is_ok() && value("up{job=\"mango\"}") == Some(1.0)
    });

    // The load: 30 inserts, 5 that fail, a resource read 4 times, 3 jobs (one fails
    // on purpose, and once more on its retry).
    let auth = server.authority();
    let post = |body: Value| {
        let (status, _, body) = http_post(&auth, "/mcp", JSON_HEADERS, &body.to_string());
        assert_eq!(status, 200, "{body}");
    };
    let call = |tool: &str, args: Value| {
        post(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args}}),
        );
    };
    for i in 0..30 {
        call("ledger_insert", json!({"label": format!("m{i}")}));
    }
    for i in 0..5 {
        call("ledger_insert_then_fail", json!({"label": format!("f{i}")}));
    }
    for _ in 0..4 {
        post(
            json!({"jsonrpc": "2.0", "id": 2, "method": "resources/read", "params": {"uri": "ledger://count"}}),
        );
    }
    for (label, job) in [("j1", "file"), ("j2", "file"), ("j3", "file_fail")] {
        call("ledger_enqueue", json!({"label": label, "job": job}));
    }

    let calls = |name: &str, outcome: &str| {
        value(&format!(
            "mango_calls_total{{kind=~\".+\",name=\"{name}\",outcome=\"{outcome}\"}}"
        ))
    };
    wait_for("the load's calls", &|| {
        calls("ledger_insert", "ok") == Some(30.0)
            && calls("ledger_insert_then_fail", "error") == Some(5.0)
            && calls("row_count", "ok") == Some(4.0)
            && calls("file_entry", "ok") == Some(2.0)
            && calls("file_entry", "error") == Some(2.0)
            && value("mango_jobs{status=\"failed\"}") == Some(1.0)
    });
    assert_eq!(calls("ledger_insert", "error"), Some(0.0));
    // The histogram: every insert within 10 s, the sum positive.
    assert_eq!(
        value("mango_call_duration_seconds_bucket{name=\"ledger_insert\",le=\"10\"}"),
        Some(30.0)
    );
    assert!(value("mango_call_duration_seconds_sum{name=\"ledger_insert\"}").unwrap() > 0.0);
    assert_eq!(value("mango_calls_in_flight"), Some(0.0));
    assert!(value("mango_db_connections_max").unwrap() >= 1.0);
    assert_eq!(value("mango_db_connections_waiting"), Some(0.0));
    assert!(value("mango_audit_queue_rows").is_some());
    assert_eq!(value("mango_jobs{status=\"completed\"}"), Some(2.0));
    assert!(query("mango_tasks").is_empty() || value("mango_tasks").is_some());
    assert_eq!(value("mango_build_info{project=\"dbsite\"}"), Some(1.0));
    assert!(value("process_resident_memory_bytes").unwrap() > 1e6);
    // Bounded labels: one series per item and outcome, whatever the arguments were.
    assert_eq!(
        query("mango_calls_total{name=\"ledger_insert\"}").len(),
        2,
        "{:?}",
        query("mango_calls_total{name=\"ledger_insert\"}")
    );

    // The exposition itself, as Prometheus' own linter reads it.
    let (status, head, text) = http_get(&metrics, "/metrics");
    assert_eq!(status, 200);
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let mut lint = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    lint.stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let lint = lint.wait_with_output().unwrap();
    assert!(
        lint.status.success(),
        "promtool check metrics:\n{}{}\n{text}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    // Anything else on that port: 404.
    assert_eq!(http_get(&metrics, "/").0, 404);
}

/// A child process killed (and reaped) when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
