//! The admin in a real browser: a real project (the `shop` fixture app, `mango.audit`)
//! served over HTTP, and Debian's headless Chromium driven by playwright-core
//! (`tests/e2e/admin.mjs`): log in (a wrong password refused), the apps, a tool's form
//! filled and submitted (an invalid value shown, nothing called), failed and panicking
//! calls, an image, a resource template and a prompt, the calls log (filtered, live),
//! a table's rows, a model's pages (list searched, filtered, sorted, paged; add with
//! errors on their fields, edit, delete confirmed; each write an audit row naming the
//! admin), forms without their CSRF token or too large refused, HTML escaped
//! everywhere; users of the database (a user who is not staff refused, a staff user
//! without the Users page, a superuser making a token shown once and revoking it). Its
//! screenshots go to docs/admin/.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::Stdio;

use mango_tests::*;
use serde_json::json;

fn shop_site() -> Site {
    let name = "adminsite";
    let parent = scratch(name);
    mango_ok(&parent, &["startproject", name]);
    let dir = parent.join(name);
    mango_ok(&dir, &["startapp", "shop"]);
    let fixtures = root().join("tests").join("e2e").join("fixtures");
    let app = dir.join("apps").join("shop");
    std::fs::copy(fixtures.join("shop.rs"), app.join("src/lib.rs")).unwrap();
    std::fs::remove_file(app.join("src/schema.rs")).unwrap();
    std::fs::remove_dir_all(app.join("migrations")).unwrap();
    copy_dir(
        &fixtures.join("shop").join("sqlite"),
        &app.join("migrations"),
    );
    let settings = dir.join("Mango.toml");
    let text = std::fs::read_to_string(&settings).unwrap();
    assert!(text.contains("[default.admin]\n"), "{text}");
    std::fs::write(
        &settings,
        text.replacen(
            "[default]\n",
            "[default]\nmiddleware = [\"mango.audit\"]\n",
            1,
        ),
    )
    .unwrap();
    build_site(dir, name)
}

