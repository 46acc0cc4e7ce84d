//! The MCP server: the registry made into tools, and rmcp's `ServerHandler` over it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ErrorData, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::RequestContext;
use tokio_util::task::TaskTracker;

use crate::context::TransportKind;
use crate::error::Error;
use crate::manage::AppInfo;
use crate::output::{ToolOutput, catching_panics, did_you_mean};
use crate::registry::{OutputKind, TOOLS, ToolEntry, is_object_schema, wrap_schema};
use crate::settings::{AppSettings, Settings, SettingsError};

/// A tool as served: its registry entry, its exposed name and its MCP description.
pub struct ServedTool {
    pub entry: &'static ToolEntry,
    /// `<prefix>_<name>`.
    pub name: &'static str,
    pub tool: Tool,
    /// Whether JSON results are wrapped as `{"result": …}`.
    wrap: bool,
}

/// Everything a running project shares between calls: settings, tools, app settings.
pub struct Runtime {
    pub settings: Settings,
    /// The installed apps, sorted by name.
    pub apps: Vec<AppInfo>,
    /// Every tool, sorted by exposed name.
    pub tools: Vec<ServedTool>,
    by_name: HashMap<&'static str, usize>,
    app_settings: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    listed: Vec<Tool>,
    project_name: String,
    project_version: String,
    pub(crate) in_flight: TaskTracker,
    /// The connection pool (none only for runtimes built without settings' database).
    pub database: Option<crate::db::Database>,
    /// The active middleware, in the order `Mango.toml` lists it.
    pub middleware: Arc<[&'static crate::middleware::MiddlewareEntry]>,
}

/// The middleware `Mango.toml` lists, in its order; a name no app registers stops
/// start-up with the known names.
fn resolve_middleware(
    settings: &Settings,
) -> Result<Arc<[&'static crate::middleware::MiddlewareEntry]>, Error> {
    let mut chain = Vec::new();
    for name in &settings.middleware {
        match crate::middleware::all().find(|m| &m.qualified() == name) {
            Some(entry) => chain.push(entry),
            None => {
                let mut known: Vec<String> =
                    crate::middleware::all().map(|m| m.qualified()).collect();
                known.sort();
                return Err(Error::UnknownMiddleware {
                    path: settings.display_path().display().to_string(),
                    name: name.clone(),
                    known: known.join(", "),
                });
            }
        }
    }
    if settings.middleware.iter().any(|m| m == "mango.auth") && settings.auth.tokens.is_empty() {
        return Err(Error::Middleware(format!(
            "{}: `mango.auth` is listed but [auth] tokens is empty: add `tokens = {{ name = \"…\" }}`, or set MANGO_AUTH__TOKENS__<NAME>=<token>",
            settings.display_path().display()
        )));
    }
    Ok(chain.into())
}

/// Checks an exposed name against MCP's rules: 1 to 64 of `A-Z a-z 0-9 _ - .`.
pub(crate) fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    if name.len() > 64 {
        return Some(format!("is {} characters long", name.len()));
    }
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .map(|c| format!("contains `{c}`"))
}

impl Runtime {
    /// Builds the runtime from the linked registry. `apps` are the installed apps (from
    /// the generated binary); apps of linked tools missing from it get their package name
    /// as prefix.
    pub fn new(
        settings: Settings,
        apps: &[AppInfo],
        project_name: &str,
        project_version: &str,
    ) -> Result<Runtime, Error> {
        Self::from_entries(settings, apps, project_name, project_version, TOOLS.iter())
    }

