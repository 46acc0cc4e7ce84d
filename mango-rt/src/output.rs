//! What a tool gives back, before it becomes an MCP `CallToolResult`.

use std::any::Any;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;

/// A boxed, sendable future (the shape of a generated tool call).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The outcome of one tool call, before it is put in MCP's shape.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutput {
    /// The tool returned `()`.
    Empty,
    /// The tool returned text.
    Text(String),
    /// The tool returned a value with a schema.
    Json(serde_json::Value),
    /// The call failed: the message is what the caller reads (`isError: true`).
    Error(String),
}

impl ToolOutput {
    pub fn text(text: impl Into<String>) -> Self {
        ToolOutput::Text(text.into())
    }

    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_value(value) {
            Ok(v) => ToolOutput::Json(v),
            Err(e) => ToolOutput::Error(format!("the tool's result could not be serialized: {e}")),
        }
    }

    /// An error result carrying the error's message (with its causes, for error types
    /// that print them under `{:#}`, such as anyhow's).
    pub fn error(error: impl Display) -> Self {
        ToolOutput::Error(format!("{error:#}"))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, ToolOutput::Error(_))
    }

    /// The MCP result. `wrap` puts a JSON value under `{"result": …}` (for result types
    /// whose schema is not an object).
    pub(crate) fn into_call_tool_result(self, wrap: bool) -> CallToolResult {
        match self {
            ToolOutput::Empty => CallToolResult::success(Vec::new()),
            ToolOutput::Text(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
            ToolOutput::Json(value) => {
                let value = if wrap || !value.is_object() {
                    serde_json::json!({ "result": value })
                } else {
                    value
                };
                CallToolResult::structured(value)
            }
            ToolOutput::Error(message) => CallToolResult::error(vec![ContentBlock::text(message)]),
        }
    }
}

/// Awaits a tool's or command's future; a panic in it becomes an error result
/// ("the tool panicked: …").
pub(crate) async fn catching_panics(
    future: impl Future<Output = ToolOutput> + Send,
    what: &str,
) -> ToolOutput {
    use futures_util::FutureExt;
    match std::panic::AssertUnwindSafe(future).catch_unwind().await {
        Ok(output) => output,
        Err(payload) => ToolOutput::Error(format!(
            "the {what} panicked: {}",
            panic_message(payload.as_ref())
        )),
    }
}

/// "; did you mean `a` or `b`?" for the candidates close to `name` (empty if none is).
pub(crate) fn did_you_mean(name: &str, candidates: impl Iterator<Item = String>) -> String {
    let mut close: Vec<(f64, String)> = candidates
        .map(|c| (strsim::jaro_winkler(name, &c), c))
        .filter(|(score, _)| *score > 0.8)
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0));
    close.dedup_by(|a, b| a.1 == b.1);
    if close.is_empty() {
        return String::new();
    }
    let names: Vec<String> = close
        .iter()
        .take(3)
        .map(|(_, n)| format!("`{n}`"))
        .collect();
    format!("; did you mean {}?", names.join(" or "))
}

/// The message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_owned()
    }
}

/// Runs a plain (non-async) tool body on tokio's blocking threads, so that it never stalls
/// the threads that serve other calls. A panic becomes an error result.
pub async fn blocking<F, T>(f: F) -> Result<T, ToolOutput>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(out) => Ok(out),
        Err(e) if e.is_panic() => Err(ToolOutput::Error(format!(
            "the tool panicked: {}",
            panic_message(&*e.into_panic())
        ))),
        Err(e) => Err(ToolOutput::Error(format!("the tool was cancelled: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_and_wrapped_values_go_under_result() {
        let r = ToolOutput::Json(serde_json::json!(3)).into_call_tool_result(true);
        assert_eq!(r.structured_content, Some(serde_json::json!({"result": 3})));
        let r = ToolOutput::Json(serde_json::json!({"a": 1})).into_call_tool_result(false);
        assert_eq!(r.structured_content, Some(serde_json::json!({"a": 1})));
        let r = ToolOutput::error("boom").into_call_tool_result(false);
        assert_eq!(r.is_error, Some(true));
    }
}
