//! What an item gives back ([`Output`]), before it becomes MCP's result.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;

use super::{Content, Message};

/// A boxed, sendable future (the shape of a generated tool call).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The outcome of one call, before it is put in MCP's shape: what middleware sees in a
/// `Response`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Output {
    /// The tool returned `()`.
    Empty,
    /// The tool returned text.
    Text(String),
    /// The tool returned a value with a schema.
    Json(serde_json::Value),
    /// The tool returned content blocks (`Content`, `Vec<Content>`).
    Content(Vec<Content>),
    /// The tool returned a value with a schema and content blocks of its own to show
    /// beside it (`Rich<T>`).
    Rich {
        value: serde_json::Value,
        content: Vec<Content>,
    },
    /// Bytes (a resource's blob, sent base64-encoded).
    Blob(Vec<u8>),
    /// A prompt's messages.
    Messages(Vec<Message>),
    /// The call failed: the message is what the caller reads (`isError: true`).
    Error(String),
    /// The request was not valid (a template variable that does not parse …): a
    /// protocol error (-32602), not a result.
    Invalid(String),
    /// The item asked its client a question that has no answer yet (2026-07-28's
    /// rounds, `ctx.elicit` / `ctx.sample`): the round ends here, its transaction is
    /// rolled back, and the call runs again from the top with the client's answers.
    InputRequired,
}

impl Output {
    pub fn text(text: impl Into<String>) -> Self {
        Output::Text(text.into())
    }

    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_value(value) {
            Ok(v) => Output::Json(v),
            Err(e) => Output::Error(format!("the tool's result could not be serialized: {e}")),
        }
    }

    /// A value with content blocks beside it (generated code calls it for `Rich<T>`).
    pub fn rich<T: Serialize>(rich: Rich<T>) -> Self {
        match serde_json::to_value(&rich.value) {
            Ok(value) => Output::Rich {
                value,
                content: rich.content,
            },
            Err(e) => Output::Error(format!("the tool's result could not be serialized: {e}")),
        }
    }

    /// An error result carrying the error's message (with its causes, for error types
    /// that print them under `{:#}`, such as anyhow's).
    pub fn error(error: impl Display) -> Self {
        Output::Error(format!("{error:#}"))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Output::Error(_) | Output::Invalid(_))
    }

    /// Whether the call's work is to be committed: it ended, and not in an error.
    pub fn is_success(&self) -> bool {
        !self.is_error() && *self != Output::InputRequired
    }

    /// The MCP result. `wrap` puts a JSON value under `{"result": …}` (for result types
    /// whose schema is not an object).
    pub(crate) fn into_call_tool_result(self, wrap: bool) -> CallToolResult {
        match self {
            Output::Empty => CallToolResult::success(Vec::new()),
            Output::Text(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
            Output::Json(value) => CallToolResult::structured(wrapped(value, wrap)),
            Output::Content(content) => CallToolResult::success(blocks(content)),
            Output::Rich { value, content } => {
                let mut result = CallToolResult::success(blocks(content));
                result.structured_content = Some(wrapped(value, wrap));
                result
            }
            // Only resources give bytes; a tool (or a middleware) says what they are.
            Output::Blob(_) => CallToolResult::error(vec![ContentBlock::text(
                "a tool's result cannot be bare bytes: return Content::image, Content::audio or Content::embedded_blob",
            )]),
            Output::Messages(messages) => CallToolResult::success(
                messages
                    .into_iter()
                    .map(|m| m.into_rmcp().content)
                    .collect(),
            ),
            Output::Error(message) | Output::Invalid(message) => {
                CallToolResult::error(vec![ContentBlock::text(message)])
            }
            // Only a call in rounds (2026-07-28) can end asking; it never gets here.
            Output::InputRequired => CallToolResult::error(vec![ContentBlock::text(
                "the tool asked its client a question, but this call cannot carry one",
            )]),
        }
    }
}

/// What a `#[tool]`, `#[resource]`, `#[prompt]`, `#[completion]` or `#[command]`
/// function may return, besides a value the client gets as JSON (any `Serialize +
/// JsonSchema` type, with its schema as a tool's `outputSchema`) and `Result<T, E>` of
/// either (`E: Display`; an `Err` is an error result carrying its message).
///
/// mango implements it for `()` (nothing), `String` and `&str` (text), [`Content`] and
/// `Vec<Content>` (content blocks), [`Message`] and `Vec<Message>` (a prompt's
/// messages), `Vec<u8>` (a resource's bytes, sent base64-encoded), [`Rich<T>`] (a value
/// with content blocks beside it), [`Json<T>`] (a value as JSON, even of a type listed
/// here) and [`Output`] itself. An app implements it for a type of its own that is
/// shown some other way than as its JSON:
///
/// ```
/// use mango_rt::{Content, IntoOutput, Output};
///
/// struct Chart(Vec<u8>);
///
/// impl IntoOutput for Chart {
///     fn into_output(self) -> Output {
///         Content::image(self.0, "image/png").into_output()
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned by a mango item",
    label = "this is the item's result type",
    note = "return text (`String`), content (`Content`, `Vec<Content>`), a prompt's `Message`s, bytes (`Vec<u8>`, a resource's), `Rich<T>`, `()`, or a value the client gets as JSON: derive `Serialize` and `JsonSchema` for it",
    note = "or implement `mango_rt::IntoOutput` for it, to say how it is shown"
)]
pub trait IntoOutput {
    /// The value as the call's outcome.
    fn into_output(self) -> Output;

