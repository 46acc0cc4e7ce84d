//! End to end: a project scaffolded by `cargo mango` from this checkout, built, served
//! over stdio and Streamable HTTP, and driven by the official MCP Python SDK.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mango_tests::*;
use serde_json::{Value, json};

#[test]
fn stdio_with_the_python_sdk() {
    let site = Site::get();
    let Some(python) = python() else {
        return missing("the MCP Python SDK (pip install mcp)");
    };
    let binary = site.binary.to_str().unwrap();
    for mode in [&["stdio"][..], &["--legacy", "stdio"][..]] {
        let mut args = mode.to_vec();
        args.extend([binary, "serve", "--transport", "stdio", "--settings"]);
        let settings = site.dir.join("Mango.toml");
        args.push(settings.to_str().unwrap());
        let out = python_client(&python, &args);
        assert!(out.contains("\"ok\": true"), "{out}");
        assert!(out.contains("\"tools\": 8"), "{out}");
    }
}

#[test]
fn http_sessions_and_stateless_with_the_python_sdk() {
    let site = Site::get();
    let Some(python) = python() else {
        return missing("the MCP Python SDK (pip install mcp)");
    };
    for extra in [&[][..], &["--stateless"][..]] {
        let server = site.serve_http(extra);
        // --legacy: a 2025 protocol, so a session when the server keeps them; then the
        // newest protocol.
        for mode in [&["--legacy", "http"][..], &["http"][..]] {
            let mut args = mode.to_vec();
            args.push(&server.url);
            let out = python_client(&python, &args);
            assert!(out.contains("\"ok\": true"), "{extra:?} {mode:?}: {out}");
        }
    }
}

#[test]
fn stdio_answers_what_rmcp_alone_would_not() {
    let site = Site::get();
    let mut child = site
        .command(&["serve", "--transport", "stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut send = |line: &str| writeln!(stdin, "{line}").unwrap();
    // A notification before initialize: rmcp 3.11 alone exits here.
    send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    send(INITIALIZE);
    let reply: Value = serde_json::from_str(&stdout.next().unwrap().unwrap()).unwrap();
    assert_eq!(reply["id"], 1, "{reply}");
    assert_eq!(reply["result"]["serverInfo"]["name"], "e2esite");
    send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    // params that are not an object: answered, with the request's id.
    send(r#"{"jsonrpc":"2.0","id":"x-7","method":"tools/call","params":[1,2]}"#);
    let reply: Value = serde_json::from_str(&stdout.next().unwrap().unwrap()).unwrap();
    assert_eq!(
        (reply["id"].clone(), reply["error"]["code"].clone()),
        (Value::from("x-7"), Value::from(-32602)),
        "{reply}"
    );
    // An id beyond 64 bits: refused with a null id, never answered with another id.
    send(r#"{"jsonrpc":"2.0","id":18446744073709551617,"method":"tools/list"}"#);
    let line = stdout.next().unwrap().unwrap();
    let reply: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (reply["id"].clone(), reply["error"]["code"].clone()),
        (Value::Null, Value::from(-32600)),
        "{line}"
    );
    // Not JSON at all: a parse error, and the server goes on.
    send("this is not json");
    let reply: Value = serde_json::from_str(&stdout.next().unwrap().unwrap()).unwrap();
    assert_eq!(reply["error"]["code"], -32700, "{reply}");
    send(
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"calc_add","arguments":{"a":1,"b":2}}}"#,
    );
    let reply: Value = serde_json::from_str(&stdout.next().unwrap().unwrap()).unwrap();
    assert_eq!(reply["result"]["structuredContent"]["result"], 3, "{reply}");
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "closing stdin should stop the server cleanly: {status}"
    );
}

