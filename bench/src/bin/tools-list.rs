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

use mango_rt::registry::{TOOLS, ToolEntry};
use mango_rt::server::{MangoServer, Runtime};
use mango_rt::{Settings, TransportKind, tool};
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    ErrorData, Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{RoleServer, ServiceExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

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

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// 1,000 copies of the `add` tool under the names `tool_0000` … `tool_0999`.
fn entries() -> Result<Vec<&'static ToolEntry>, String> {
    let add = TOOLS
        .iter()
        .find(|t| t.name == "add")
        .ok_or("the `add` tool is not linked")?;
    Ok((0..TOOL_COUNT)
        .map(|i| {
            &*Box::leak(Box::new(ToolEntry {
                app: "bench",
                name: leak(format!("tool_{i:04}")),
                description: add.description,
                title: None,
                annotations: add.annotations,
                input_schema: add.input_schema,
                output: add.output,
                atomic: add.atomic,
                call: add.call,
                module_path: add.module_path,
                file: add.file,
                line: add.line,
            }))
        })
        .collect())
}

/// Serves `handler` over an in-memory pipe and times `repetitions` `tools/list`
/// requests; returns the latencies in milliseconds and the size of one answer.
async fn time_list<H: ServerHandler>(
    handler: H,
    repetitions: usize,
) -> Result<(Vec<f64>, usize), String> {
    let (client, server) = tokio::io::duplex(1 << 20);
    let (read, write) = tokio::io::split(server);
    let running = tokio::spawn(async move {
        if let Ok(service) = handler.serve((read, write)).await {
            let _ = service.waiting().await;
        }
    });
    let (read, mut write) = tokio::io::split(client);
    let mut lines = BufReader::with_capacity(1 << 20, read).lines();
    let mut send = async |line: String| -> Result<(), String> {
        write
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| e.to_string())
    };
    send(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}"#.into()).await?;
    lines.next_line().await.map_err(|e| e.to_string())?;
    send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.into()).await?;
    let mut times = Vec::with_capacity(repetitions);
    let mut size = 0;
    for id in 1..=repetitions + 10 {
        let started = Instant::now();
        send(format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/list"}}"#
        ))
        .await?;
        let line = lines
            .next_line()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the server stopped")?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        let count = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["result"]["tools"].as_array().map(Vec::len));
        if count != Some(TOOL_COUNT) {
            return Err(format!(
                "expected {TOOL_COUNT} tools, got {count:?}: {}",
                &line[..line.len().min(300)]
            ));
        }
        // The first ten are a warm-up.
        if id > 10 {
            times.push(elapsed);
        }
        size = line.len();
    }
    running.abort();
    Ok((times, size))
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn summary(mut times: Vec<f64>) -> serde_json::Value {
    times.sort_by(f64::total_cmp);
    serde_json::json!({"p50_ms": quantile(&times, 0.5), "p99_ms": quantile(&times, 0.99)})
}

async fn run(repetitions: usize) -> Result<serde_json::Value, String> {
    let runtime = Runtime::from_entries(
        Settings::default(),
        &[],
        "bench",
        "0",
        entries()?.into_iter(),
    )
    .map_err(|e| e.to_string())?;
    let tools: Vec<Tool> = runtime.tools.iter().map(|t| t.tool.clone()).collect();
    let mango = MangoServer::new(Arc::new(runtime), TransportKind::Stdio);
    let (mango_times, bytes) = time_list(mango, repetitions).await?;
    let (raw_times, _) = time_list(RawList(Arc::new(tools)), repetitions).await?;
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
