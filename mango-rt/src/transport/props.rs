//! Property tests (proptest) of what the transports read: the JSON-RPC guard, stdio's
//! line framing, and the HTTP endpoint's handling of request bodies. Each runs its
//! generated cases and the seed corpus in `mango-rt/tests/corpus/` (one message a line:
//! inputs that once broke something, or nearly); a case that fails is added there.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{Verdict, guard};

const CODES: [i64; 3] = [
    super::PARSE_ERROR,
    super::INVALID_REQUEST,
    super::INVALID_PARAMS,
];

/// The seed corpus: every line of every file in `tests/corpus/`.
fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let text = std::fs::read(entry.path()).unwrap_or_default();
        lines.extend(
            text.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    assert!(!lines.is_empty(), "no seed corpus in {}", dir.display());
    lines
}

/// JSON values of every kind, nested a little.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Messages shaped like JSON-RPC, with each part sometimes wrong.
fn message() -> impl Strategy<Value = Vec<u8>> {
    let id = prop_oneof![
        Just(None),
        any::<i64>().prop_map(|i| Some(json!(i))),
        ".{0,8}".prop_map(|s| Some(json!(s))),
        json_value().prop_map(Some),
        Just(Some(json!(18_446_744_073_709_551_617_f64))),
    ];
    let method = prop_oneof![
        Just(Some(json!("tools/call"))),
        Just(Some(json!("tools/list"))),
        Just(Some(json!("initialize"))),
        Just(Some(json!("notifications/initialized"))),
        json_value().prop_map(Some),
        Just(None),
    ];
    let params = prop_oneof![Just(None), json_value().prop_map(Some)];
    (id, method, params, any::<bool>()).prop_map(|(id, method, params, jsonrpc)| {
        let mut m = serde_json::Map::new();
        if jsonrpc {
            m.insert("jsonrpc".into(), json!("2.0"));
        }
        for (k, v) in [("id", id), ("method", method), ("params", params)] {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        }
        Value::Object(m).to_string().into_bytes()
    })
}

/// Anything: raw bytes, or a JSON-RPC-like message.
fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        message(),
        json_value().prop_map(|v| v.to_string().into_bytes()),
    ]
}