    /// Builds the runtime from the given tools instead of the linked registry: for the
    /// runtime's own tests and the benchmark's 1,000-tool `tools/list`. Not a stable API.
    #[doc(hidden)]
    pub fn from_entries(
        settings: Settings,
        apps: &[AppInfo],
        project_name: &str,
        project_version: &str,
        entries: impl Iterator<Item = &'static ToolEntry>,
    ) -> Result<Runtime, Error> {
        let mut apps: Vec<AppInfo> = apps.to_vec();
        let mut tools: Vec<ServedTool> = Vec::new();
        for entry in entries {
            let app = match apps.iter().find(|a| a.name == entry.app) {
                Some(app) => *app,
                None => {
                    let app = AppInfo::new(entry.app, entry.app);
                    apps.push(app);
                    app
                }
            };
            let name: &'static str = if app.prefix.is_empty() {
                entry.name
            } else {
                Box::leak(format!("{}_{}", app.prefix, entry.name).into_boxed_str())
            };
            if let Some(problem) = name_problem(name) {
                return Err(Error::InvalidToolName {
                    name: name.into(),
                    fn_name: format!("{}::{}", entry.module_path, entry.name),
                    at: entry.location(),
                    problem,
                });
            }
            let (output_schema, wrap) = match entry.output {
                OutputKind::Json(schema) => {
                    let schema = schema();
                    if is_object_schema(&schema) {
                        (Some(schema), false)
                    } else {
                        (Some(Arc::new(wrap_schema(&schema))), true)
                    }
                }
                OutputKind::Empty | OutputKind::Text => (None, false),
            };
            let mut tool = Tool::new(name, entry.description, (entry.input_schema)());
            if let Some(schema) = output_schema {
                tool = tool.with_raw_output_schema(schema);
            }
            if let Some(title) = entry.title {
                tool = tool.with_title(title);
            }
            let a = entry.annotations;
            if a != Default::default() {
                tool = tool.with_annotations(ToolAnnotations::from_raw(
                    entry.title.map(str::to_owned),
                    a.read_only,
                    a.destructive,
                    a.idempotent,
                    a.open_world,
                ));
            }
            tools.push(ServedTool {
                entry,
                name,
                tool,
                wrap,
            });
        }
        tools.sort_by(|a, b| a.name.cmp(b.name).then(a.entry.file.cmp(b.entry.file)));
        for pair in tools.windows(2) {
            if pair[0].name == pair[1].name {
                let (a, b) = (pair[0].entry, pair[1].entry);
                let site = |e: &ToolEntry| {
                    format!(
                        "`{}::{}` in app `{}` at {}",
                        e.module_path,
                        e.name,
                        e.app,
                        e.location()
                    )
                };
                return Err(Error::DuplicateTool {
                    name: pair[0].name.into(),
                    first: site(a),
                    second: site(b),
                });
            }
        }
        apps.sort_by(|a, b| a.name.cmp(b.name));
        let installed: Vec<&str> = apps.iter().map(|a| a.name).collect();
        let app_settings = settings.read_app_settings(&installed)?;
        let root = settings
            .path
            .as_deref()
            .and_then(std::path::Path::parent)
            .map(std::path::Path::to_owned)
            .unwrap_or_else(|| std::path::PathBuf::from("."));
        let database = Some(crate::db::Database::new(&settings.database, &root)?);
        let middleware = resolve_middleware(&settings)?;
        let by_name = tools.iter().enumerate().map(|(i, t)| (t.name, i)).collect();
        let listed = tools.iter().map(|t| t.tool.clone()).collect();
        Ok(Runtime {
            settings,
            apps,
            tools,
            by_name,
            app_settings,
            listed,
            project_name: project_name.into(),
            project_version: project_version.into(),
            in_flight: TaskTracker::new(),
            database,
            middleware,
        })
    }

    pub(crate) fn app_settings<T: AppSettings>(&self) -> Result<Arc<T>, SettingsError> {
        self.app_settings
            .get(&TypeId::of::<T>())
            .cloned()
            .and_then(|v| v.downcast::<T>().ok())
            .ok_or(SettingsError::NotRegistered(std::any::type_name::<T>()))
    }

    pub fn tool(&self, name: &str) -> Option<&ServedTool> {
        self.by_name.get(name).map(|&i| &self.tools[i])
    }

    /// The server's name and version as `initialize` reports them.
    pub fn server_info(&self) -> (String, String) {
        let s = &self.settings.server;
        (
            s.name.clone().unwrap_or_else(|| self.project_name.clone()),
            s.version
                .clone()
                .unwrap_or_else(|| self.project_version.clone()),
        )
    }

    /// Calls a tool by its exposed name: the middleware chain, then the tool, in the
    /// call's transaction; arguments checked, panics caught. `None` when there is no
    /// such tool.
    pub async fn call(
        self: &Arc<Self>,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
        mut request: RequestParts,
    ) -> Option<CallToolResult> {
        let index = *self.by_name.get(name)?;
        let served = &self.tools[index];
        let _token = self.in_flight.token();
        let db = crate::db::DbSlot::default();
        if self.middleware.is_empty() {
            // No middleware: straight to the tool, without the request middleware sees
            // (measured: a few percent of a trivial tool's throughput).
            let output = crate::middleware::invoke(
                self,
                index,
                arguments,
                request,
                Default::default(),
                db.clone(),
            )
            .await;
            return Some(self.finish_call(served, &db, output).await);
        }
        let mut req = crate::middleware::Request {
            tool: served.name,
            app: served.entry.app,
            arguments,
            transport: request.transport,
            client: request.client.take(),
            headers: request.headers.take(),
            identity: request.identity.take(),
            extensions: Default::default(),
            parts: request,
            db: db.clone(),
            runtime: self.clone(),
            served: index,
        };
        let chain = crate::middleware::Next::new(self.middleware.clone());
        let output =
            catching_panics(async { chain.run(&mut req).await.output }, "middleware").await;
        Some(self.finish_call(served, &db, output).await)
    }

    /// Ends a call: its transaction committed or rolled back, a failure logged, the
    /// output as MCP's result.
    async fn finish_call(
        &self,
        served: &ServedTool,
        db: &crate::db::DbSlot,
        output: ToolOutput,
    ) -> CallToolResult {
        let output = finish_transaction(db, output).await;
        if let ToolOutput::Error(message) = &output {
            tracing::info!(tool = served.name, error = %message, "tool call failed");
        }
        output.into_call_tool_result(served.wrap)
    }

    /// The tools a client is given: every tool, as the middleware's list hooks change it.
    pub async fn list(&self, req: &crate::middleware::ListRequest) -> Vec<Tool> {
        let mut tools = self.listed.clone();
        for entry in self.middleware.iter() {
            if let Some(hook) = entry.list {
                hook(req, &mut tools).await;
            }
        }
        tools
    }

    /// The error for a name no tool has, with the closest names.
    pub fn unknown_tool(&self, name: &str) -> String {
        let suggestion = did_you_mean(name, self.tools.iter().map(|t| t.name.to_owned()));
        format!("unknown tool `{name}`{suggestion} (tools/list gives every tool)")
    }
}

