//! The call pipeline, in process: arguments, injection, results, errors, panics.

use mango_rt::testing::TestServer;
use mango_rt::{Content, Context, Rich, tool};
use serde_json::{Value, json};

#[derive(mango_rt::serde::Serialize, mango_rt::schemars::JsonSchema)]
#[serde(crate = "mango_rt::serde")]
#[schemars(crate = "mango_rt::schemars")]
struct Sum {
    total: i64,
}

/// Add two numbers.
#[tool(read_only, idempotent)]
async fn add(
    /// The first number.
    a: i64,
    /// The second number.
    b: i64,
) -> i64 {
    a + b
}

/// Add, as an object.
#[tool(name = "sum_object", title = "Sum")]
async fn sum(a: i64, b: i64) -> Sum {
    Sum { total: a + b }
}

/// Greet someone, from a plain fn.
#[tool]
fn greet(name: String, #[serde(default)] shout: Option<bool>) -> String {
    let text = format!("hello, {name}");
    if shout.unwrap_or(false) {
        text.to_uppercase()
    } else {
        text
    }
}

/// Fails on purpose.
#[tool]
async fn divide(a: i64, b: i64) -> mango_rt::Result<i64> {
    if b == 0 {
        return Err(mango_rt::ToolError::new("cannot divide by zero"));
    }
    Ok(a / b)
}

/// Panics on purpose.
#[tool]
async fn explode() -> String {
    panic!("kaboom")
}

/// Panics on purpose, from a blocking fn.
#[tool]
fn explode_blocking() {
    panic!("kaboom too")
}

/// Tells which tool and transport it runs as.
#[tool]
async fn whoami(ctx: &Context) -> Value {
    json!({"tool": ctx.target().name, "app": ctx.app(), "transport": ctx.transport().to_string()})
}

async fn server() -> TestServer {
    match TestServer::new().await {
        Ok(server) => server,
        Err(e) => panic!("{e}"),
    }
}

async fn call(server: &TestServer, name: &str, args: Value) -> Value {
    let result = server.call(name, args).await.expect("tool exists");
    result.to_json()
}

/// A caption, a picture, a sound, an embedded note and a link.
#[tool]
async fn picture() -> Vec<Content> {
    vec![
        Content::text("a dot"),
        Content::image([137u8, 80, 78, 71], "image/png"),
        Content::audio(b"RIFF", "audio/wav"),
        Content::embedded_text("notes://1", "hello", "text/plain"),
        Content::link("notes://recent", "Recent notes"),
    ]
}

/// One block.
#[tool]
async fn one_block() -> Content {
    Content::text("just this")
}

/// A sum, with a sentence for people beside it.
#[tool]
async fn explained_sum(a: i64, b: i64) -> mango_rt::Result<Rich<Sum>> {
    Ok(Rich::new(Sum { total: a + b }).with(format!("{a} + {b} = {}", a + b)))
}