/// What the guard's answer to `raw` must be: a JSON-RPC error with a known code, whose
/// `id` is the request's when it had a usable one, else null.
fn check_verdict(raw: &[u8]) -> Result<(), TestCaseError> {
    match guard(raw) {
        Verdict::Pass(_) | Verdict::Drop(_) => Ok(()),
        Verdict::Reply(reply) => {
            prop_assert_eq!(&reply["jsonrpc"], &json!("2.0"));
            let code = reply["error"]["code"].as_i64().unwrap_or_default();
            prop_assert!(CODES.contains(&code), "code {} in {}", code, reply);
            prop_assert!(reply["error"]["message"].is_string());
            let sent = serde_json::from_slice::<Value>(raw)
                .ok()
                .and_then(|v| v.get("id").cloned());
            match (&reply["id"], sent) {
                (Value::Null, _) => {}
                (got, Some(sent)) => prop_assert_eq!(got, &sent, "an answer with another id"),
                (got, None) => prop_assert!(false, "an id {} from nowhere", got),
            }
            Ok(())
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// The guard never panics, and its answers are JSON-RPC errors carrying the
    /// request's own id (or null), never another.
    #[test]
    fn the_guard_answers_anything_with_the_senders_id_or_none(raw in input()) {
        check_verdict(&raw)?;
    }

    /// stdio: whatever lines come, cut into whatever chunks, each line is one message
    /// or one answer (or an ignored notification), in order, and nothing is lost or
    /// merged.
    #[test]
    fn stdio_frames_every_line_whatever_the_chunks(
        lines in prop::collection::vec(input(), 1..8),
        cuts in prop::collection::vec(1usize..40, 1..20),
    ) {
        let lines: Vec<Vec<u8>> = lines
            .into_iter()
            .map(|l| l.into_iter().filter(|b| *b != b'\n' && *b != b'\r').collect::<Vec<u8>>())
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .collect();
        let expected: usize = lines
            .iter()
            .filter(|l| !matches!(guard(l), Verdict::Drop(_)))
            .count();
        let got = frame(&lines, &cuts);
        prop_assert_eq!(got, expected);
    }
}

/// How many cases a property runs: `MANGO_PROPTEST_CASES`, else 256 (CI's short run
/// sets its own).
fn cases() -> u32 {
    std::env::var("MANGO_PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

/// Writes `lines` (a `\n` after each) to a [`GuardedStdio`](super::stdio::GuardedStdio)
/// in chunks of the sizes `cuts` gives (cycling), and counts what comes out: messages
/// received plus answers written.
fn frame(lines: &[Vec<u8>], cuts: &[usize]) -> usize {
    use rmcp::transport::Transport;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("{e}"),
    };
    runtime.block_on(async {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let (replies_in, replies_out) = tokio::io::duplex(1 << 20);
        let mut transport = super::stdio::GuardedStdio::new(server, replies_in);
        let mut bytes = Vec::new();
        // An initialize first, so that notifications are not dropped as early ones.
        bytes.extend_from_slice(br#"{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"p","version":"1"}}}"#);
        bytes.push(b'\n');
        for line in lines {
            bytes.extend_from_slice(line);
            bytes.push(b'\n');
        }
        let cuts = cuts.to_vec();
        let writer = tokio::spawn(async move {
            let mut at = 0;
            let mut i = 0;
            while at < bytes.len() {
                let n = cuts[i % cuts.len()].min(bytes.len() - at);
                let _ = client.write_all(&bytes[at..at + n]).await;
                at += n;
                i += 1;
                tokio::task::yield_now().await;
            }
            // Closing our end ends the stream.
            drop(client);
        });
        let mut received = 0usize;
        while transport.receive().await.is_some() {
            received += 1;
        }
        let _ = writer.await;
        let _ = transport.close().await;
        let mut answers = 0usize;
        let mut reader = tokio::io::BufReader::new(replies_out);
        let mut line = String::new();
        while let Ok(n) =
            tokio::time::timeout(std::time::Duration::from_millis(200), reader.read_line(&mut line))
                .await
                .unwrap_or(Ok(0))
        {
            if n == 0 {
                break;
            }
            answers += 1;
            line.clear();
        }
        // The initialize is not one of the lines.
        received + answers - 1
    })
}

#[test]
fn the_seed_corpus_gets_answers_with_the_senders_id_or_none() {
    for raw in corpus() {
        if let Err(e) = check_verdict(&raw) {
            panic!("{}: {e}", String::from_utf8_lossy(&raw));
        }
    }
    let lines: Vec<Vec<u8>> = corpus();
    let expected = lines
        .iter()
        .filter(|l| !matches!(guard(l), Verdict::Drop(_)))
        .count();
    assert_eq!(frame(&lines, &[1, 7, 3]), expected);
}

/// An rmcp handler with nothing but its info (the HTTP property needs a server, not
/// tools).
#[derive(Clone)]
struct Bare;

impl rmcp::ServerHandler for Bare {}

/// POSTs `body` with `content_type` to the endpoint `router` serves; the status and the
/// body of the answer.
async fn post(router: &mut axum::Router, content_type: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    use tower_service::Service;
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/mcp")
        .header("host", "127.0.0.1")
        .header("content-type", content_type)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(axum::body::Body::from(body));
    let Ok(request) = request else {
        return (0, Vec::new());
    };
    let response = match router.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    (status, bytes)
}

fn http_router() -> axum::Router {
    let settings = crate::settings::ServerSettings {
        max_request_bytes: 4096,
        ..Default::default()
    };
    let ready: super::http::Readiness = std::sync::Arc::new(|| Box::pin(async { Ok(()) }));
    super::http::router(
        || Bare,
        ready,
        &settings,
        true,
        tokio_util::sync::CancellationToken::new(),
        tokio_util::sync::CancellationToken::new(),
        tokio_util::task::TaskTracker::new(),
        None,
        Default::default(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// HTTP: whatever body (and content type) is POSTed, the answer is never a 5xx,
    /// and a refusal is a JSON-RPC error body with the request's id or null.
    #[test]
    fn http_answers_any_body_without_a_server_error(
        body in prop_oneof![input(), prop::collection::vec(any::<u8>(), 4000..4200)],
        content_type in prop_oneof![
            Just("application/json"),
            Just("application/json; charset=utf-8"),
            Just("text/plain"),
            Just(""),
        ],
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
        let Ok(runtime) = runtime else { return Err(TestCaseError::fail("no runtime")) };
        let (status, answer) = runtime.block_on(async {
            let mut router = http_router();
            post(&mut router, content_type, body.clone()).await
        });
        prop_assert!((200..500).contains(&status), "status {} for {:?}", status, String::from_utf8_lossy(&body));
        if (400..500).contains(&status) && !answer.is_empty() {
            let reply: Value = serde_json::from_slice(&answer)
                .map_err(|e| TestCaseError::fail(format!("{status}: not JSON ({e}): {}", String::from_utf8_lossy(&answer))))?;
            prop_assert!(reply["error"]["code"].is_i64(), "{}", reply);
            if let Some(id) = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("id").cloned()) {
                prop_assert!(reply["id"].is_null() || reply["id"] == id, "{} for id {}", reply, id);
            }
        }
    }
}