    /// The `outputSchema` a tool returning this type declares: none by default (only
    /// structured results have one).
    fn output_schema() -> Option<serde_json::Map<String, serde_json::Value>> {
        None
    }
}

impl IntoOutput for Output {
    fn into_output(self) -> Output {
        self
    }
}

impl IntoOutput for () {
    fn into_output(self) -> Output {
        Output::Empty
    }
}

impl IntoOutput for String {
    fn into_output(self) -> Output {
        Output::Text(self)
    }
}

impl IntoOutput for &str {
    fn into_output(self) -> Output {
        Output::Text(self.to_owned())
    }
}

impl IntoOutput for Content {
    fn into_output(self) -> Output {
        Output::Content(vec![self])
    }
}

impl IntoOutput for Vec<Content> {
    fn into_output(self) -> Output {
        Output::Content(self)
    }
}

impl IntoOutput for Message {
    fn into_output(self) -> Output {
        Output::Messages(vec![self])
    }
}

impl IntoOutput for Vec<Message> {
    fn into_output(self) -> Output {
        Output::Messages(self)
    }
}

/// A resource's bytes (a tool says what its bytes are: `Content::image` …).
impl IntoOutput for Vec<u8> {
    fn into_output(self) -> Output {
        Output::Blob(self)
    }
}

impl<T: Serialize + schemars::JsonSchema + 'static> IntoOutput for Rich<T> {
    fn into_output(self) -> Output {
        Output::rich(self)
    }

    fn output_schema() -> Option<serde_json::Map<String, serde_json::Value>> {
        json_schema::<T>()
    }
}

/// `T`'s schema, as a tool returning it declares it.
fn json_schema<T: schemars::JsonSchema + 'static>()
-> Option<serde_json::Map<String, serde_json::Value>> {
    Some((*crate::schema::output_schema::<T>()).clone())
}

/// A value the client gets as JSON (`structuredContent`, with its schema as the
/// tool's `outputSchema`), for a type that would otherwise be shown another way: a
/// tool's `Json<Vec<u8>>` is a list of numbers, its `Json<String>` a JSON string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Json<T>(pub T);

impl<T: Serialize + schemars::JsonSchema + 'static> IntoOutput for Json<T> {
    fn into_output(self) -> Output {
        Output::json(&self.0)
    }

    fn output_schema() -> Option<serde_json::Map<String, serde_json::Value>> {
        json_schema::<T>()
    }
}

/// A JSON result as structured content: an object as it is, anything else (or any value
/// when `wrap`) under `{"result": …}`.
fn wrapped(value: serde_json::Value, wrap: bool) -> serde_json::Value {
    if wrap || !value.is_object() {
        serde_json::json!({ "result": value })
    } else {
        value
    }
}

fn blocks(content: Vec<Content>) -> Vec<ContentBlock> {
    content.into_iter().map(Content::into_rmcp).collect()
}

/// A tool's structured result with content blocks beside it: the value is the tool's
/// `structuredContent` (with its `outputSchema`), the blocks are what a client shows
/// (in place of the value's JSON as text).
///
/// ```
/// use mango_rt::db::Db;
/// use mango_rt::{Content, Rich, tool};
///
/// #[mango_rt::data]
/// struct Stats {
///     notes: u32,
/// }
/// # async fn load(_: &mut Db) -> mango_rt::Result<Stats> { Ok(Stats { notes: 3 }) }
/// # fn plot(_: &Stats) -> Vec<u8> { vec![137, 80] }
///
/// #[tool]
/// async fn stats(db: &mut Db) -> mango_rt::Result<Rich<Stats>> {
///     let stats = load(db).await?;
///     let chart = Content::image(plot(&stats), "image/png");
///     Ok(Rich::new(stats).with(chart))
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Rich<T> {
    pub value: T,
    pub content: Vec<Content>,
}

impl<T> Rich<T> {
    /// The value, with no content yet.
    pub fn new(value: T) -> Self {
        Rich {
            value,
            content: Vec::new(),
        }
    }

    /// One more content block.
    pub fn with(mut self, content: impl Into<Content>) -> Self {
        self.content.push(content.into());
        self
    }
}

/// Awaits a tool's or command's future; a panic in it becomes an error result
/// ("the tool panicked: …").
pub(crate) async fn catching_panics(
    future: impl Future<Output = Output> + Send,
    what: &str,
) -> Output {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(future).catch_unwind().await {
        Ok(output) => output,
        Err(payload) => Output::Error(format!(
            "the {what} panicked: {}",
            crate::util::panic_message(payload.as_ref())
        )),
    }
}

/// Runs a plain (non-async) tool body on tokio's blocking threads, so that it never stalls
/// the threads that serve other calls. A panic becomes an error result.
pub async fn blocking<F, T>(f: F) -> Result<T, Output>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(out) => Ok(out),
        Err(e) if e.is_panic() => Err(Output::Error(format!(
            "the tool panicked: {}",
            crate::util::panic_message(&*e.into_panic())
        ))),
        Err(e) => Err(Output::Error(format!("the tool was cancelled: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_and_wrapped_values_go_under_result() {
        let r = Output::Json(serde_json::json!(3)).into_call_tool_result(true);
        assert_eq!(r.structured_content, Some(serde_json::json!({"result": 3})));
        let r = Output::Json(serde_json::json!({"a": 1})).into_call_tool_result(false);
        assert_eq!(r.structured_content, Some(serde_json::json!({"a": 1})));
        let r = Output::error("boom").into_call_tool_result(false);
        assert_eq!(r.is_error, Some(true));
    }
}
