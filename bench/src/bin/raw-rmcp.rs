//! The baseline: a hand-written rmcp 3 server with the benchmark's two tools, `add`
//! and `note_add` (a pooled SQLite file with the settings mango uses: WAL,
//! busy_timeout, immediate transactions), over Streamable HTTP (stateless, JSON) or
//! stdio. What a careful user of rmcp alone would write.
//!
//! With `--connection-per-call`, `note_add` opens (and sets up) a fresh SQLite connection
//! for every call instead of taking one from the pool: what a server without a pool
//! pays, the figure mango's pooled `note_add` is held against.
//!
//! usage: raw-rmcp http <port> <db file> [--connection-per-call] | raw-rmcp stdio <db file>

use std::sync::Arc;

use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, RunQueryDsl};
use rmcp::handler::server::ServerHandler;
use rmcp::handler::server::common::schema_for_type;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ErrorData, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{RoleServer, ServiceExt};
use serde::Deserialize;

type Db = SyncConnectionWrapper<diesel::SqliteConnection>;

#[derive(Deserialize, schemars::JsonSchema)]
struct AddArgs {
    a: i64,
    b: i64,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct NoteArgs {
    text: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(Clone)]
struct Raw {
    pool: Pool<Db>,
    url: Arc<str>,
    connection_per_call: bool,
    tools: Arc<Vec<Tool>>,
}

/// The body of `note_add`: insert, then count, in one immediate transaction.
async fn insert_and_count(conn: &mut Db, text: &str) -> Result<i64, diesel::result::Error> {
    conn.immediate_transaction::<_, diesel::result::Error, _>(async |c| {
        diesel::sql_query("INSERT INTO notes (text) VALUES (?)")
            .bind::<Text, _>(text)
            .execute(c)
            .await?;
        diesel::sql_query("SELECT COUNT(*) AS n FROM notes")
            .get_result::<Count>(c)
            .await
    })
    .await
    .map(|c| c.n)
}

fn invalid(e: impl std::fmt::Display) -> ErrorData {
    ErrorData::invalid_params(e.to_string(), None)
}

impl ServerHandler for Raw {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("raw-rmcp", "0"))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items((*self.tools).clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = serde_json::Value::Object(request.arguments.unwrap_or_default());
        match &*request.name {
            "add" => {
                let a: AddArgs = serde_json::from_value(args).map_err(invalid)?;
                Ok(CallToolResult::structured(serde_json::json!({"result": a.a + a.b})).into())
            }
            "note_add" => {
                let n: NoteArgs = serde_json::from_value(args).map_err(invalid)?;
                let count = if self.connection_per_call {
                    let mut conn = setup(self.url.to_string()).await.map_err(invalid)?;
                    insert_and_count(&mut conn, &n.text).await
                } else {
                    let mut conn = self.pool.get().await.map_err(invalid)?;
                    insert_and_count(&mut conn, &n.text).await
                };
                Ok(match count {
                    Ok(n) => CallToolResult::structured(serde_json::json!({"result": n})),
                    Err(e) => {
                        CallToolResult::error(vec![rmcp::model::ContentBlock::text(e.to_string())])
                    }
                }
                .into())
            }
            other => Err(invalid(format!("unknown tool {other}"))),
        }
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }
}

async fn setup(url: String) -> diesel::ConnectionResult<Db> {
    let mut conn = Db::establish(&url).await?;
    conn.spawn_blocking(|c| {
        c.batch_execute(
            "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
    })
    .await
    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
    Ok(conn)
}

async fn server(db: &str, connection_per_call: bool) -> Result<Raw, Box<dyn std::error::Error>> {
    let mut init = setup(db.to_owned()).await?;
    init.spawn_blocking(|c| {
        c.batch_execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL)")
    })
    .await?;
    let mut config = ManagerConfig::<Db>::default();
    config.custom_setup = Box::new(|url| Box::pin(setup(url.to_owned())));
    let manager = AsyncDieselConnectionManager::<Db>::new_with_config(db, config);
    let pool = Pool::builder(manager).max_size(10).build()?;
    let tools = vec![
        Tool::new("add", "Add two numbers.", schema_for_type::<AddArgs>()),
        Tool::new(
            "note_add",
            "Insert a note; returns how many there are.",
            schema_for_type::<NoteArgs>(),
        ),
    ];
    Ok(Raw {
        pool,
        url: db.into(),
        connection_per_call,
        tools: Arc::new(tools),
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["http", port, db, rest @ ..] if rest.iter().all(|a| *a == "--connection-per-call") => {
            let raw = server(db, !rest.is_empty()).await?;
            let config = StreamableHttpServerConfig::default()
                .with_legacy_session_mode(false)
                .with_json_response(true);
            let service = StreamableHttpService::new(
                move || Ok(raw.clone()),
                Arc::new(LocalSessionManager::default()),
                config,
            );
            let app = axum::Router::new().route_service("/mcp", service);
            let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
            use axum::serve::ListenerExt;
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            eprintln!("listening on 127.0.0.1:{port}");
            axum::serve(listener, app).await?;
        }
        ["stdio", db] => {
            let raw = server(db, false).await?;
            raw.serve(rmcp::transport::stdio()).await?.waiting().await?;
        }
        _ => {
            eprintln!(
                "usage: raw-rmcp http <port> <db file> [--connection-per-call] | raw-rmcp stdio <db file>"
            );
            std::process::exit(2);
        }
    }
    Ok(())
}
