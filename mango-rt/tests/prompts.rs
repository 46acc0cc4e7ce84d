//! Prompts in process, through the public API: listing with arguments, text and
//! messages, typed and optional arguments, errors.

use mango_rt::testing::{TestError, TestServer};
use mango_rt::{Content, Message, ToolError, prompt};
use serde_json::{Value, json};

/// Ask for a haiku.
#[prompt(title = "Haiku")]
async fn haiku(
    /// What the haiku is about.
    topic: String,
) -> String {
    format!("Write a haiku about {topic}.")
}

/// Review some code, with a picture of the diagram.
#[prompt]
async fn review(
    /// The code.
    code: String,
    /// How strict to be, 1 to 5.
    strictness: Option<u8>,
) -> mango_rt::Result<Vec<Message>> {
    let strictness = strictness.unwrap_or(3);
    if strictness > 5 {
        return Err(ToolError::new("strictness goes from 1 to 5"));
    }
    Ok(vec![
        Message::user(format!("Review this (strictness {strictness}):\n{code}")),
        Message::user(Content::image([1u8, 2, 3], "image/png")),
        Message::assistant("I will look at correctness first."),
    ])
}

async fn server() -> TestServer {
    match TestServer::new().await {
        Ok(server) => server,
        Err(e) => panic!("{e}"),
    }
}

async fn get(server: &TestServer, name: &str, args: Value) -> Value {
    match server.get_prompt(name, args).await {
        Ok(result) => serde_json::to_value(result).unwrap_or_default(),
        Err(e) => panic!("{name}: {e}"),
    }
}

async fn refused(server: &TestServer, name: &str, args: Value) -> (i32, String) {
    match server.get_prompt(name, args).await {
        Err(TestError::Protocol(e)) => (e.code.0, e.message.to_string()),
        other => panic!("{name} was not refused: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prompts_are_listed_with_their_arguments() {
    let server = server().await;
    let listed = serde_json::to_value(server.prompts()).unwrap_or_default();
    assert_eq!(
        listed,
        json!([
            {"name": "mango-rt_haiku", "title": "Haiku", "description": "Ask for a haiku.",
             "arguments": [{"name": "topic", "description": "What the haiku is about.", "required": true}]},
            {"name": "mango-rt_review", "description": "Review some code, with a picture of the diagram.",
             "arguments": [
                {"name": "code", "description": "The code.", "required": true},
                {"name": "strictness", "description": "How strict to be, 1 to 5.", "required": false}
             ]}
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gets_give_messages() {
    let server = server().await;
    let r = get(&server, "mango-rt_haiku", json!({"topic": "rust"})).await;
    assert_eq!(
        r["messages"],
        json!([{"role": "user", "content": {"type": "text", "text": "Write a haiku about rust."}}])
    );
    assert_eq!(r["description"], "Ask for a haiku.");
    let r = get(
        &server,
        "mango-rt_review",
        json!({"code": "x", "strictness": "5"}),
    )
    .await;
    let roles: Vec<&str> = r["messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|m| m["role"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(roles, ["user", "user", "assistant"]);
    assert_eq!(
        r["messages"][0]["content"]["text"],
        "Review this (strictness 5):\nx"
    );
    assert_eq!(r["messages"][1]["content"]["type"], "image");
    assert_eq!(r["messages"][1]["content"]["data"], "AQID");
    let r = get(&server, "mango-rt_review", json!({"code": "y"})).await;
    assert_eq!(
        r["messages"][0]["content"]["text"],
        "Review this (strictness 3):\ny"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_gets_are_clean_errors_naming_what_was_wrong() {
    let server = server().await;
    let (code, m) = refused(&server, "mango-rt_haiku", json!({})).await;
    assert_eq!(code, -32602);
    assert!(m.contains("needs the argument `topic`"), "{m}");
    let (code, m) = refused(
        &server,
        "mango-rt_haiku",
        json!({"topic": "a", "mood": "b"}),
    )
    .await;
    assert_eq!(code, -32602);
    assert!(
        m.contains("no argument `mood`") && m.contains("it takes: topic"),
        "{m}"
    );
    let (code, m) = refused(
        &server,
        "mango-rt_review",
        json!({"code": "x", "strictness": "high"}),
    )
    .await;
    assert_eq!(code, -32602);
    assert!(m.contains("invalid value `high` for `strictness`"), "{m}");
    let (code, m) = refused(
        &server,
        "mango-rt_review",
        json!({"code": "x", "strictness": "9"}),
    )
    .await;
    assert_eq!(code, -32603);
    assert!(m.contains("strictness goes from 1 to 5"), "{m}");
    let (code, m) = refused(&server, "mango-rt_haiq", json!({})).await;
    assert_eq!(code, -32602);
    assert!(
        m.contains("unknown prompt") && m.contains("did you mean `mango-rt_haiku`"),
        "{m}"
    );
}
