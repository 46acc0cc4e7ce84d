//! What an item gives back ([`Output`]), before it becomes MCP's result.

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;

/// A boxed, sendable future (the shape of a generated tool call).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The outcome of one call, before it is put in MCP's shape: what middleware sees in a
/// `Response`.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The tool returned `()`.
    Empty,
    /// The tool returned text.
    Text(String),
    /// The tool returned a value with a schema.
    Json(serde_json::Value),
    /// The call failed: the message is what the caller reads (`isError: true`).
    Error(String),
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

    /// An error result carrying the error's message (with its causes, for error types
    /// that print them under `{:#}`, such as anyhow's).
    pub fn error(error: impl Display) -> Self {
        Output::Error(format!("{error:#}"))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Output::Error(_))
    }

    /// The MCP result. `wrap` puts a JSON value under `{"result": …}` (for result types
    /// whose schema is not an object).
    pub(crate) fn into_call_tool_result(self, wrap: bool) -> CallToolResult {
        match self {
            Output::Empty => CallToolResult::success(Vec::new()),
            Output::Text(text) => CallToolResult::success(vec![ContentBlock::text(text)]),
            Output::Json(value) => {
                let value = if wrap || !value.is_object() {
                    serde_json::json!({ "result": value })
                } else {
                    value
                };
                CallToolResult::structured(value)
            }
            Output::Error(message) => CallToolResult::error(vec![ContentBlock::text(message)]),
        }
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
