//! `completion/complete`: the `#[completion]` fns that prompts and resource templates
//! name for their arguments, run through the pipeline.

use std::sync::Arc;

use rmcp::model::{CompleteResult, CompletionInfo};

use crate::call::{BoxFuture, Call, Output};
use crate::chain::{Endpoint, Request};
use crate::registry::CompletionEntry;

/// The end of a completion's chain: its generated call.
struct CompletionEndpoint(fn(Call) -> BoxFuture<Output>);

impl Endpoint for CompletionEndpoint {
    fn start(&self, req: &mut Request) -> BoxFuture<Output> {
        (self.0)(req.take_call())
    }

    fn what(&self) -> &'static str {
        "completion"
    }
}

/// An item's completions, by argument.
pub(crate) struct Completions(Vec<(&'static str, Arc<dyn Endpoint>)>);

impl Completions {
    pub fn new(entries: &'static [CompletionEntry]) -> Completions {
        Completions(
            entries
                .iter()
                .map(|c| {
                    let endpoint: Arc<dyn Endpoint> = Arc::new(CompletionEndpoint(c.complete));
                    (c.argument, endpoint)
                })
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, argument: &str) -> Option<&Arc<dyn Endpoint>> {
        self.0.iter().find(|(a, _)| *a == argument).map(|(_, e)| e)
    }
}

/// The arguments a completion fn gets: `value`, `argument`, `context`.
pub(crate) fn arguments(
    argument: &str,
    value: &str,
    context: std::collections::HashMap<String, String>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut map = serde_json::Map::new();
    map.insert("value".into(), value.into());
    map.insert("argument".into(), argument.into());
    map.insert(
        "context".into(),
        serde_json::Value::Object(
            context
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect(),
        ),
    );
    map
}

/// MCP's result for a completion fn's output (at most 100 values, as MCP allows; the
/// total says how many there were).
pub(crate) fn result(output: Output) -> Result<CompleteResult, Output> {
    let values: Vec<String> = match output {
        Output::Json(serde_json::Value::Array(values)) => values
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        Output::Empty => Vec::new(),
        Output::Text(text) => vec![text],
        failed @ (Output::Error(_) | Output::Invalid(_)) => return Err(failed),
        other => {
            return Err(Output::Error(format!(
                "a completion returns a list of values (`Vec<String>`), not {other:?}"
            )));
        }
    };
    let total = values.len();
    let has_more = total > CompletionInfo::MAX_VALUES;
    let values: Vec<String> = values
        .into_iter()
        .take(CompletionInfo::MAX_VALUES)
        .collect();
    let info = CompletionInfo::with_pagination(values, u32::try_from(total).ok(), has_more)
        .map_err(Output::Error)?;
    Ok(CompleteResult::new(info))
}

/// An empty completion (an argument nothing completes).
pub(crate) fn none() -> CompleteResult {
    CompleteResult::new(CompletionInfo::default())
}
