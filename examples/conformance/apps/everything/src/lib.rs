//! The `everything` app: the tools, resources, prompts and completion that the official
//! MCP conformance suite (`@modelcontextprotocol/conformance`) calls, each as its
//! scenario describes it. Written with mango's public API only, as a user would.

use std::collections::HashMap;
use std::time::Duration;

use mango_rt::schemars::JsonSchema;
use mango_rt::serde::{Deserialize, Serialize};
use mango_rt::{
    Answer, Content, Context, Message, Sampling, ToolError, completion, prompt, resource, tool,
};

/// A 1×1 red pixel, as a PNG file.
const PNG: [u8; 69] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0,
    0, 0, 144, 119, 83, 222, 0, 0, 0, 12, 73, 68, 65, 84, 120, 156, 99, 248, 207, 192, 0, 0, 3, 1,
    1, 0, 201, 254, 146, 239, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

/// Two silent samples, as a WAV file.
const WAV: [u8; 48] = [
    82, 73, 70, 70, 40, 0, 0, 0, 87, 65, 86, 69, 102, 109, 116, 32, 16, 0, 0, 0, 1, 0, 1, 0, 64,
    31, 0, 0, 128, 62, 0, 0, 2, 0, 16, 0, 100, 97, 116, 97, 4, 0, 0, 0, 0, 0, 0, 0,
];

fn pause() -> impl std::future::Future<Output = ()> {
    mango_rt::tokio::time::sleep(Duration::from_millis(50))
}

/// Returns a simple text.
#[tool]
async fn test_simple_text() -> String {
    "This is a simple text response for testing.".into()
}

/// Returns an image.
#[tool]
async fn test_image_content() -> Content {
    Content::image(PNG, "image/png")
}

/// Returns audio.
#[tool]
async fn test_audio_content() -> Content {
    Content::audio(WAV, "audio/wav")
}

/// Returns an embedded resource.
#[tool]
async fn test_embedded_resource() -> Content {
    Content::embedded_text(
        "test://embedded-resource",
        "This is an embedded resource content.",
        "text/plain",
    )
}

/// Returns text, an image and an embedded resource.
#[tool]
async fn test_multiple_content_types() -> Vec<Content> {
    vec![
        Content::text("Multiple content types test:"),
        Content::image(PNG, "image/png"),
        Content::embedded_text(
            "test://mixed-content-resource",
            r#"{"test":"data","value":123}"#,
            "application/json",
        ),
    ]
}

/// Sends three log messages while it runs.
#[tool]
async fn test_tool_with_logging(ctx: &Context) -> String {
    ctx.info("Tool execution started").await;
    pause().await;
    ctx.info("Tool processing data").await;
    pause().await;
    ctx.info("Tool execution completed").await;
    "Tool with logging executed successfully".into()
}

/// Reports its progress: 0, 50 and 100 of 100.
#[tool]
async fn test_tool_with_progress(ctx: &Context) -> String {
    for (i, done) in [0.0, 50.0, 100.0].into_iter().enumerate() {
        if i > 0 {
            pause().await;
        }
        ctx.progress(done, Some(100.0), None).await;
    }
    "Tool with progress executed successfully".into()
}

/// Always fails.
#[tool]
async fn test_error_handling() -> Result<String, ToolError> {
    Err(ToolError::new(
        "This tool intentionally returns an error for testing",
    ))
}

/// Asks the client's model to answer `prompt`.
#[tool]
async fn test_sampling(
    /// The prompt to send to the LLM.
    prompt: String,
    ctx: &Context,
) -> Result<String, ToolError> {
    let reply = ctx.sample(Sampling::new(prompt).max_tokens(100)).await?;
    Ok(format!("LLM response: {}", reply.text()))
}

/// What `test_elicitation` asks for.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(crate = "mango_rt::serde")]
#[schemars(crate = "mango_rt::schemars")]
struct UserInfo {
    /// User's response
    username: String,
    /// User's email address
    email: String,
}

/// How an answer reads in the suite's expected texts.
fn described<T: mango_rt::serde::Serialize>(answer: &Answer<T>) -> String {
    match answer {
        Answer::Accept(content) => format!(
            "action=accept, content={}",
            mango_rt::serde_json::to_string(content).unwrap_or_default()
        ),
        other => format!("action={}", other.action()),
    }
}

/// Asks the user for their name and email.
#[tool]
async fn test_elicitation(
    /// The message to show the user.
    message: String,
    ctx: &Context,
) -> Result<String, ToolError> {
    let answer = ctx.elicit::<UserInfo>(message).await?;
    Ok(format!("User response: {}", described(&answer)))
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(crate = "mango_rt::serde", rename_all = "lowercase")]
#[schemars(crate = "mango_rt::schemars")]
enum Status {
    Active,
    Inactive,
    Pending,
}

fn john_doe() -> String {
    "John Doe".into()
}
fn thirty() -> i64 {
    30
}
fn score() -> f64 {
    95.5
}
fn active() -> Status {
    Status::Active
}
fn yes() -> bool {
    true
}

/// A form whose fields all have defaults (SEP-1034).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(crate = "mango_rt::serde")]
#[schemars(crate = "mango_rt::schemars")]
struct Defaults {
    #[serde(default = "john_doe")]
    name: String,
    #[serde(default = "thirty")]
    age: i64,
    #[serde(default = "score")]
    score: f64,
    #[serde(default = "active")]
    status: Status,
    #[serde(default = "yes")]
    verified: bool,
}

