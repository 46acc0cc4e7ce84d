//! OpenTelemetry traces (`[telemetry]`), received by a real OTLP/HTTP endpoint: a
//! receiver that decodes the requests with the official protobuf definitions
//! (`opentelemetry-proto` from PyPI: tests/e2e/otlp_receiver.py). The span of a call,
//! its children (the endpoint, the database checkout, the transaction's end, the app's
//! own span), its parent from the `traceparent` header or from `_meta`, error spans,
//! the trace id on the log's lines and in the result's `_meta`; an endpoint that is
//! down, slow or answers garbage; propagation without export; settings refused.
//!
//! The project is the OAuth tests' (built with the `oauth` and `telemetry` features:
//! one build for both).

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mango_tests::{
    JSON_HEADERS, Server, Site, http_post, missing, python, reply_in, root, scratch, wait_for_log,
};
use serde_json::{Value, json};

fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(mango_tests::oauth_site)
}

/// A Python with `opentelemetry-proto`, or `None` (skipped, or failed in CI).
fn otlp_python() -> Option<PathBuf> {
    let python = python().filter(|python| {
        Command::new(python)
            .args(["-c", "import opentelemetry.proto"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if python.is_none() {
        missing("a Python with opentelemetry-proto (pip install opentelemetry-proto)");
    }
    python
}

/// The receiver (tests/e2e/otlp_receiver.py) in `mode`, writing spans to a file.
struct Receiver {
    child: Child,
    port: u16,
    spans: PathBuf,
}

impl Receiver {
    fn start(python: &Path, name: &str, mode: &str) -> Receiver {
        let spans = scratch(&format!("otlp-{name}")).join("spans.jsonl");
        let mut child = Command::new(python)
            .arg(root().join("tests/e2e/otlp_receiver.py"))
            .args([spans.to_str().unwrap(), mode])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("{line}"));
        Receiver { child, port, spans }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The spans received so far.
    fn spans(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.spans)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits (up to 15 s) until a span `matches`; every span so far.
    fn wait_for(&self, what: &str, matches: impl Fn(&Value) -> bool) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let spans = self.spans();
            if spans.iter().any(&matches) {
                return spans;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "no span {what} reached the receiver within 15 s; it has:\n{}",
                serde_json::to_string_pretty(&spans).unwrap()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The vault's server, stateless, its traces sent to `endpoint` as `env` says.
fn serve(endpoint: &str, env: &[(&str, &str)]) -> Server {
    let mut all = vec![
        ("MANGO_TELEMETRY__MODE", "export"),
        ("MANGO_TELEMETRY__ENDPOINT", endpoint),
        ("MANGO_TELEMETRY__SERVICE_NAME", "vault-under-test"),
    ];
    all.extend_from_slice(env);
    site().serve_http_with_env(&["--stateless"], &all)
}

/// A tools/call of `tool` with `meta` as its `_meta` and `headers` on top: the reply.
fn call(server: &Server, id: u64, tool: &str, meta: Value, headers: &[(&str, &str)]) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": tool, "arguments": {}, "_meta": meta}});
    let mut all = JSON_HEADERS.to_vec();
    all.push(("MCP-Protocol-Version", "2025-11-25"));
    all.extend_from_slice(headers);
    let (status, _, reply) = http_post(&server.authority(), "/mcp", &all, &body.to_string());
    assert_eq!(status, 200, "{reply}");
    reply_in(&reply, id).unwrap_or_else(|| panic!("no reply {id} in {reply}"))
}

/// The span of the JSON-RPC request `id` (its `jsonrpc.request.id`).
fn request_span(spans: &[Value], id: u64) -> Value {
    spans
        .iter()
        .find(|s| s["attributes"]["jsonrpc.request.id"] == json!(id.to_string()))
        .unwrap_or_else(|| panic!("no span of request {id}: {spans:#?}"))
        .clone()
}

/// The spans whose parent is `parent`.
fn children<'a>(spans: &'a [Value], parent: &Value) -> Vec<&'a Value> {
    spans
        .iter()
        .filter(|s| s["parent_span_id"] == parent["span_id"] && s["trace_id"] == parent["trace_id"])
        .collect()
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";
const META_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const META_PARENT: &str = "b7ad6b7169203331";

#[test]
fn a_call_is_a_span_tree_whose_parent_comes_from_the_header_or_meta() {
    let Some(python) = otlp_python() else { return };
    let receiver = Receiver::start(&python, "tree", "ok");
    let server = serve(
        &receiver.endpoint(),
        &[
            ("MANGO_TELEMETRY__HEADERS__authorization", "VAULT_OTLP_KEY"),
            ("VAULT_OTLP_KEY", "Bearer otlp-secret"),
        ],
    );

    // 1. The parent in the W3C header.
    let header = format!("00-{TRACE}-{PARENT}-01");
    let reply = call(
        &server,
        11,
        "vault_clock",
        json!({}),
        &[("traceparent", &header)],
    );
    assert_eq!(reply["result"]["isError"], json!(false), "{reply}");
    // The result's `_meta` names the call's trace.
    let returned = reply["result"]["_meta"]["traceparent"]
        .as_str()
        .unwrap_or_default();
    assert!(returned.starts_with(&format!("00-{TRACE}-")), "{reply}");

    // 2. The parent in `_meta` (SEP-414), a different one in the header: `_meta` wins,
    // the header's is linked.
    let meta = json!({"traceparent": format!("00-{META_TRACE}-{META_PARENT}-01"), "tracestate": "vendor=1"});
    call(
        &server,
        12,
        "vault_whoami",
        meta,
        &[("traceparent", &header)],
    );

    // 3. A malformed header: ignored, a new trace.
    call(
        &server,
        13,
        "vault_whoami",
        json!({}),
        &[("traceparent", "00-not-a-trace-01")],
    );

    // 4. A tool that fails (its scope is not held: `isError`), and a JSON-RPC error.
    let refused = call(&server, 14, "vault_deposit", json!({}), &[]);
    assert_eq!(refused["result"]["isError"], json!(true), "{refused}");
    let unknown = call(&server, 15, "vault_nothing", json!({}), &[]);
    assert_eq!(unknown["error"]["code"], json!(-32602), "{unknown}");

    receiver.wait_for("of request 15", |s| {
        s["attributes"]["jsonrpc.request.id"] == json!("15")
    });
    let spans = receiver.wait_for("of the database", |s| s["name"] == "COMMIT");

    // The call's span: named and attributed by the semantic conventions for MCP, a
    // server span under the header's parent.
    let clock = request_span(&spans, 11);
    assert_eq!(clock["name"], "tools/call vault_clock", "{clock:#}");
    assert_eq!(clock["trace_id"], TRACE, "{clock:#}");
    assert_eq!(clock["parent_span_id"], PARENT, "{clock:#}");
    assert_eq!(clock["kind"], 2, "SPAN_KIND_SERVER: {clock:#}");
    assert_eq!(clock["service"], "vault-under-test", "{clock:#}");
    let attributes = &clock["attributes"];
    assert_eq!(attributes["mcp.method.name"], "tools/call", "{clock:#}");
    assert_eq!(attributes["gen_ai.tool.name"], "vault_clock", "{clock:#}");
    assert_eq!(
        attributes["gen_ai.operation.name"], "execute_tool",
        "{clock:#}"
    );
    assert_eq!(
        attributes["mcp.protocol.version"], "2025-11-25",
        "{clock:#}"
    );
    assert_eq!(attributes["network.transport"], "tcp", "{clock:#}");
    assert_eq!(attributes["client.address"], "127.0.0.1", "{clock:#}");
    assert!(attributes.get("error.type").is_none(), "{clock:#}");
    assert!(
        returned.contains(clock["span_id"].as_str().unwrap()),
        "{reply} {clock:#}"
    );
    // The headers from the environment went with the export.
    assert_eq!(clock["authorization"], "Bearer otlp-secret", "{clock:#}");
    assert_eq!(clock["content_type"], "application/x-protobuf", "{clock:#}");

    // Under it: the endpoint and the transaction's end; under the endpoint, the
    // database checkout (when the tool takes its connection) and the app's own span
    // (with its log line as an event).
    let mut under: Vec<&str> = children(&spans, &clock)
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    under.sort_unstable();
    assert_eq!(under, ["COMMIT", "tool vault_clock"], "{spans:#?}");
    let endpoint = spans
        .iter()
        .find(|s| s["name"] == "tool vault_clock")
        .unwrap();
    let mut inside: Vec<&str> = children(&spans, endpoint)
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    inside.sort_unstable();
    assert_eq!(inside, ["db.checkout", "vault.clock"], "{spans:#?}");
    let app = spans.iter().find(|s| s["name"] == "vault.clock").unwrap();
    assert_eq!(
        app["events"],
        json!(["reading the vault's clock"]),
        "{app:#}"
    );
    let commit = spans.iter().find(|s| s["name"] == "COMMIT").unwrap();
    assert_eq!(commit["trace_id"], TRACE, "{commit:#}");
    assert_eq!(
        commit["attributes"]["db.system.name"], "sqlite",
        "{commit:#}"
    );

    // `_meta` first, the header linked.
    let whoami = request_span(&spans, 12);
    assert_eq!(whoami["trace_id"], META_TRACE, "{whoami:#}");
    assert_eq!(whoami["parent_span_id"], META_PARENT, "{whoami:#}");
    assert_eq!(
        whoami["links"],
        json!([{"trace_id": TRACE, "span_id": PARENT}]),
        "{whoami:#}"
    );

    // A malformed parent: a new trace, no parent.
    let fresh = request_span(&spans, 13);
    assert_ne!(fresh["trace_id"], TRACE, "{fresh:#}");
    assert_eq!(fresh["parent_span_id"], "", "{fresh:#}");

    // Errors: the tool's own, and the protocol's (-32602), both error spans.
    let failed = request_span(&spans, 14);
    assert_eq!(
        failed["attributes"]["error.type"], "tool_error",
        "{failed:#}"
    );
    assert_eq!(failed["status"], 2, "STATUS_CODE_ERROR: {failed:#}");
    let unknown = request_span(&spans, 15);
    assert_eq!(unknown["name"], "tools/call vault_nothing", "{unknown:#}");
    assert_eq!(unknown["attributes"]["error.type"], "-32602", "{unknown:#}");
    assert_eq!(
        unknown["attributes"]["rpc.response.status_code"], "-32602",
        "{unknown:#}"
    );
    assert_eq!(unknown["status"], 2, "{unknown:#}");
    assert!(
        unknown["status_message"]
            .as_str()
            .unwrap()
            .contains("unknown tool"),
        "{unknown:#}"
    );

    // The log's line from inside the call carries its trace id.
    wait_for_log(
        &server.log,
        &format!("trace{{id={TRACE}}}"),
        1,
        Duration::from_secs(5),
    );
    let log = server.log.lock().unwrap().clone();
    let line = log
        .lines()
        .find(|l| l.contains("reading the vault's clock"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains(&format!("trace{{id={TRACE}}}")), "{line}");
}

/// A question mango sends its client (elicitation, on a 2025-11-25 session) carries the
/// call's trace context in its `_meta`.
#[test]
fn a_question_to_the_client_carries_the_calls_trace() {
    let Some(python) = otlp_python() else { return };
    let receiver = Receiver::start(&python, "question", "ok");
    let server = site().serve_http_with_env(
        &[],
        &[
            ("MANGO_TELEMETRY__MODE", "export"),
            ("MANGO_TELEMETRY__ENDPOINT", &receiver.endpoint()),
            ("MANGO_INPUT__TIMEOUT", "1"),
        ],
    );
    let mut headers = JSON_HEADERS.to_vec();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {"elicitation": {"form": {}}},
        "clientInfo": {"name": "raw", "version": "1"}}});
    let (status, head, body) = http_post(
        &server.authority(),
        "/mcp",
        &headers,
        &initialize.to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let session = mango_tests::session_id(&head).unwrap();
    headers.push(("Mcp-Session-Id", &session));
    headers.push(("MCP-Protocol-Version", "2025-11-25"));
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    http_post(
        &server.authority(),
        "/mcp",
        &headers,
        &initialized.to_string(),
    );
    // Nobody answers the question: the call ends at `[input] timeout`, and its stream
    // held the question.
    let header = format!("00-{TRACE}-{PARENT}-01");
    headers.push(("traceparent", &header));
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "vault_ask", "arguments": {}}});
    let (status, _, body) = http_post(&server.authority(), "/mcp", &headers, &call.to_string());
    assert_eq!(status, 200, "{body}");
    let question = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["method"] == "elicitation/create")
        .unwrap_or_else(|| panic!("no question in {body}"));
    let asked = question["params"]["_meta"]["traceparent"]
        .as_str()
        .unwrap_or_else(|| panic!("{question}"));
    assert!(asked.starts_with(&format!("00-{TRACE}-")), "{question}");
    // Its parent is a span of the call (not the caller's span).
    let parent = asked.split('-').nth(2).unwrap().to_owned();
    assert_ne!(parent, PARENT, "{question}");
    let spans = receiver.wait_for("of the call", |s| s["name"] == "tools/call vault_ask");
    assert!(
        spans
            .iter()
            .any(|s| s["span_id"] == json!(parent) && s["trace_id"] == TRACE),
        "the question's parent {parent} is none of the call's spans: {spans:#?}"
    );
}