/// `cmd`, fed `line` on stdin, succeeding: its stdout.
fn fed(cmd: &mut std::process::Command, line: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{line}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `cargo mango run adminpassword`, fed the password on stdin: the variable's value.
fn password_hash(site: &Site, password: &str) -> String {
    let line = fed(&mut site.command(&["run", "adminpassword"]), password);
    let value = line
        .trim()
        .strip_prefix("MANGO_ADMIN__PASSWORD_HASH='")
        .and_then(|v| v.strip_suffix('\''))
        .unwrap_or_else(|| panic!("not the variable's line: {line}"));
    assert!(value.starts_with("$argon2id$"), "{value}");
    value.to_owned()
}

#[test]
fn the_admin_in_a_real_browser() {
    let Some(node) = node_tools() else {
        missing("node and the npm test tools (scripts/node-tools.sh)");
        return;
    };
    let playwright = node
        .parent()
        .and_then(Path::parent)
        .map(|modules| modules.join("playwright-core").join("package.json"));
    if !playwright.is_some_and(|p| p.is_file()) {
        missing("playwright-core (scripts/node-tools.sh)");
        return;
    }
    let chromium =
        std::env::var("MANGO_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).is_file() {
        missing("Debian's Chromium (apt-get install chromium)");
        return;
    }
    let site = shop_site();
    // A short password is refused by the command.
    let (code, _, err) = outcome(site.command(&["run", "adminpassword"]).stdin(Stdio::null()));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("shorter than 8 characters"), "{err}");
    let password = "correct horse battery staple";
    let hash = password_hash(&site, password);

    // Users of the database ([auth] users): a superuser, a staff user, a user.
    let users = ("MANGO_AUTH__USERS", "true");
    success(site.command(&["migrate"]).env(users.0, users.1));
    for (args, password) in [
        (
            &[
                "run",
                "createuser",
                "staffer",
                "--staff",
                "--password-stdin",
            ][..],
            "staff password",
        ),
        (
            &["run", "createuser", "plain", "--password-stdin"][..],
            "plain password",
        ),
        (
            &["run", "createsuperuser", "--username", "boss"][..],
            "boss password",
        ),
    ] {
        fed(site.command(args).env(users.0, users.1), password);
    }
    // Jobs for the Jobs page: one that fails at once, one due in an hour.
    for args in [
        r#"{"product": "pears", "fail": true, "delay_secs": 0}"#,
        r#"{"product": "quinces", "fail": false, "delay_secs": 3600}"#,
    ] {
        success(&mut site.command(&["run", "call", "shop_restock_later", args]));
    }
    let server = site.serve_http_with_env(
        &["--migrate"],
        &[("MANGO_ADMIN__PASSWORD_HASH", hash.as_str()), users],
    );
    let admin = format!("http://{}/admin", server.authority());
    // Tasks for the Tasks page: one counting for a minute, one done at once.
    for (shelves, millis) in [(600, 100), (1, 1)] {
        let started = start_task(
            &server.authority(),
            "shop_stocktake",
            json!({"shelves": shelves, "millis": millis}),
        );
        assert_eq!(started["result"]["resultType"], "task", "{started}");
    }
    let shots = root().join("docs").join("admin");
    std::fs::create_dir_all(&shots).unwrap();
    let out = std::process::Command::new(&node)
        .arg(root().join("tests").join("e2e").join("admin.mjs"))
        .env("ADMIN_URL", &admin)
        .env("ADMIN_PASSWORD", password)
        .env("SCREENSHOTS", &shots)
        .env("CHROMIUM", &chromium)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}\nthe server's log:\n{}",
        server.log.lock().unwrap()
    );
    println!("{stdout}");
    // The one-time login link was printed (development profile, loopback) …
    let log = server.log.lock().unwrap().clone();
    let link = log
        .lines()
        .find_map(|l| l.split("it works once): ").nth(1))
        .unwrap_or_else(|| panic!("no login link in the log:\n{log}"))
        .trim()
        .to_owned();
    assert!(link.starts_with(&format!("{admin}/login?once=")), "{link}");
    // … and it works once.
    let path = link.trim_start_matches(&format!("http://{}", server.authority()));
    let (status, head, _) = http_get(&server.authority(), path);
    assert_eq!(status, 303, "{head}");
    assert!(
        head.to_lowercase().contains("set-cookie: mango_admin="),
        "{head}"
    );
    let (status, _, body) = http_get(&server.authority(), path);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("used already"), "{body}");

    // The admin's calls are in the log as the admin's, over the admin.
    let rows = success(&mut site.command(&["run", "audit", "--json", "--limit", "100"]));
    let rows: serde_json::Value = serde_json::from_str(&rows).unwrap();
    let rows = rows.as_array().unwrap();
    let model = |r: &&serde_json::Value| {
        r["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("shop_product_"))
            || r["kind"] == "admin"
    };
    // The Users page's writes, each a row naming the superuser who made them.
    let by_boss: Vec<&str> = rows
        .iter()
        .filter(|r| r["kind"] == "admin")
        .map(|r| {
            assert_eq!(r["caller"], "boss", "{r}");
            assert!(!r["arguments"].to_string().contains("mango_"), "{r}");
            r["name"].as_str().unwrap_or_default()
        })
        .collect();
    assert_eq!(
        by_boss,
        [
            "tasks cancel",
            "jobs retry",
            "jobs cancel",
            "revoketoken",
            "createtoken"
        ],
        "{rows:?}"
    );
    // The task cancelled from the Tasks page: its run's row says so.
    let stopped: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["name"] == "shop_stocktake" && r["outcome"] == "cancelled")
        .collect();
    assert_eq!(stopped.len(), 1, "{rows:?}");
    assert!(
        stopped[0]["error"]
            .as_str()
            .unwrap()
            .contains("rolled back"),
        "{rows:?}"
    );
    // The job's two runs (the first, and the one after the retry), as the worker's,
    // each failed with the job's error.
    let runs: Vec<&serde_json::Value> = rows.iter().filter(|r| r["kind"] == "job").collect();
    assert_eq!(runs.len(), 2, "{rows:?}");
    assert!(
        runs.iter().all(|r| r["transport"] == "worker"
            && r["name"] == "restock"
            && r["error"] == "the supplier has no pears"),
        "{runs:?}"
    );
    // The calls, besides: the two `run call`s that enqueued the jobs, the job's two
    // runs, and the two tasks' runs.
    assert_eq!(
        rows.iter().filter(|r| !model(r)).count(),
        8 + 2 + 2 + 2,
        "{rows:?}"
    );
    // The model pages' writes, each an audit row: two refused creates (clean, unique),
    // one create, one update, one delete.
    let writes = |name: &str, outcome: &str| {
        rows.iter()
            .filter(|r| r["name"] == name && r["outcome"] == outcome)
            .count()
    };
    assert_eq!(writes("shop_product_create", "ok"), 1, "{rows:?}");
    assert_eq!(writes("shop_product_create", "tool_error"), 2, "{rows:?}");
    assert_eq!(writes("shop_product_update", "ok"), 1, "{rows:?}");
    assert_eq!(writes("shop_product_delete", "ok"), 1, "{rows:?}");
    assert!(
        rows.iter()
            .filter(|r| r["kind"] != "admin"
                && r["kind"] != "job"
                && r["transport"] != "in-process"
                && r["name"] != "shop_stocktake")
            .all(|r| r["caller"] == "admin" && r["transport"] == "admin"),
        "{rows:?}"
    );
}

/// A call of `tool` as a task (2026-07-28, the tasks extension declared); the answer.
fn start_task(authority: &str, tool: &str, arguments: serde_json::Value) -> serde_json::Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": tool,
        "arguments": arguments,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "admin-test", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {
                "extensions": {"io.modelcontextprotocol/tasks": {}},
            },
        },
    }})
    .to_string();
    let mut headers = JSON_HEADERS.to_vec();
    headers.extend([
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", tool),
    ]);
    let (status, head, body) = http_post(authority, "/mcp", &headers, &body);
    reply_in(&body, 1).unwrap_or_else(|| panic!("{tool}: no answer ({status}): {head}\n{body}"))
}