/// Asks with a form of defaults for every primitive type.
#[tool]
async fn test_elicitation_sep1034_defaults(ctx: &Context) -> Result<String, ToolError> {
    let answer = ctx.elicit::<Defaults>("Please review your details").await?;
    Ok(format!("Elicitation completed: {}", described(&answer)))
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(crate = "mango_rt::serde")]
#[schemars(crate = "mango_rt::schemars")]
enum Plain {
    #[serde(rename = "option1")]
    One,
    #[serde(rename = "option2")]
    Two,
    #[serde(rename = "option3")]
    Three,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(crate = "mango_rt::serde")]
#[schemars(crate = "mango_rt::schemars")]
enum Titled {
    #[serde(rename = "value1")]
    #[schemars(title = "First Option")]
    One,
    #[serde(rename = "value2")]
    #[schemars(title = "Second Option")]
    Two,
    #[serde(rename = "value3")]
    #[schemars(title = "Third Option")]
    Three,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(crate = "mango_rt::serde")]
#[schemars(crate = "mango_rt::schemars")]
enum Legacy {
    #[serde(rename = "opt1")]
    One,
    #[serde(rename = "opt2")]
    Two,
    #[serde(rename = "opt3")]
    Three,
}

/// Every kind of choice (SEP-1330).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(crate = "mango_rt::serde", rename_all = "camelCase")]
#[schemars(crate = "mango_rt::schemars", rename_all = "camelCase")]
struct Enums {
    untitled_single: Plain,
    titled_single: Titled,
    /// The deprecated way to title choices: `enumNames` beside `enum`.
    #[schemars(extend("enumNames" = ["Option One", "Option Two", "Option Three"]))]
    legacy_enum: Legacy,
    untitled_multi: Vec<Plain>,
    titled_multi: Vec<Titled>,
}

/// Asks with every kind of choice.
#[tool]
async fn test_elicitation_sep1330_enums(ctx: &Context) -> Result<String, ToolError> {
    let answer = ctx.elicit::<Enums>("Please choose").await?;
    Ok(format!("Elicitation completed: {}", described(&answer)))
}

/// A street address (the suite wants its definition under `$defs.address`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(crate = "mango_rt::serde")]
#[schemars(crate = "mango_rt::schemars", rename = "address")]
struct Address {
    street: Option<String>,
    city: Option<String>,
}

/// Tool with JSON Schema 2020-12 features
#[tool(dialect = "https://json-schema.org/draft/2020-12/schema")]
async fn json_schema_2020_12_tool(name: Option<String>, address: Option<Address>) -> String {
    format!(
        "{} lives at {}",
        name.as_deref().unwrap_or("someone"),
        address
            .map(|a| format!(
                "{}, {}",
                a.street.unwrap_or_default(),
                a.city.unwrap_or_default()
            ))
            .unwrap_or_else(|| "no address".into())
    )
}

/// A static text resource.
#[resource("test://static-text", mime_type = "text/plain")]
async fn static_text() -> String {
    "This is the content of the static text resource.".into()
}

/// A static binary resource (a PNG image).
#[resource("test://static-binary", mime_type = "image/png")]
async fn static_binary() -> Vec<u8> {
    PNG.to_vec()
}

/// A resource the suite subscribes to.
#[resource("test://watched-resource", mime_type = "text/plain")]
async fn watched_resource() -> String {
    "Watched resource content.".into()
}

/// Data for an id, from a template.
#[resource("test://template/{id}/data", mime_type = "application/json")]
async fn template_data(id: String) -> String {
    format!(r#"{{"id":"{id}","templateTest":true,"data":"Data for ID: {id}"}}"#)
}

/// A prompt without arguments.
#[prompt]
async fn test_simple_prompt() -> String {
    "This is a simple prompt for testing.".into()
}

/// Values for `arg1` that start with what was typed.
#[completion]
async fn arg1_values(value: String, context: HashMap<String, String>) -> Vec<String> {
    let _ = context;
    ["paris", "park", "party"]
        .iter()
        .filter(|v| v.starts_with(&value))
        .map(|v| (*v).to_owned())
        .collect()
}

/// A prompt with two arguments.
#[prompt(complete(arg1 = arg1_values))]
async fn test_prompt_with_arguments(
    /// First test argument.
    arg1: String,
    /// Second test argument.
    arg2: String,
) -> String {
    format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")
}

/// A prompt that embeds a resource.
#[prompt]
#[allow(non_snake_case)] // the suite names the argument `resourceUri`
async fn test_prompt_with_embedded_resource(
    /// The URI of the resource to embed.
    resourceUri: String,
) -> Vec<Message> {
    vec![
        Message::user(Content::embedded_text(
            resourceUri,
            "Embedded resource content for testing.",
            "text/plain",
        )),
        Message::user("Please process the embedded resource above."),
    ]
}

/// A prompt with an image.
#[prompt]
async fn test_prompt_with_image() -> Vec<Message> {
    vec![
        Message::user(Content::image(PNG, "image/png")),
        Message::user("Please analyze the image above."),
    ]
}
