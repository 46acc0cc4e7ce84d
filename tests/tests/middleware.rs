//! Middleware end to end: the order of both phases, short-circuits, changed arguments,
//! extensions, rollbacks, panics and tools/list filtering, over stdio and HTTP; and the
//! built-in auth, rate limit and timeout.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::OnceLock;

use mango_tests::*;
use serde_json::{Value, json};

const CHAIN: &str = r#"["mwledger.outer", "mwledger.inner", "mwledger.bomb", "mango.timing"]"#;

fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        shared_site("mwsite", || {
            db_site("mwsite", "sqlite", "mwledger", false, |dir| {
                let lib = dir.join("apps/mwledger/src/lib.rs");
                let mut text = std::fs::read_to_string(&lib).unwrap();
                text.push_str(
                    &std::fs::read_to_string(root().join("tests/e2e/fixtures/middleware.rs"))
                        .unwrap(),
                );
                std::fs::write(&lib, text).unwrap();
            })
        })
    })
}

fn db_url(name: &str) -> String {
    format!(
        "sqlite://{}",
        scratch(&format!("mw-{name}")).join("db.sqlite3").display()
    )
}

/// Calls over stdio or HTTP, the same way.
enum Client {
    Stdio(StdioClient),
    Http(Server),
}

impl Client {
    fn stdio(env: &[(&str, &str)]) -> Client {
        let mut cmd = site().command(&["serve", "--transport", "stdio", "--migrate"]);
        cmd.envs(env.iter().copied());
        Client::Stdio(StdioClient::start(cmd))
    }

    fn http(env: &[(&str, &str)]) -> Client {
        Client::Http(site().serve_http_with_env(&["--stateless", "--migrate"], env))
    }

    fn request(&mut self, method: &str, params: Value, token: Option<&str>) -> Value {
        match self {
            Client::Stdio(c) => c.request(method, params),
            Client::Http(server) => {
                let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
                let auth = token.map(|t| format!("Bearer {t}"));
                let mut headers = JSON_HEADERS.to_vec();
                if let Some(a) = &auth {
                    headers.push(("Authorization", a));
                }
                let (status, _, body) =
                    http_post(&server.authority(), "/mcp", &headers, &body.to_string());
                assert_eq!(status, 200, "{body}");
                serde_json::from_str(&body).unwrap()
            }
        }
    }

    fn call(&mut self, tool: &str, args: Value) -> Value {
        self.call_as(tool, args, None)
    }

    fn call_as(&mut self, tool: &str, args: Value, token: Option<&str>) -> Value {
        let reply = self.request(
            "tools/call",
            json!({"name": tool, "arguments": args}),
            token,
        );
        reply.get("result").or(reply.get("error")).cloned().unwrap()
    }

    fn count(&mut self) -> i64 {
        let r = self.call("mwledger_count", json!({}));
        r["structuredContent"]["result"].as_i64().unwrap()
    }
}

fn the_chain_behaves(mut client: Client) {
    // Order: request phase top-down, response phase bottom-up; extensions reach the tool.
    let r = client.call("mwledger_show_trail", json!({}));
    assert_eq!(text(&r), "outer,inner|nobody <inner <outer", "{r}");
    // A short-circuit: the tool does not run.
    let r = client.call(
        "mwledger_insert",
        json!({"label": "stopped", "stop_at": "outer"}),
    );
    assert!(is_error(&r) && text(&r).contains("stopped by outer"), "{r}");
    assert_eq!(client.count(), 0);
    // Changed arguments reach the tool.
    let r = client.call("mwledger_insert", json!({"label": "quiet"}));
    assert!(!is_error(&r), "{r}");
    let r = client.call("mwledger_labels", json!({}));
    assert_eq!(r["structuredContent"]["result"], json!(["QUIET"]), "{r}");
    // A middleware that turns the call into an error: the tool's row is rolled back.
    let r = client.call(
        "mwledger_insert",
        json!({"label": "undone", "fail_after": true}),
    );
    assert!(is_error(&r) && text(&r).contains("failed by inner"), "{r}");
    assert_eq!(client.count(), 1);
    // A middleware's own write shares the call's transaction: kept with the tool's,
    // rolled back with it.
    let r = client.call(
        "mwledger_insert",
        json!({"label": "with audit", "audit": true, "fail_after": true}),
    );
    assert!(is_error(&r), "{r}");
    assert_eq!(client.count(), 1);
    let r = client.call("mwledger_insert", json!({"label": "kept", "audit": true}));
    assert!(!is_error(&r), "{r}");
    assert_eq!(client.count(), 3);
    // A panicking middleware: an error result, nothing written, the server goes on.
    let r = client.call("mwledger_insert", json!({"label": "boom", "panic": true}));
    assert!(
        is_error(&r) && text(&r).contains("middleware panicking on purpose"),
        "{r}"
    );
    assert_eq!(client.count(), 3);
    // tools/list goes through the list hooks.
    let list = client.request("tools/list", json!({}), None);
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"mwledger_show_trail") && !names.contains(&"mwledger_hidden_secret"),
        "{names:?}"
    );
}

