//! Prompts in process, through the public API: listing with arguments, text and
//! messages, typed and optional arguments, errors.

use mango_rt::testing::{TestError, TestServer};
use std::collections::HashMap;

use mango_rt::{Content, Message, ToolError, completion, prompt};
use serde_json::{Value, json};

/// The topics that start with what was typed; with `mood` given, only its own.
#[completion]
async fn topics(value: String, context: HashMap<String, String>) -> Vec<String> {
    let all = ["rain", "rivers", "rust", "sun"];
    if let Some(mood) = context.get("mood") {
        return vec![format!("{mood} {value}")];
    }
    all.iter()
        .filter(|t| t.starts_with(&value))
        .map(|t| (*t).to_owned())
        .collect()
}

/// Far too many values.
#[completion]
fn numbers() -> Vec<String> {
    (0..150).map(|n| n.to_string()).collect()
}

/// A poem in a mood.
#[prompt(complete(topic = topics, count = numbers))]
async fn poem(topic: String, mood: Option<String>, count: Option<u32>) -> String {
    format!("{topic} {mood:?} {count:?}")
}

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

/// Arguments whose names are Rust keywords or not Rust names at all.
#[prompt]
async fn label(
    /// What kind of label.
    #[serde(rename = "type")]
    kind: String,
    /// The label's text.
    #[serde(rename = "label-text")]
    text: Option<String>,
) -> String {
    format!("{kind}: {text:?}")
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
        Err(TestError::Protocol { code, message }) => (code, message),
        other => panic!("{name} was not refused: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn prompts_are_listed_with_their_arguments() {
    let server = server().await;
    let listed = serde_json::to_value(server.prompts()).unwrap_or_default();
    let listed: Vec<&Value> = listed
        .as_array()
        .map(|a| a.iter().filter(|p| p["name"] != "mango-rt_poem").collect())
        .unwrap_or_default();
    assert_eq!(
        json!(listed),
        json!([
            {"name": "mango-rt_haiku", "title": "Haiku", "description": "Ask for a haiku.",
             "arguments": [{"name": "topic", "description": "What the haiku is about.", "required": true}]},
            {"name": "mango-rt_label", "description": "Arguments whose names are Rust keywords or not Rust names at all.",
             "arguments": [
                {"name": "type", "description": "What kind of label.", "required": true},
                {"name": "label-text", "description": "The label's text.", "required": false}
             ]},
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
    let r = get(
        &server,
        "mango-rt_label",
        json!({"type": "warning", "label-text": "hot"}),
    )
    .await;
    assert_eq!(
        r["messages"][0]["content"]["text"],
        "warning: Some(\"hot\")"
    );
    let (_, message) = refused(&server, "mango-rt_label", json!({"kind": "warning"})).await;
    assert!(message.contains("type"), "{message}");
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

#[tokio::test(flavor = "multi_thread")]
async fn arguments_are_completed_with_what_was_given() {
    let server = server().await;
    let complete = |argument: &'static str,
                    value: &'static str,
                    given: &'static [(&'static str, &'static str)]| {
        let server = &server;
        async move {
            server
                .complete_prompt("mango-rt_poem", argument, value, given)
                .await
        }
    };
    assert_eq!(
        complete("topic", "r", &[]).await.ok(),
        Some(vec!["rain".into(), "rivers".into(), "rust".into()])
    );
    assert_eq!(
        complete("topic", "ri", &[]).await.ok(),
        Some(vec!["rivers".into()])
    );
    assert_eq!(
        complete("topic", "x", &[("mood", "calm")]).await.ok(),
        Some(vec!["calm x".into()]),
        "the other arguments given reach the completion"
    );
    assert_eq!(
        complete("mood", "c", &[]).await.ok(),
        Some(vec![]),
        "nothing completes `mood`"
    );
    let many = complete("count", "", &[]).await.ok().unwrap_or_default();
    assert_eq!(many.len(), 100, "MCP allows 100 values at most");
    match complete("colour", "r", &[]).await {
        Err(TestError::Protocol { code, message }) => {
            assert_eq!(code, -32602);
            assert!(message.contains("no argument `colour`"), "{message}");
        }
        other => panic!("an unknown argument was completed: {other:?}"),
    }
    match server
        .complete_prompt("mango-rt_nope", "topic", "", &[])
        .await
    {
        Err(TestError::Protocol { message, .. }) => {
            assert!(message.contains("unknown prompt"), "{message}")
        }
        other => panic!("an unknown prompt was completed: {other:?}"),
    }
}