/// The tool as `tools/list` gives it, in JSON.
fn tool(server: &TestServer, name: &str) -> Value {
    match server.tools().iter().find(|t| t.name() == name) {
        Some(tool) => tool.to_json(),
        None => panic!("no tool {name}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_are_listed_sorted_with_prefix_and_schemas() {
    let rt = server().await;
    let names: Vec<&str> = rt.tool_names();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(names.contains(&"mango-rt_add"), "{names:?}");
    let add = tool(&rt, "mango-rt_add");
    let schema = add["inputSchema"].clone();
    assert_eq!(
        schema["properties"]["a"]["description"],
        "The first number."
    );
    assert_eq!(schema["required"], json!(["a", "b"]));
    assert!(schema.get("title").is_none());
    assert_eq!(add["description"], "Add two numbers.");
    let out = add["outputSchema"].clone();
    assert_eq!(out["properties"]["result"]["type"], "integer");
    let ann = &add["annotations"];
    assert_eq!(
        (&ann["readOnlyHint"], &ann["idempotentHint"]),
        (&json!(true), &json!(true))
    );
    let greet = tool(&rt, "mango-rt_greet");
    assert!(greet.get("outputSchema").is_none());
    let schema = greet["inputSchema"].clone();
    assert_eq!(schema["required"], json!(["name"]));
    let sum = tool(&rt, "mango-rt_sum_object");
    assert_eq!(sum["title"], "Sum");
    let whoami = tool(&rt, "mango-rt_whoami")["inputSchema"].clone();
    assert_eq!(
        whoami["properties"],
        json!({}),
        "injected values are not arguments"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn results_take_the_shape_of_the_return_type() {
    let rt = server().await;
    let r = call(&rt, "mango-rt_add", json!({"a": 2, "b": 3})).await;
    assert_eq!(r["structuredContent"], json!({"result": 5}));
    assert_eq!(r["content"][0]["text"], "{\"result\":5}");
    let r = call(&rt, "mango-rt_sum_object", json!({"a": 2, "b": 3})).await;
    assert_eq!(r["structuredContent"], json!({"total": 5}));
    let r = call(&rt, "mango-rt_greet", json!({"name": "ada", "shout": true})).await;
    assert_eq!(r["content"][0]["text"], "HELLO, ADA");
    assert!(r.get("isError").is_none_or(|e| e == false), "{r}");
    let r = call(&rt, "mango-rt_whoami", json!({})).await;
    // `Value` has no object schema, so it is wrapped like a scalar.
    assert_eq!(
        r["structuredContent"],
        json!({"result": {"tool": "mango-rt_whoami", "app": "mango-rt", "transport": "in-process"}})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_and_panics_are_error_results() {
    let rt = server().await;
    let r = call(&rt, "mango-rt_divide", json!({"a": 1, "b": 0})).await;
    assert_eq!(
        (r["isError"].clone(), r["content"][0]["text"].clone()),
        (json!(true), json!("cannot divide by zero"))
    );
    let r = call(&rt, "mango-rt_explode", json!({})).await;
    assert_eq!(r["isError"], true);
    assert!(
        r["content"][0]["text"]
            .as_str()
            .expect("text")
            .contains("kaboom"),
        "{r}"
    );
    let r = call(&rt, "mango-rt_explode_blocking", json!({})).await;
    assert!(
        r["content"][0]["text"]
            .as_str()
            .expect("text")
            .contains("kaboom too"),
        "{r}"
    );
    // still serving
    let r = call(&rt, "mango-rt_add", json!({"a": 1, "b": 1})).await;
    assert_eq!(r["structuredContent"]["result"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_arguments_name_the_field() {
    let rt = server().await;
    let r = call(&rt, "mango-rt_add", json!({"a": 1, "b": "two"})).await;
    assert_eq!(r["isError"], true);
    let text = r["content"][0]["text"].as_str().expect("text");
    assert!(
        text.contains("`b`") && text.contains("expected i64"),
        "{text}"
    );
    let r = call(&rt, "mango-rt_add", json!({"a": 1})).await;
    assert!(
        r["content"][0]["text"]
            .as_str()
            .expect("text")
            .contains("missing field `b`"),
        "{r}"
    );
    let r = call(&rt, "mango-rt_add", json!({"a": 1, "b": 2, "c": 3})).await;
    assert!(
        r["content"][0]["text"]
            .as_str()
            .expect("text")
            .contains("unknown field `c`"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_tools_suggest_close_names() {
    let rt = server().await;
    let message = match rt.call("mango-rt_ad", json!({})).await {
        Err(e) => e.to_string(),
        Ok(r) => panic!("a call of an unknown tool answered {r:?}"),
    };
    assert!(message.contains("did you mean `mango-rt_add`"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tools_return_rich_content() {
    let rt = server().await;
    let r = call(&rt, "mango-rt_picture", json!({})).await;
    let types: Vec<&str> = r["content"]
        .as_array()
        .expect("content")
        .iter()
        .map(|b| b["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        ["text", "image", "audio", "resource", "resource_link"]
    );
    assert_eq!(
        r["content"][1]["data"], "iVBORw==",
        "bytes go base64-encoded"
    );
    assert_eq!(r["content"][1]["mimeType"], "image/png");
    assert_eq!(r["content"][2]["data"], "UklGRg==");
    assert_eq!(r["content"][3]["resource"]["text"], "hello");
    assert_eq!(r["content"][4]["uri"], "notes://recent");
    assert!(r.get("structuredContent").is_none(), "{r}");
    assert!(tool(&rt, "mango-rt_picture").get("outputSchema").is_none());

    let r = call(&rt, "mango-rt_one_block", json!({})).await;
    assert_eq!(r["content"], json!([{"type": "text", "text": "just this"}]));

    let r = call(&rt, "mango-rt_explained_sum", json!({"a": 2, "b": 3})).await;
    assert_eq!(r["structuredContent"], json!({"total": 5}));
    assert_eq!(r["content"], json!([{"type": "text", "text": "2 + 3 = 5"}]));
    let schema = tool(&rt, "mango-rt_explained_sum")["outputSchema"].clone();
    assert_eq!(schema["properties"]["total"]["type"], "integer");
}

/// An app's own types, named as mango's are: each is a value the client gets as JSON
/// (what a result is shown as is decided by its traits, not by its name).
mod own {
    use mango_rt::schemars::JsonSchema;
    use mango_rt::serde::Serialize;
    use mango_rt::tool;

    #[derive(Serialize, JsonSchema)]
    #[serde(crate = "mango_rt::serde")]
    #[schemars(crate = "mango_rt::schemars")]
    pub struct Message {
        pub text: String,
    }

    #[derive(Serialize, JsonSchema)]
    #[serde(crate = "mango_rt::serde")]
    #[schemars(crate = "mango_rt::schemars")]
    pub struct Content {
        pub parts: u32,
    }

    #[derive(Serialize, JsonSchema)]
    #[serde(crate = "mango_rt::serde")]
    #[schemars(crate = "mango_rt::schemars")]
    pub struct Rich<T> {
        pub inner: T,
    }

    /// The app's own `Message`.
    #[tool]
    async fn own_message() -> Message {
        Message { text: "hi".into() }
    }

    /// The app's own `Content`, or an error.
    #[tool]
    fn own_content(fail: bool) -> Result<Content, String> {
        if fail {
            Err("no parts".into())
        } else {
            Ok(Content { parts: 2 })
        }
    }

    /// The app's own generic `Rich`.
    #[tool]
    async fn own_rich() -> Vec<Rich<u8>> {
        vec![Rich { inner: 7 }]
    }
}

/// A type of the app's shown its own way (`IntoOutput`), not as JSON.
struct Chart(u8);

impl mango_rt::IntoOutput for Chart {
    fn into_output(self) -> mango_rt::Output {
        mango_rt::IntoOutput::into_output(Content::text(format!("chart #{}", self.0)))
    }
}

/// A chart.
#[tool]
async fn chart(n: u8) -> mango_rt::Result<Chart> {
    if n == 0 {
        return Err(mango_rt::ToolError::new("no chart #0"));
    }
    Ok(Chart(n))
}

/// Bytes as JSON numbers (a tool's bare `Vec<u8>` would be a resource's blob).
#[tool]
async fn bytes_as_json() -> mango_rt::Json<Vec<u8>> {
    mango_rt::Json(vec![1, 2, 3])
}

#[tokio::test(flavor = "multi_thread")]
async fn results_are_shown_by_their_traits_not_their_names() {
    let rt = server().await;
    let r = call(&rt, "mango-rt_own_message", json!({})).await;
    assert_eq!(r["structuredContent"], json!({"text": "hi"}), "{r}");
    let r = call(&rt, "mango-rt_own_content", json!({"fail": false})).await;
    assert_eq!(r["structuredContent"], json!({"parts": 2}), "{r}");
    let r = call(&rt, "mango-rt_own_content", json!({"fail": true})).await;
    assert_eq!(
        (r["isError"].clone(), r["content"][0]["text"].clone()),
        (json!(true), json!("no parts"))
    );
    let r = call(&rt, "mango-rt_own_rich", json!({})).await;
    assert_eq!(r["structuredContent"], json!({"result": [{"inner": 7}]}));
    for name in ["mango-rt_own_message", "mango-rt_own_content"] {
        let out = tool(&rt, name)["outputSchema"].clone();
        assert_eq!(out["type"], "object", "{name}: {out}");
    }

    let r = call(&rt, "mango-rt_chart", json!({"n": 3})).await;
    assert_eq!(r["content"][0]["text"], "chart #3", "{r}");
    assert!(r.get("structuredContent").is_none(), "{r}");
    assert!(tool(&rt, "mango-rt_chart").get("outputSchema").is_none());
    let r = call(&rt, "mango-rt_chart", json!({"n": 0})).await;
    assert_eq!(r["content"][0]["text"], "no chart #0", "{r}");

    let r = call(&rt, "mango-rt_bytes_as_json", json!({})).await;
    assert_eq!(r["structuredContent"], json!({"result": [1, 2, 3]}), "{r}");
    let out = tool(&rt, "mango-rt_bytes_as_json")["outputSchema"].clone();
    assert_eq!(out["properties"]["result"]["type"], "array", "{out}");
}