#[test]
fn the_chain_over_stdio() {
    let url = db_url("stdio");
    let mut client = Client::stdio(&[("MANGO_MIDDLEWARE", CHAIN), ("MANGO_DATABASE__URL", &url)]);
    // The client's info from `initialize` reaches middleware; there are no headers.
    let r = client.call("mwledger_show_trail", json!({"who": true}));
    assert_eq!(
        text(&r),
        r#"client=Some("raw") header=None transport=stdio"#,
        "{r}"
    );
    the_chain_behaves(client);
}

#[test]
fn the_chain_over_http() {
    let url = db_url("http");
    the_chain_behaves(Client::http(&[
        ("MANGO_MIDDLEWARE", CHAIN),
        ("MANGO_DATABASE__URL", &url),
    ]));
}

const GUARDS: &str = r#"["mango.auth", "mango.rate_limit", "mango.timeout", "mwledger.outer"]"#;

fn guarded(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("MANGO_MIDDLEWARE", GUARDS.to_owned()),
        ("MANGO_AUTH__TOKENS__ALICE", "s3cret-alice".to_owned()),
        ("MANGO_RATE_LIMIT__PER_MINUTE", "6".to_owned()),
        ("MANGO_RATE_LIMIT__BURST", "4".to_owned()),
        ("MANGO_TIMEOUT__SECONDS", "0.5".to_owned()),
        ("MANGO_DATABASE__URL", url.to_owned()),
    ]
}

#[test]
fn bearer_auth_over_http() {
    let url = db_url("auth");
    let env = guarded(&url);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = site().serve_http_with_env(&["--stateless", "--migrate"], &env);
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "mwledger_show_trail", "arguments": {}}}).to_string();
    for auth in [None, Some("Bearer wrong"), Some("Basic czNjcmV0")] {
        let mut headers = JSON_HEADERS.to_vec();
        if let Some(a) = auth {
            headers.push(("Authorization", a));
        }
        let (status, head, body) = http_post(&server.authority(), "/mcp", &headers, &call);
        assert_eq!(status, 401, "{auth:?}: {body}");
        assert!(
            head.to_lowercase().contains("www-authenticate: bearer"),
            "{head}"
        );
    }
    let mut headers = JSON_HEADERS.to_vec();
    headers.push(("Authorization", "Bearer s3cret-alice"));
    let (status, _, body) = http_post(&server.authority(), "/mcp", &headers, &call);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("outer|alice <outer"),
        "the identity reaches the tool: {body}"
    );
    // A request refused for its token before its body came: the connection carries the
    // next request (hyper closes one whose request body was left unread, and a client
    // that reuses it finds it cut).
    let mut stream = std::net::TcpStream::connect(server.authority()).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let post = |auth: &str, body: &str| {
        format!(
            "POST /mcp HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n",
            server.authority(),
            body.len()
        )
    };
    stream
        .write_all(post("Bearer wrong", &call).as_bytes())
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    stream.write_all(call.as_bytes()).unwrap();
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let (status, _) = read_response(&mut reader);
    assert_eq!(status, 401);
    stream
        .write_all(format!("{}{call}", post("Bearer s3cret-alice", &call)).as_bytes())
        .unwrap();
    let (status, body) = read_response(&mut reader);
    assert_eq!(status, 200, "the next request on the connection: {body}");
    // The HTTP headers reach middleware.
    headers.push(("x-test", "yes"));
    let who = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "mwledger_show_trail", "arguments": {"who": true}}}).to_string();
    let (_, _, body) = http_post(&server.authority(), "/mcp", &headers, &who);
    assert!(
        body.contains(r#"header=Some(\"yes\") transport=http"#),
        "{body}"
    );
}