/// A job's run is a trace of its own (no request started it); a task's run is a span of
/// the call that started it, even when it goes on after the answer.
#[test]
fn jobs_and_tasks_have_their_spans() {
    let Some(python) = otlp_python() else { return };
    let receiver = Receiver::start(&python, "jobs", "ok");
    let db = scratch("otlp-jobs-db").join("jobs.sqlite3");
    let url = format!("sqlite://{}", db.display());
    let server = site().serve_http_with_env(
        &["--stateless", "--migrate"],
        &[
            ("MANGO_TELEMETRY__MODE", "export"),
            ("MANGO_TELEMETRY__ENDPOINT", &receiver.endpoint()),
            ("MANGO_DATABASE__URL", &url),
        ],
    );
    let header = format!("00-{TRACE}-{PARENT}-01");
    let reply = call(
        &server,
        31,
        "vault_later",
        json!({}),
        &[("traceparent", &header)],
    );
    assert_eq!(reply["result"]["isError"], json!(false), "{reply}");
    // The task: a 2026-07-28 request that declares the tasks extension.
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {
            "extensions": {"io.modelcontextprotocol/tasks": {}},
        },
        "traceparent": format!("00-{META_TRACE}-{META_PARENT}-01"),
    });
    let body = json!({"jsonrpc": "2.0", "id": 32, "method": "tools/call",
        "params": {"name": "vault_slowly", "arguments": {}, "_meta": meta}});
    let mut headers = JSON_HEADERS.to_vec();
    headers.extend([
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", "vault_slowly"),
    ]);
    let (_, _, answer) = http_post(&server.authority(), "/mcp", &headers, &body.to_string());
    let task = reply_in(&answer, 32).unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(task["result"]["resultType"], "task", "{task}");

    let run = |s: &Value| s["attributes"].get("mango.job.id").is_some();
    let spans = receiver.wait_for("of the job's run", run);
    let spans = receiver
        .wait_for("of the task's run", |s| s["name"] == "task vault_slowly")
        .into_iter()
        .chain(spans)
        .collect::<Vec<_>>();
    let job = spans.iter().find(|s| run(s)).unwrap();
    assert_eq!(job["name"], "job vault.remember", "{job:#}");
    assert_eq!(job["parent_span_id"], "", "a trace of its own: {job:#}");
    assert_ne!(job["trace_id"], TRACE, "{job:#}");
    assert_eq!(job["kind"], 5, "SPAN_KIND_CONSUMER: {job:#}");
    let own = children(&spans, job)
        .into_iter()
        .find(|s| s["name"].as_str().is_some_and(|n| n.starts_with("job ")))
        .unwrap_or_else(|| panic!("the job's own code under its run: {spans:#?}"));
    // The job's log line (in no span of the app's own) is an event of the span it runs
    // in.
    assert_eq!(own["events"], json!(["remembering"]), "{own:#}");
    let task = spans
        .iter()
        .find(|s| s["name"] == "task vault_slowly")
        .unwrap();
    assert_eq!(task["trace_id"], META_TRACE, "{task:#}");
    let call = request_span(&spans, 32);
    assert_eq!(task["parent_span_id"], call["span_id"], "{task:#} {call:#}");
}