#[test]
fn deleting_a_session_that_does_not_exist_is_404() {
    let site = Site::get();
    let server = site.serve_http(&[]);
    let auth = server.authority();
    let (status, head, body) = http_post(&auth, "/mcp", JSON_HEADERS, INITIALIZE);
    assert_eq!(status, 200, "{head}\n{body}");
    let session = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("mcp-session-id")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no session id: {head}"));
    let (status, body) = http_delete(&auth, "/mcp", &session);
    assert_eq!(status, 204, "{body}");
    // Ended: 404, as is an id the server never made.
    let (status, body) = http_delete(&auth, "/mcp", &session);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no session has the id"), "{body}");
    let (status, _) = http_delete(&auth, "/mcp", "made-up");
    assert_eq!(status, 404);
}

#[test]
fn http_refusals_are_json_rpc_errors() {
    let site = Site::get();
    let server = site.serve_http(&["--stateless"]);
    let auth = server.authority();
    // Two `Host` headers (an allowed one first), or two `Origin` headers: 400.
    let list = r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#;
    for twins in [
        [("Host", auth.as_str()), ("Host", "evil.example")],
        [
            ("Origin", "http://127.0.0.1"),
            ("Origin", "http://evil.example"),
        ],
    ] {
        let mut headers = JSON_HEADERS.to_vec();
        if twins[0].0 == "Origin" {
            headers.push(("Host", &auth));
        }
        headers.extend(twins);
        let (status, _, body) = http_post(&auth, "/mcp", &headers, list);
        assert_eq!(status, 400, "{twins:?}: {body}");
        assert!(body.contains("more than one"), "{body}");
    }
    // A body that is not JSON: 400 with a JSON-RPC parse error (rmcp alone: plain-text 415).
    let (status, head, body) = http_post(&auth, "/mcp", JSON_HEADERS, "{oops");
    assert_eq!(status, 400, "{head}\n{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], -32700);
    // params that are not an object: the error carries the id.
    let (status, _, body) = http_post(
        &auth,
        "/mcp",
        JSON_HEADERS,
        r#"{"jsonrpc":"2.0","id":5,"method":"tools/list","params":"x"}"#,
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status, body["id"].clone(), body["error"]["code"].clone()),
        (400, Value::from(5), Value::from(-32602)),
        "{body}"
    );
    // An id beyond 64 bits: refused with a null id.
    let (_, _, body) = http_post(
        &auth,
        "/mcp",
        JSON_HEADERS,
        r#"{"jsonrpc":"2.0","id":18446744073709551617,"method":"tools/list"}"#,
    );
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (answer["id"].clone(), answer["error"]["code"].clone()),
        (Value::Null, Value::from(-32600)),
        "{body}"
    );
    // A foreign Origin: 403 (rmcp alone accepts it).
    let mut headers = JSON_HEADERS.to_vec();
    headers.push(("Origin", "http://evil.example"));
    let (status, _, body) = http_post(&auth, "/mcp", &headers, INITIALIZE);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Origin"), "{body}");
    // A local Origin is fine.
    let mut headers = JSON_HEADERS.to_vec();
    headers.push(("Origin", "http://localhost:6274"));
    let (status, _, body) = http_post(&auth, "/mcp", &headers, INITIALIZE);
    assert_eq!(status, 200, "{body}");
    // A foreign Host (DNS rebinding): 403.
    let mut headers = JSON_HEADERS.to_vec();
    headers.push(("Host", "evil.example"));
    let (status, _, _) = http_post(&auth, "/mcp", &headers, INITIALIZE);
    assert_eq!(status, 403);
    // And the server still serves.
    let (status, _, body) = http_post(
        &auth,
        "/mcp",
        JSON_HEADERS,
        r#"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"calc_add","arguments":{"a":2,"b":2}}}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#""structuredContent":{"result":4}"#),
        "{body}"
    );
}