/// One HTTP/1.1 response with a `Content-Length` from `reader`: its status and body.
fn read_response(reader: &mut impl std::io::BufRead) -> (u16, String) {
    let mut status = 0;
    let mut length = 0;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "the server closed the connection");
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some(rest) = trimmed.strip_prefix("HTTP/1.1 ") {
            status = rest[..3].parse().unwrap();
        } else if let Some((k, v)) = trimmed.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn rate_limit_and_timeout() {
    let url = db_url("limits");
    let env = guarded(&url);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut client = Client::stdio(&env);
    // Over stdio the local user is trusted, as `local`.
    let r = client.call("mwledger_show_trail", json!({}));
    assert_eq!(text(&r), "outer|local <outer", "{r}");
    // The timeout stops a slow call and rolls back what it wrote.
    let r = client.call(
        "mwledger_insert_slowly",
        json!({"label": "slow", "millis": 3000}),
    );
    assert!(
        is_error(&r) && text(&r).contains("ran longer than 0.5 s"),
        "{r}"
    );
    // A burst of 4 is allowed (2 used above); then the limit answers.
    let r = client.call("mwledger_count", json!({}));
    assert_eq!(
        r["structuredContent"]["result"], 0,
        "the slow call's row was rolled back: {r}"
    );
    let _ = client.call("mwledger_count", json!({}));
    let r = client.call("mwledger_count", json!({}));
    assert!(
        is_error(&r) && text(&r).contains("rate limit: local may make 6 calls a minute"),
        "{r}"
    );
}

#[test]
fn an_unknown_middleware_stops_start_up_with_the_known_names() {
    let out = site()
        .command(&["serve", "--transport", "stdio"])
        .env("MANGO_MIDDLEWARE", r#"["mwledger.outr"]"#)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`mwledger.outr`")
            && stderr.contains("mwledger.outer")
            && stderr.contains("mango.auth"),
        "{stderr}"
    );
}

/// `[auth.oauth]` in a server built without mango-rt's `oauth` feature: start-up stops
/// and says which line to change.
#[test]
fn oauth_settings_without_the_oauth_feature_stop_start_up_saying_how_to_enable_it() {
    let out = site()
        .command(&["serve", "--transport", "stdio"])
        .env("MANGO_MIDDLEWARE", r#"["mango.auth"]"#)
        .env("MANGO_AUTH__OAUTH__ISSUER", "https://auth.example.com")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("without mango-rt's `oauth` feature")
            && stderr.contains("features = [\"oauth\"]"),
        "{stderr}"
    );
}

#[test]
fn check_lists_the_chain_and_notes_middleware_that_is_not_listed() {
    let url = db_url("check");
    let out = site()
        .command(&["run", "check"])
        .env("MANGO_MIDDLEWARE", r#"["mwledger.outer"]"#)
        .env("MANGO_DATABASE__URL", &url)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("middleware: mwledger.outer"), "{text}");
    assert!(
        text.contains("`mwledger.inner`") && text.contains("not listed"),
        "{text}"
    );
    assert!(!text.contains("`mwledger.outer` ("), "{text}");
}

/// HTTP with sessions (a 2025 protocol, as the MCP Python SDK negotiates with
/// `mode="legacy"`): the same chain.
#[test]
fn the_chain_over_http_sessions_with_the_python_sdk() {
    let Some(python) = python() else {
        return missing("the MCP Python SDK (pip install mcp)");
    };
    let url = db_url("sessions");
    let server = site().serve_http_with_env(
        &["--migrate"],
        &[("MANGO_MIDDLEWARE", CHAIN), ("MANGO_DATABASE__URL", &url)],
    );
    let script = r#"
import asyncio, sys
from mcp import Client
async def main():
    async with Client(sys.argv[1], mode="legacy") as c:
        r = await c.call_tool("mwledger_show_trail", {})
        print("".join(getattr(b, "text", "") for b in r.content))
        tools = [t.name for t in (await c.list_tools()).tools]
        print("hidden" if "mwledger_hidden_secret" not in tools else "shown")
asyncio.run(main())
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script, &server.url])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "outer,inner|nobody <inner <outer\nhidden\n");
}

/// One `tools/call` of `mwledger_count` over HTTP from `source` (a loopback address of
/// the test's choosing: Linux routes all of 127/8 to the loopback); the answer's text.
fn count_from(source: &str, url: &str) -> String {
    let script = r#"
import http.client, json, sys, urllib.parse
source, url = sys.argv[1], urllib.parse.urlparse(sys.argv[2])
conn = http.client.HTTPConnection(url.hostname, url.port, source_address=(source, 0), timeout=10)
body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "mwledger_count", "arguments": {}}})
conn.request("POST", url.path, body, {"Content-Type": "application/json",
             "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"})