/// Ends the call's transaction, if it opened one: committed when `output` is a success,
/// rolled back otherwise. A commit that fails turns the result into an error.
pub(crate) async fn finish_transaction(db: &crate::db::DbSlot, output: ToolOutput) -> ToolOutput {
    match db.finish(!output.is_error()).await {
        Ok(()) => output,
        Err(e) => ToolOutput::error(e),
    }
}

/// What a call brings with it besides the tool's name and arguments.
pub struct RequestParts {
    pub request_id: Option<String>,
    pub meta: serde_json::Map<String, serde_json::Value>,
    pub progress_token: Option<rmcp::model::ProgressToken>,
    pub peer: Option<rmcp::Peer<RoleServer>>,
    pub transport: TransportKind,
    /// The client's name and version, when known.
    pub client: Option<Implementation>,
    /// The HTTP request's headers (HTTP only).
    pub headers: Option<axum::http::HeaderMap>,
    /// The caller, when the HTTP authentication layer identified it.
    pub identity: Option<String>,
}

impl RequestParts {
    /// A call made in the process itself (the test server, the `call` command): no
    /// request id, no client to notify.
    pub fn in_process() -> Self {
        RequestParts {
            request_id: None,
            meta: Default::default(),
            progress_token: None,
            peer: None,
            transport: TransportKind::InProcess,
            client: None,
            headers: None,
            identity: None,
        }
    }
}

/// Who is calling: the client's info from `initialize`, and over HTTP the request's
/// headers and the identity the authentication layer found.
fn caller(
    context: &RequestContext<RoleServer>,
) -> (
    Option<Implementation>,
    Option<axum::http::HeaderMap>,
    Option<String>,
) {
    let client = context
        .peer
        .peer_info()
        .map(|info| info.client_info.clone());
    let http = context.extensions.get::<axum::http::request::Parts>();
    let headers = http.map(|parts| parts.headers.clone());
    let identity = http
        .and_then(|parts| parts.extensions.get::<crate::transport::http::Identity>())
        .map(|id| id.0.clone());
    (client, headers, identity)
}

/// rmcp's handler over a [`Runtime`]: one per connection or session, cheap to clone.
#[derive(Clone)]
pub struct MangoServer {
    runtime: Arc<Runtime>,
    transport: TransportKind,
}

impl MangoServer {
    pub fn new(runtime: Arc<Runtime>, transport: TransportKind) -> Self {
        MangoServer { runtime, transport }
    }
}

impl ServerHandler for MangoServer {
    fn get_info(&self) -> ServerConfig {
        let (name, version) = self.runtime.server_info();
        #[allow(deprecated)] // see set_level
        let mut config = ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_logging()
                .build(),
        )
        .with_server_info(Implementation::new(name, version));
        if let Some(instructions) = &self.runtime.settings.server.instructions {
            config = config.with_instructions(instructions.clone());
        }
        config
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        if self.runtime.middleware.iter().all(|m| m.list.is_none()) {
            return Ok(ListToolsResult::with_all_items(self.runtime.listed.clone()));
        }
        let (client, headers, identity) = caller(&context);
        let req = crate::middleware::ListRequest {
            transport: self.transport,
            client,
            headers,
            identity,
        };
        Ok(ListToolsResult::with_all_items(
            self.runtime.list(&req).await,
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.runtime.tool(name).map(|t| t.tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let (client, headers, identity) = if self.runtime.middleware.is_empty() {
            // Only middleware reads these: skip the copies on the hot path.
            (None, None, None)
        } else {
            caller(&context)
        };
        let meta = context.meta.0.0;
        let progress_token = meta
            .get("progressToken")
            .and_then(|t| serde_json::from_value(t.clone()).ok());
        let parts = RequestParts {
            request_id: Some(context.id.to_string()),
            meta,
            progress_token,
            peer: Some(context.peer),
            transport: self.transport,
            client,
            headers,
            identity,
        };
        let arguments = request.arguments.unwrap_or_default();
        match self.runtime.call(&request.name, arguments, parts).await {
            Some(result) => Ok(result.into()),
            None => Err(ErrorData::invalid_params(
                self.runtime.unknown_tool(&request.name),
                None,
            )),
        }
    }

    #[allow(deprecated)] // MCP logging is deprecated from 2026-07-28 on; older clients use it
    async fn set_level(
        &self,
        _request: rmcp::model::SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }
}