#[test]
fn sigterm_finishes_calls_in_flight_then_exits_zero() {
    let site = Site::get();
    let mut server = site.serve_http_with_env(&["--stateless"], &[("MANGO_LOG", REQUEST_LOG)]);
    let auth = server.authority();
    let call = std::thread::spawn(move || {
        http_post(
            &auth,
            "/mcp",
            JSON_HEADERS,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"calc_slow","arguments":{"millis":800}}}"#,
        )
    });
    wait_for_log(
        &server.log,
        "name: \"calc_slow\"",
        1,
        Duration::from_secs(20),
    );
    let status = server.terminate();
    let (code, _, body) = call.join().unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("slept 800 ms"),
        "the call in flight was cut: {body}"
    );
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        server.log.lock().unwrap()
    );
}

#[test]
fn startup_reports_bad_settings_with_file_and_key() {
    let site = Site::get();
    let dir = scratch("bad-settings");
    let write = |text: &str| {
        let path = dir.join("Mango.toml");
        std::fs::write(&path, text).unwrap();
        path
    };
    let cases = [
        ("[default.server]\nprot = 80\n", "default.server.prot"),
        (
            "[default.server]\nport = \"eighty\"\n",
            "default.server.port",
        ),
        (
            "[default.apps.calc]\nfactor = \"ten\"\n",
            "default.apps.calc.factor",
        ),
        ("[default.apps.calc]\n", "missing field `factor`"),
        (
            "[default.apps.calc]\nfactor = 1\n[default.apps.nope]\nx = 1\n",
            "no installed app is named `nope`",
        ),
    ];
    for (text, expected) in cases {
        let path = write(text);
        let out = site
            .command(&["apps", "--settings", path.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text}: {stderr}");
        assert!(
            stderr.contains("Mango.toml") && stderr.contains(expected),
            "{text}: {stderr}"
        );
    }
    let out = site
        .command(&[
            "apps",
            "--settings",
            dir.join("nothing.toml").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no settings file"));
    // An environment override is checked the same way.
    let out = site
        .command(&["apps"])
        .env("MANGO_SERVER__PORT", "-1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("MANGO_SERVER__PORT"), "{stderr}");
}

#[test]
fn two_tools_with_one_name_stop_the_server_naming_both() {
    let site = Site::scaffold("clashsite", ["alpha", "beta"], |dir| {
        // beta gets the prefix `alpha` and a tool `add`: `alpha_add` twice.
        let manifest = dir.join("apps/beta/Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(
            &manifest,
            text.replace("prefix = \"\"", "prefix = \"alpha\""),
        )
        .unwrap();
        let lib = dir.join("apps/beta/src/lib.rs");
        let mut text = std::fs::read_to_string(&lib).unwrap();
        text.push_str("\n/// Clashes with calc's add.\n#[tool]\nasync fn add() -> String {\n    String::new()\n}\n");
        std::fs::write(&lib, text).unwrap();
    });
    let out = site
        .command(&["serve", "--transport", "stdio"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("two tools are exposed as `alpha_add`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("apps/alpha/src/lib.rs:") && stderr.contains("apps/beta/src/lib.rs:"),
        "{stderr}"
    );
}

#[test]
fn editing_one_tool_rebuilds_that_app_and_relinks_only() {
    let site = Site::scaffold("editsite", ["gamma", "delta"], |_| {});
    let lib = site.dir.join("apps/delta/src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    // Cargo compares modification times: the edit's is past the build's.
    write_newer(
        &lib,
        &text.replace("format!(\"Hello, {name}!\")", "format!(\"Hi, {name}!\")"),
    );
    let started = Instant::now();
    let out = mango_ok(&site.dir, &["apps"]);
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let compiled: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Compiling "))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(compiled, ["delta", "editsite"], "{stderr}");
    eprintln!("rebuild after editing one tool: {elapsed:?}");
}

#[test]
fn an_oversized_body_gets_413_and_a_json_rpc_error() {
    let site = Site::get();
    let server = site.serve_http_with_env(
        &["--stateless"],
        &[("MANGO_SERVER__MAX_REQUEST_BYTES", "2000")],
    );
    let padding = "x".repeat(4000);
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"notes_hello","arguments":{{"name":"{padding}"}}}}}}"#
    );
    let (status, _, body) = http_post(&server.authority(), "/mcp", JSON_HEADERS, &body);
    assert_eq!(status, 413, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_request_bytes"),
        "{body}"
    );
    // A normal request still works.
    let (status, _, _) = http_post(&server.authority(), "/mcp", JSON_HEADERS, INITIALIZE);
    assert_eq!(status, 200);
}

/// `[server] page_size` cuts the lists into pages that the cursors walk through, in
/// order; a cursor the server did not give is -32602.
#[test]
fn lists_come_in_pages_with_cursors() {
    let site = Site::get();
    let server = site.serve_http_with_env(&["--stateless"], &[("MANGO_SERVER__PAGE_SIZE", "3")]);
    let auth = server.authority();
    let list = |method: &str, cursor: Option<&str>| -> Value {
        let params = match cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let (status, _, body) = http_post(&auth, "/mcp", JSON_HEADERS, &body.to_string());
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let mut names = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let reply = list("tools/list", cursor.as_deref());
        let tools = reply["result"]["tools"].as_array().unwrap().clone();
        assert!(tools.len() <= 3, "{reply}");
        names.extend(tools.iter().map(|t| t["name"].as_str().unwrap().to_owned()));
        pages += 1;
        match reply["result"]["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "pages keep the order");
    assert_eq!((names.len(), pages), (8, 3), "{names:?}");
    let reply = list("tools/list", Some("not-a-cursor"));
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid cursor"),
        "{reply}"
    );
    let reply = list("resources/templates/list", None);
    assert_eq!(
        reply["result"]["resourceTemplates"][0]["uriTemplate"], "notes://{number}",
        "{reply}"
    );
    assert!(
        reply["result"].get("nextCursor").is_none(),
        "one page: {reply}"
    );
}

/// Resources, templates and prompts are everywhere a user looks: `apps`, the built-in
/// `items` (as JSON) and `call --resource` / `call --prompt`.
#[test]
fn apps_items_and_call_show_resources_and_prompts() {
    let site = Site::get();
    let run = |args: &[&str]| success(&mut site.command(args));
    let apps = run(&["apps"]);
    assert!(
        apps.contains("notes (no prefix, 3 tools, 1 resource, 1 template, 1 prompt)")
            && apps.contains("resource  notes://welcome")
            && apps.contains("template  notes://{number}")
            && apps.contains("prompt    write_note"),
        "{apps}"
    );
    // `serve` says what it serves, every kind counted.
    let server = site.serve_http(&[]);
    wait_for_log(
        &server.log,
        "notes: 3 tools, 1 resource, 1 template, 1 prompt",
        1,
        Duration::from_secs(10),
    );
    drop(server);
    let items: Value = serde_json::from_str(&run(&["run", "items"])).unwrap();
    assert_eq!(items["tools"].as_array().map(Vec::len), Some(8), "{items}");
    assert_eq!(items["resources"][0]["uri"], "notes://welcome", "{items}");
    assert_eq!(
        items["resourceTemplates"][0]["uriTemplate"], "notes://{number}",
        "{items}"
    );
    assert_eq!(
        items["prompts"][0]["arguments"][0]["name"], "topic",
        "{items}"
    );
    let read: Value =
        serde_json::from_str(&run(&["run", "call", "--resource", "notes://7"])).unwrap();
    assert_eq!(read["contents"][0]["text"], "note 7", "{read}");
    let got: Value = serde_json::from_str(&run(&[
        "run",
        "call",
        "--prompt",
        "write_note",
        r#"{"topic": "tea"}"#,
    ]))
    .unwrap();
    assert_eq!(
        got["messages"][0]["content"]["text"], "Write a note about tea in at most 50 words.",
        "{got}"
    );
    let (code, _, err) = outcome(&mut site.command(&["run", "call", "--resource", "notes://x"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("error -32602") && err.contains("invalid value `x` for `number`"),
        "{err}"
    );
}

/// A project with 1,000 tools and `[server] page_size = 100`: the MCP Python SDK pages
/// through them with the cursors, over stdio and HTTP (sessions and stateless), in both
/// protocol eras, and an invalid cursor is -32602.
#[test]
fn a_thousand_tools_page_by_page_with_the_python_sdk() {
    let Some(python) = python() else {
        return missing("the MCP Python SDK");
    };
    let parent = scratch("pagesite");
    mango_ok(&parent, &["startproject", "pagesite"]);
    let dir = parent.join("pagesite");
    mango_ok(&dir, &["startapp", "many"]);
    let app = dir.join("apps/many");
    let mut source = String::from("//! 1,000 tools.\n\nuse mango_rt::tool;\n");
    for i in 0..1000 {
        source.push_str(&format!(
            "\n/// Tool {i}.\n#[tool(read_only)]\nasync fn t{i:04}() -> String {{\n    \"{i}\".into()\n}}\n"
        ));
    }
    std::fs::write(app.join("src/lib.rs"), source).unwrap();
    std::fs::remove_file(app.join("src/schema.rs")).unwrap();
    std::fs::remove_dir_all(app.join("migrations")).unwrap();
    let path = dir.join("Mango.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("[default.server]\n"), "{text}");
    let text = text.replace("[default.server]\n", "[default.server]\npage_size = 100\n");
    std::fs::write(&path, text).unwrap();
    let site = build_site(dir, "pagesite");
    let binary = site.binary.to_str().unwrap().to_owned();
    let settings = site.dir.join("Mango.toml");
    let settings = settings.to_str().unwrap();
    for mode in [&[][..], &["--legacy"][..]] {
        let mut args = mode.to_vec();
        args.extend([
            "--pages",
            "1000",
            "stdio",
            &binary,
            "serve",
            "--transport",
            "stdio",
        ]);
        args.extend(["--settings", settings]);
        let out = python_client(&python, &args);
        assert!(
            out.contains("\"tools\": 1000") && out.contains("\"pages\": 10"),
            "{out}"
        );
        for extra in [&[][..], &["--stateless"][..]] {
            let server = site.serve_http(extra);
            let mut args = mode.to_vec();
            args.extend(["--pages", "1000", "http", &server.url]);
            let out = python_client(&python, &args);
            assert!(out.contains("\"pages\": 10"), "{out}");
        }
    }
}

/// A client that sends half a request's headers and waits is closed after `[server]
/// header_timeout`; more such connections than `[server] max_connections` close the
/// oldest of them (logged), and `/healthz` and `initialize` are answered meanwhile.
#[test]
fn half_sent_headers_time_out_and_the_connection_cap_keeps_the_server_reachable() {
    use std::io::Read;
    let site = Site::get();
    let server = site.serve_http_with_env(
        &["--stateless"],
        &[
            ("MANGO_SERVER__MAX_CONNECTIONS", "16"),
            ("MANGO_SERVER__HEADER_TIMEOUT", "1"),
        ],
    );
    let auth = server.authority();
    let half = |auth: &str| {
        let mut s = std::net::TcpStream::connect(auth).unwrap();
        s.write_all(format!("POST /mcp HTTP/1.1\r\nHost: {auth}\r\nContent-Type: app").as_bytes())
            .unwrap();
        s
    };
    // One alone: closed once its headers are late.
    let mut slow = half(&auth);
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "a half-sent request was closed after {waited:?}, not after the 1 s header timeout"
    );
    // Forty held at once, against a cap of 16: the server stays reachable.
    let held: Vec<_> = (0..40).map(|_| half(&auth)).collect();
    let (status, _, body) = http_get(&auth, "/healthz");
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = http_post(&auth, "/mcp", JSON_HEADERS, INITIALIZE);
    assert_eq!(status, 200, "{body}");
    wait_for_log(
        &server.log,
        "the HTTP connection cap is reached",
        1,
        Duration::from_secs(10),
    );
    drop(held);
}

/// `[server] max_sessions` refuses an `initialize` past it with 503 and says why; a
/// burst of 10,000 sessions that then expire (`[server] session_idle_timeout`) gives its
/// memory back: the server's RSS ends within 80 MiB of where it started (measured here:
/// 22 MiB, 606 at the peak, 67 after).
#[test]
fn sessions_are_capped_and_a_burst_of_them_gives_its_memory_back() {
    let site = Site::get();
    let capped = site.serve_http_with_env(&[], &[("MANGO_SERVER__MAX_SESSIONS", "3")]);
    let auth = capped.authority();
    for _ in 0..3 {
        let (status, _, body) = http_post(&auth, "/mcp", JSON_HEADERS, INITIALIZE);
        assert_eq!(status, 200, "{body}");
    }
    let (status, head, body) = http_post(&auth, "/mcp", JSON_HEADERS, INITIALIZE);
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("maximum of 3 sessions open ([server] max_sessions)"),
        "{body}"
    );
    assert!(head.to_lowercase().contains("retry-after"), "{head}");
    wait_for_log(
        &capped.log,
        "refused a new session",
        1,
        Duration::from_secs(10),
    );
    drop(capped);

    let server = site.serve_http_with_env(
        &[],
        &[
            ("MANGO_SERVER__MAX_SESSIONS", "20000"),
            ("MANGO_SERVER__SESSION_IDLE_TIMEOUT", "2"),
        ],
    );
    let (auth, pid) = (server.authority(), server.child.id());
    let before = rss_mib(pid);
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let auth = auth.clone();
            std::thread::spawn(move || {
                for _ in 0..1250 {
                    let (status, _, body) = http_post(&auth, "/mcp", JSON_HEADERS, INITIALIZE);
                    assert_eq!(status, 200, "{body}");
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let peak = rss_mib(pid);
    let started = Instant::now();
    let after = loop {
        let now = rss_mib(pid);
        if now <= before + 80 || started.elapsed() > Duration::from_secs(20) {
            break now;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!(
        "10,000 sessions: RSS {before} MiB before, {peak} at the peak, {after} once they expired"
    );
    assert!(
        after <= before + 80,
        "the sessions' memory stayed: {before} MiB before, {peak} at the peak, {after} 20 s after they expired"
    );
}

/// Start-up errors name their real cause: a host that is not this machine's, a SQLite file the system will not open (with the
/// system's reason), and a profile given on the command line.
#[test]
fn start_up_errors_name_their_real_cause() {
    let site = Site::get();
    let dir = scratch("start-up-errors");
    let url = format!("sqlite://{}", dir.join("db.sqlite3").display());
    let fails = |cmd: &mut std::process::Command| {
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = fails(
        site.command(&[
            "serve",
            "--transport",
            "http",
            "--host",
            "no-such-host.invalid",
        ])
        .env("MANGO_DATABASE__URL", &url),
    );
    assert!(
        err.contains("is the host a name or address of this machine")
            && !err.contains("another server"),
        "{err}"
    );
    for (bad, reason) in [
        ("sqlite:///no-such-folder-mango/x/db.sqlite3", "os error 2"),
        ("sqlite:///tmp", "os error 21"),
    ] {
        let err = fails(site.command(&["migrate"]).env("MANGO_DATABASE__URL", bad));
        assert!(err.contains(reason), "{bad}: {err}");
    }
    let err = fails(&mut site.command(&["--profile", "prdo", "apps"]));
    assert!(err.contains("chosen by --profile"), "{err}");
    let err = fails(site.command(&["apps"]).env("MANGO_PROFILE", "prdo"));
    assert!(err.contains("chosen by MANGO_PROFILE"), "{err}");
}