print(conn.getresponse().read().decode())
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, source, url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn anonymous_http_callers_are_limited_per_address() {
    let url = db_url("per-address");
    let server = site().serve_http_with_env(
        &["--stateless", "--migrate"],
        &[
            ("MANGO_DATABASE__URL", url.as_str()),
            ("MANGO_MIDDLEWARE", r#"["mango.rate_limit"]"#),
            ("MANGO_RATE_LIMIT__PER_MINUTE", "2"),
            ("MANGO_RATE_LIMIT__BURST", "2"),
        ],
    );
    for _ in 0..2 {
        let answer = count_from("127.0.0.1", &server.url);
        assert!(
            answer.contains(r#""structuredContent""#) && !answer.contains("rate limit"),
            "{answer}"
        );
    }
    let limited = count_from("127.0.0.1", &server.url);
    assert!(
        limited.contains("rate limit: anonymous (127.0.0.1) may make 2 calls a minute"),
        "{limited}"
    );
    // Another client, another address: its own bucket.
    let other = count_from("127.0.0.2", &server.url);
    assert!(!other.contains("rate limit"), "{other}");
}

/// Secrets (a bearer token, a wrong one sent, the round-state key, a database password)
/// appear nowhere in what the server and `check` print, at the debug log level, through
/// refusals, calls, a panic and a failed start-up.
#[test]
fn secrets_never_reach_logs_errors_or_check() {
    let url = db_url("secrets");
    let mut env = guarded(&url);
    env.push(("MANGO_LOG", "debug".to_owned()));
    env.push((
        "MANGO_INPUT__KEY",
        "input-key-SECRET-0123456789abcdefghij".to_owned(),
    ));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = site().serve_http_with_env(&["--stateless", "--migrate"], &env);
    let call = |name: &str| {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": {"label": "x"}}}).to_string()
    };
    for auth in ["Bearer wrong-token-SECRET-zz", "Bearer s3cret-alice"] {
        let mut headers = JSON_HEADERS.to_vec();
        headers.push(("Authorization", auth));
        for tool in ["mwledger_show_trail", "mwledger_insert_then_panic"] {
            let (_, _, body) = http_post(&server.authority(), "/mcp", &headers, &call(tool));
            assert!(
                !body.contains("SECRET") && !body.contains("s3cret-alice"),
                "{body}"
            );
        }
    }
    // The server's log has the panic's report (it comes after the answer).
    wait_for_log(
        &server.log,
        "panicking after the insert",
        1,
        std::time::Duration::from_secs(10),
    );
    let mut printed = server.log.lock().unwrap().clone();
    assert!(
        printed.contains("panicking after the insert"),
        "the run did not exercise a panic: {printed}"
    );
    let check = site()
        .command(&["run", "check"])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    printed += &String::from_utf8_lossy(&check.stdout);
    printed += &String::from_utf8_lossy(&check.stderr);
    let failed = site()
        .command(&["serve", "--transport", "stdio"])
        .envs(env.iter().copied())
        .env(
            "MANGO_DATABASE__URL",
            "postgres://app:pg-pass-SECRET@127.0.0.1:1/x?password=q-SECRET",
        )
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("app:***@127.0.0.1:1"), "{stderr}");
    printed += &stderr;
    for secret in ["SECRET", "s3cret-alice"] {
        let found: Vec<&str> = printed.lines().filter(|l| l.contains(secret)).collect();
        assert!(
            found.is_empty(),
            "`{secret}` was printed:\n{}",
            found.join("\n")
        );
    }
}

/// A 2025-11-25 session belongs to the identity that opened it: a request in it with
/// another token is refused (404, as for a session that does not exist) and logged;
/// the owner's requests go on.
#[test]
fn a_session_belongs_to_the_token_that_opened_it() {
    let url = db_url("owners");
    let mut env = guarded(&url);
    env.push(("MANGO_AUTH__TOKENS__BOB", "s3cret-bob".to_owned()));
    env.push(("MANGO_RATE_LIMIT__BURST", "100".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = site().serve_http_with_env(&["--migrate"], &env);
    let authority = server.authority();
    let as_user = |token: &'static str| {
        let mut headers = JSON_HEADERS.to_vec();
        headers.push(("Authorization", token));
        headers
    };
    let (status, head, body) = http_post(
        &authority,
        "/mcp",
        &as_user("Bearer s3cret-alice"),
        INITIALIZE,
    );
    assert_eq!(status, 200, "{body}");
    let session = session_id(&head).unwrap();
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "mwledger_show_trail", "arguments": {}}}).to_string();
    let in_session = |token: &'static str| {
        let mut headers = as_user(token);
        headers.push(("Mcp-Session-Id", &session));
        headers.push(("MCP-Protocol-Version", "2025-06-18"));
        http_post(&authority, "/mcp", &headers, &call)
    };
    let (status, _, body) = in_session("Bearer s3cret-bob");
    assert_eq!(status, 404, "bob used alice's session: {body}");
    assert!(body.contains("no session has the id"), "{body}");
    wait_for_log(
        &server.log,
        "refused a request in a session another caller opened",
        1,
        std::time::Duration::from_secs(10),
    );
    let (status, _, body) = in_session("Bearer s3cret-alice");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("alice"), "{body}");
}
