//! `tools/list` with 1,000 registered tools, in process: mango's handler and a
//! hand-written rmcp handler listing the same 1,000 tools, each served by rmcp over an
//! in-memory pipe (JSON lines, as over stdio), timed from writing the request to
//! reading the whole answer. Prints one JSON object on stdout.
//!
//! The 1,000 tools are copies of one real `#[tool]` (its generated argument parsing,
//! schema and call), registered under 1,000 names.
//!
//! usage: tools-list [<repetitions>]

use std::sync::Arc;
use std::time::Instant;

// mango's side is built through the runtime's hook for this benchmark (not an API).
use mango_bench::pipe::Pipe;
use mango_bench::timing::summary;
use mango_rt::__private::{EntryMeta, TOOLS, ToolEntry, benchmark_hook_server};
use mango_rt::tool;
use rmcp::RoleServer;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    ErrorData, Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::RequestContext;

const TOOL_COUNT: usize = 1000;

/// Add two numbers.
#[tool]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

/// The raw rmcp side: a handler that lists the same tools.
#[derive(Clone)]
struct RawList(Arc<Vec<Tool>>);

impl ServerHandler for RawList {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("raw-rmcp", "0"))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items((*self.0).clone()))
    }
}

#[derive(schemars::JsonSchema)]
#[allow(dead_code)] // only its schema is used
struct AddArgs {
    a: i64,
    b: i64,
}

#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct AddResult {
    result: i64,
}

/// The same 1,000 tools, as a hand-written rmcp server declares them (rmcp's own schema
/// generation, output schema included). rmcp caches a type's schema, so each tool gets
/// a copy of its own, as 1,000 different tools would have 1,000 different schemas (and
/// as mango's 1,000 registrations have).
fn raw_tools() -> Vec<Tool> {
    use rmcp::handler::server::common::schema_for_type;
    (0..TOOL_COUNT)
        .map(|i| {
            Tool::new(
                format!("tool_{i:04}"),
                "Add two numbers.",
                Arc::new((*schema_for_type::<AddArgs>()).clone()),
            )
            .with_raw_output_schema(Arc::new((*schema_for_type::<AddResult>()).clone()))
        })
        .collect()
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// 1,000 copies of the `add` tool under the names `tool_0000` … `tool_0999`.
fn entries() -> Result<Vec<&'static ToolEntry>, String> {
    let add = TOOLS
        .iter()
        .find(|t| t.meta.name == "add")
        .ok_or("the `add` tool is not linked")?;
    Ok((0..TOOL_COUNT)
        .map(|i| {
            &*Box::leak(Box::new(ToolEntry {
                meta: EntryMeta {
                    app: "bench",
                    name: leak(format!("tool_{i:04}")),
                    ..add.meta
                },
                title: None,
                ..*add
            }))
        })
        .collect())
}

/// One `tools/list`, timed from writing the request to reading the whole answer
/// (ms); the answer is checked after the clock stopped.
async fn list(pipe: &mut Pipe, id: u64) -> Result<f64, String> {
    let started = Instant::now();
    pipe.send(&format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#
    ))
    .await?;
    pipe.read_line().await?;
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    let count = serde_json::from_slice::<serde_json::Value>(&pipe.line)
        .ok()
        .and_then(|v| v["result"]["tools"].as_array().map(Vec::len));
    if count != Some(TOOL_COUNT) {
        return Err(format!(
            "expected {TOOL_COUNT} tools, got {count:?}: {}",
            String::from_utf8_lossy(&pipe.line[..pipe.line.len().min(300)])
        ));
    }
    Ok(elapsed)
}

async fn run(repetitions: usize) -> Result<serde_json::Value, String> {
    let server = benchmark_hook_server(entries()?.into_iter()).map_err(|e| e.to_string())?;
    let mut mango = Pipe::open(server);
    mango.initialize().await?;
    let mut raw = Pipe::open(RawList(Arc::new(raw_tools())));
    raw.initialize().await?;
    let mut id = 0;
    let (mut mango_times, mut raw_times) = (Vec::new(), Vec::new());
    // The two alternate, request by request, so that neither runs in the other's wake
    // (the allocator's state after 350 KB answers matters); the first ten are a warm-up.
    for i in 0..repetitions + 10 {
        let (m, r) = if i % 2 == 0 {
            id += 1;
            let m = list(&mut mango, id).await?;
            (m, list(&mut raw, id).await?)
        } else {
            id += 1;
            let r = list(&mut raw, id).await?;
            (list(&mut mango, id).await?, r)
        };
        if i >= 10 {
            mango_times.push(m);
            raw_times.push(r);
        }
    }
    let bytes = mango.line.len();
    Ok(serde_json::json!({
        "tools": TOOL_COUNT,
        "answer_bytes": bytes,
        "mango": summary(mango_times),
        "raw rmcp": summary(raw_times),
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let repetitions = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    match run(repetitions).await {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("tools-list: {e}");
            std::process::exit(1);
        }
    }
}