#[test]
fn an_endpoint_down_slow_or_answering_garbage_leaves_calls_alone() {
    let Some(python) = otlp_python() else { return };
    let slow = Receiver::start(&python, "slow", "slow");
    let garbage = Receiver::start(&python, "garbage", "garbage");
    // Down: a port nobody listens on (bound, then let go).
    let down = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let mut servers: Vec<(&str, Server)> = [
        ("down", down.as_str()),
        ("slow", &slow.endpoint()),
        ("garbage", &garbage.endpoint()),
    ]
    .into_iter()
    .map(|(what, endpoint)| {
        (
            what,
            serve(
                endpoint,
                &[
                    ("MANGO_TELEMETRY__TIMEOUT", "1"),
                    ("MANGO_TELEMETRY__QUEUE", "8"),
                ],
            ),
        )
    })
    .collect();
    for (what, server) in &servers {
        let started = Instant::now();
        for id in 0..40 {
            let reply = call(server, id, "vault_whoami", json!({}), &[]);
            assert_eq!(reply["result"]["isError"], json!(false), "{what}: {reply}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: 40 calls took {:?}",
            started.elapsed()
        );
    }
    for (what, server) in &mut servers {
        // A warning once something is lost; more lost in the next minute is not
        // logged again, but said when the server stops (its last export fails too).
        wait_for_log(&server.log, "telemetry: ", 1, Duration::from_secs(15));
        for id in 100..140 {
            let reply = call(server, id, "vault_whoami", json!({}), &[]);
            assert_eq!(reply["result"]["isError"], json!(false), "{what}: {reply}");
        }
        server.terminate();
        let log = server.log.lock().unwrap().clone();
        let warnings: Vec<&str> = log.lines().filter(|l| l.contains("telemetry: ")).collect();
        assert_eq!(warnings.len(), 2, "{what}:\n{log}");
        assert!(
            warnings
                .iter()
                .all(|w| w.contains("calls are not affected")),
            "{what}:\n{log}"
        );
    }
    // The slow endpoint's queue of 8 was full long before its first export gave up.
    let log = servers[1].1.log.lock().unwrap().clone();
    assert!(
        log.contains("dropped because [telemetry] queue was full"),
        "{log}"
    );
}

#[test]
fn propagate_passes_the_context_on_and_exports_nothing() {
    let Some(python) = otlp_python() else { return };
    let receiver = Receiver::start(&python, "propagate", "ok");
    let server = serve(
        &receiver.endpoint(),
        &[("MANGO_TELEMETRY__MODE", "propagate")],
    );
    let meta = json!({"traceparent": format!("00-{META_TRACE}-{META_PARENT}-01")});
    let reply = call(&server, 21, "vault_clock", meta, &[]);
    let returned = reply["result"]["_meta"]["traceparent"]
        .as_str()
        .unwrap_or_default();
    assert!(
        returned.starts_with(&format!("00-{META_TRACE}-")),
        "{reply}"
    );
    assert!(
        !returned.contains(META_PARENT),
        "a span of its own: {reply}"
    );
    wait_for_log(
        &server.log,
        &format!("trace{{id={META_TRACE}}}"),
        1,
        Duration::from_secs(5),
    );
    // A server that exports sends what it holds as it stops: this one has nothing.
    let mut server = server;
    server.terminate();
    assert!(receiver.spans().is_empty(), "{:#?}", receiver.spans());
}

#[test]
fn telemetry_settings_that_cannot_work_stop_the_start() {
    for (env, expected) in [
        (
            vec![
                ("MANGO_TELEMETRY__MODE", "export"),
                ("MANGO_TELEMETRY__SAMPLING_RATIO", "2"),
            ],
            "sampling_ratio is 2",
        ),
        (
            vec![
                ("MANGO_TELEMETRY__MODE", "export"),
                (
                    "MANGO_TELEMETRY__HEADERS__authorization",
                    "NO_SUCH_OTLP_VARIABLE",
                ),
            ],
            "NO_SUCH_OTLP_VARIABLE, which is not set",
        ),
        (
            vec![
                ("MANGO_TELEMETRY__MODE", "export"),
                ("MANGO_TELEMETRY__ENDPOINT", "collector:4318"),
            ],
            "is not an http:// or https:// URL",
        ),
    ] {
        let out = site()
            .command(&["serve", "--transport", "http", "--port", "0"])
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
}

#[test]
fn a_build_without_the_feature_says_how_to_get_it() {
    let out = Site::get()
        .command(&["serve", "--transport", "http", "--port", "0"])
        .env("MANGO_TELEMETRY__MODE", "export")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("needs mango-rt's `telemetry` feature")
            && stderr.contains("features = [\"telemetry\"]"),
        "{stderr}"
    );
}
