//! The practical limit of the HTTP stack: axum parsing a JSON-RPC body and answering a
//! fixed `tools/call` result, no MCP in between.
//!
//! usage: echo <port>

use axum::Json;
use axum::routing::post;

async fn answer(Json(request): Json<serde_json::Value>) -> Json<serde_json::Value> {
    let id = request
        .get("id")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    Json(serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
        "result": {"content": [{"type": "text", "text": "{\"result\":3}"}], "structuredContent": {"result": 3}, "isError": false}
    }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use axum::serve::ListenerExt;
    let port = std::env::args().nth(1).unwrap_or_else(|| "0".into());
    let app = axum::Router::new().route("/mcp", post(answer));
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    eprintln!("listening on 127.0.0.1:{port}");
    axum::serve(listener, app).await?;
    Ok(())
}
