//! rmcp's `ServerHandler` over the runtime: MCP requests in, the pipeline, MCP results
//! out. Capabilities are declared from what the project has.

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult, ErrorData,
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig, SubscribeRequestParams, SubscriptionFilter, Tool, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};

use crate::call::{Asker, Caller, Channel, Identity, LogFilter, TransportKind};
use crate::chain::ListRequest;
use crate::db::Ended;
use crate::registry::TaskMode;
use crate::runtime::{RoundRequest, Runtime, page};
use crate::telemetry::{self, Target};
use crate::util::did_you_mean;

/// rmcp's handler over a [`Runtime`]: one per connection or session (its log level and
/// resource subscriptions are the session's), cheap to clone.
#[derive(Clone)]
pub(crate) struct MangoServer {
    runtime: Arc<Runtime>,
    transport: TransportKind,
    session: Arc<Session>,
    /// Whether a 2025-11-25 client has a session (stdio, HTTP unless stateless), which
    /// `resources/subscribe` needs.
    sessions: bool,
    /// What stops the calls of an HTTP session when it ends.
    stops: Option<Arc<crate::transport::http::SessionStops>>,
}

/// What a 2025-11-25 session set: its log level (`logging/setLevel`), and its
/// subscriptions (kept by the runtime's subscribers under `owner`, forgotten when the
/// session ends).
struct Session {
    owner: u64,
    #[allow(deprecated)]
    level: std::sync::Mutex<Option<rmcp::model::LoggingLevel>>,
    runtime: Arc<Runtime>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.runtime.state.subscribers.end(self.owner);
    }
}

/// `call`, unless the client cancels the request first (`notifications/cancelled`, its
/// session ended, the connection it came on closed) or the server's shutdown deadline
/// passes: then the call's future is dropped, which rolls its transaction back and
/// frees its connection. A call that has begun to end its transaction is not stopped:
/// it is answered with what it did, so that an answer "rolled back" is never a commit.
/// (rmcp sends nothing for a request its client cancelled, as the spec says.)
async fn unless_cancelled<T>(
    stop: impl std::future::Future<Output = ()>,
    commit: crate::db::CommitPoint,
    runtime: &Runtime,
    what: &str,
    call: impl std::future::Future<Output = Result<T, ErrorData>>,
) -> Result<T, ErrorData> {
    let stopped = match commit.unless(stop, call).await {
        Ended::Done(result) => return result,
        Ended::Late(result) => {
            tracing::info!(
                request = what,
                "cancelled after its work had begun to commit; answered with its result"
            );
            return result;
        }
        Ended::Stopped => runtime.state.in_flight.is_closed(),
    };
    if stopped {
        tracing::warn!(
            request = what,
            "stopped at the shutdown deadline ([server] shutdown_timeout); its work was rolled back"
        );
        Err(ErrorData::internal_error(
            "the server shut down before the request finished; its work was rolled back",
            None,
        ))
    } else {
        tracing::info!(
            request = what,
            "cancelled by the client (notifications/cancelled, its session's end, or its connection closed); its work was rolled back"
        );
        Err(ErrorData::internal_error(
            "the request was cancelled; its work was rolled back",
            None,
        ))
    }
}

/// A request whose result is never a failure of its own (only a JSON-RPC error is).
fn never<T>(_: &T) -> bool {
    false
}

/// A tool's result that says the tool failed (`isError`).
fn tool_failed(response: &CallToolResponse) -> bool {
    matches!(response, CallToolResponse::Complete(result) if result.is_error == Some(true))
}

/// A tool's result with the trace context of its call in `_meta` (`traceparent`,
/// SEP-414), when calls are traced.
fn with_trace_meta(mut response: CallToolResponse) -> CallToolResponse {
    if let CallToolResponse::Complete(result) = &mut response
        && let Some(trace) = telemetry::current_meta()
    {
        result.meta.get_or_insert_default().extend(trace);
    }
    response
}

/// Whether a request is of protocol 2026-07-28 or later (no sessions: questions are
/// rounds, log levels ride each request, subscriptions are `subscriptions/listen`).
fn stateless_era(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
}

impl MangoServer {
    /// A handler for one new connection or session.
    pub fn new(runtime: Arc<Runtime>, transport: TransportKind) -> Self {
        let session = Arc::new(Session {
            owner: runtime.state.subscribers.owner(),
            level: std::sync::Mutex::new(None),
            runtime: runtime.clone(),
        });
        MangoServer {
            runtime,
            transport,
            session,
            sessions: true,
            stops: None,
        }
    }

    /// Stops a session's calls when the session ends (HTTP with sessions).
    pub fn with_stops(mut self, stops: Arc<crate::transport::http::SessionStops>) -> Self {
        self.stops = Some(stops);
        self
    }

    /// What stops a request's call: the client cancels it (`notifications/cancelled`,
    /// rmcp's token), its session ends, or the connection that would carry its answer
    /// closes.
    fn stop_of(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let parts = context.extensions.get::<axum::http::request::Parts>();
        let gone = parts
            .and_then(|p| p.extensions.get::<crate::transport::http::AnswerGone>())
            .map(|g| g.0.clone());
        let session = self.stops.as_ref().and_then(|stops| {
            let id = parts?.headers.get("mcp-session-id")?.to_str().ok()?;
            Some(stops.of(id))
        });
        let ct = context.ct.clone();
        async move {
            if gone.is_none() && session.is_none() {
                // Stateless, stdio: the client's cancellation only.
                return ct.cancelled().await;
            }
            let gone = async {
                match gone {
                    Some(g) => g.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            let session = async {
                match session {
                    Some(s) => s.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = ct.cancelled() => {}
                () = gone => {}
                () = session => {}
            }
        }
    }

    /// The span of a request, when requests are traced (`[telemetry]`).
    fn span(
        &self,
        context: &RequestContext<RoleServer>,
        method: &'static str,
        target: Target<'_>,
    ) -> Option<telemetry::CallSpan> {
        let stdio = self.transport == TransportKind::Stdio;
        telemetry::request(context, method, target, stdio)
    }

    /// `tools/call`: as a task, in rounds (2026-07-28) or at once.
    async fn run_call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = request.arguments.unwrap_or_default();
        // The tasks extension: the server decides per request; a task only for a
        // client that declares the extension (on the request, or at initialize).
        if self.runtime.has_task_tools()
            && let Some(mode) = self.runtime.task_mode(&request.name)
            && mode != TaskMode::Forbidden
        {
            let caps = context.client_capabilities().unwrap_or_default();
            if caps.supports_tasks() {
                let (caller, channel) = self.call_of(context);
                let task = self
                    .runtime
                    .start_task(&request.name, arguments, caller, channel, caps)
                    .await?;
                return Ok(CallToolResponse::Task(rmcp::model::CreateTaskResult::new(
                    task,
                )));
            }
            if mode == TaskMode::Required {
                return Err(ErrorData::missing_required_client_capability(
                    rmcp::model::ClientCapabilities::builder()
                        .enable_tasks()
                        .build(),
                ));
            }
        }
        let stop = self.stop_of(&context);
        if stateless_era(&context) {
            let round = RoundRequest {
                caps: context.client_capabilities().unwrap_or_default(),
                state: request.request_state,
                responses: request.input_responses,
            };
            let (caller, channel) = self.call_of(context);
            let commit = channel.commit.clone();
            let call =
                self.runtime
                    .call_tool_in_rounds(&request.name, arguments, caller, channel, round);
            return unless_cancelled(stop, commit, &self.runtime, &request.name, call).await;
        }
        let (caller, channel) = self.call_of(context);
        let commit = channel.commit.clone();
        let call = async {
            match self
                .runtime
                .call_tool(&request.name, arguments, caller, channel)
                .await
            {
                Some(result) => Ok(result.into()),
                None => Err(ErrorData::invalid_params(
                    self.runtime.unknown_tool(&request.name),
                    None,
                )),
            }
        };
        unless_cancelled(stop, commit, &self.runtime, &request.name, call).await
    }

    /// Says whether clients have sessions (a stateless HTTP server has none).
    pub fn with_sessions(mut self, sessions: bool) -> Self {
        self.sessions = sessions;
        self
    }

    /// What list hooks see of a list request (none when no middleware has hooks: the
    /// caller is then not copied).
    fn list_request(&self, context: &RequestContext<RoleServer>) -> Option<ListRequest> {
        (self.runtime.has_list_hooks() || self.runtime.any_scoped()).then(|| ListRequest {
            caller: self.caller(context),
        })
    }

    /// The page of `items` the request's cursor names, with `[server] page_size`.
    fn page<T>(
        &self,
        list: &str,
        items: Vec<T>,
        request: Option<PaginatedRequestParams>,
    ) -> Result<(Vec<T>, Option<String>), ErrorData> {
        let cursor = request.and_then(|r| r.cursor);
        page(
            list,
            items,
            cursor.as_deref(),
            self.runtime.settings().server.page_size,
        )
    }

    /// Who is calling and the way back to them, for a call into the pipeline. Only
    /// middleware reads the client and the headers: without it they are not copied.
    fn call_of(&self, context: RequestContext<RoleServer>) -> (Caller, Channel) {
        let caller = if self.runtime.reads_whole_caller() {
            self.caller(&context)
        } else {
            // The identity is always copied (items' scopes are checked against it), and
            // the address (the rate limit keys anonymous callers on it).
            let mut caller = Caller::new(self.transport);
            caller.identity = Self::identity(&context);
            caller.address = Self::address(&context);
            caller
        };
        let stateless = stateless_era(&context);
        #[allow(deprecated)]
        let log = if stateless {
            // 2026-07-28: messages only for a request that asks, at its level.
            context
                .meta
                .log_level()
                .map_or(LogFilter::Nothing, LogFilter::at_least)
        } else {
            // 2025-11-25: the session's level; before any, every message (the spec lets
            // the server choose).
            let level = *self.session.level.lock().unwrap_or_else(|p| p.into_inner());
            level.map_or(LogFilter::All, LogFilter::at_least)
        };
        let asker = if stateless {
            // Tools ask in rounds (`call_tool`); other items cannot ask on this era.
            Asker::Unsupported("on protocol 2026-07-28 only tools can ask their client (in rounds)")
        } else {
            Asker::Peer {
                peer: context.peer.clone(),
                timeout: std::time::Duration::from_secs_f64(
                    self.runtime.settings().input.timeout.max(0.001),
                ),
            }
        };
        let meta = context.meta.0.0;
        let progress_token = meta
            .get("progressToken")
            .and_then(|t| serde_json::from_value(t.clone()).ok());
        let channel = Channel {
            request_id: Some(context.id.to_string()),
            meta,
            progress_token,
            peer: Some(context.peer),
            asker,
            log,
            changed: Default::default(),
            commit: Default::default(),
            task_status: None,
            before_write: None,
        };
        (caller, channel)
    }

    /// Who asks about a task (a task belongs to its caller's identity).
    fn task_caller(&self, context: &RequestContext<RoleServer>) -> Caller {
        let mut caller = Caller::new(self.transport);
        caller.identity = Self::identity(context);
        caller
    }

    /// The address an HTTP request came from.
    fn address(context: &RequestContext<RoleServer>) -> Option<std::net::SocketAddr> {
        context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| {
                parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            })
            .map(|info| info.0)
    }

    /// The identity HTTP authentication found.
    fn identity(context: &RequestContext<RoleServer>) -> Option<Identity> {
        context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Identity>())
            .cloned()
    }

    /// The error for a subscription to a URI no resource or template has.
    fn unknown_uri(&self, uri: &str) -> ErrorData {
        let suggestion = did_you_mean(uri, self.runtime.resources.uris().map(str::to_owned));
        ErrorData::invalid_params(
            format!(
                "cannot subscribe to `{uri}`: no resource has that URI{suggestion} (resources/list and resources/templates/list give them)"
            ),
            None,
        )
    }

    /// Who is calling: the client's info from `initialize`, and over HTTP the request's
    /// headers and the identity the authentication layer found.
    fn caller(&self, context: &RequestContext<RoleServer>) -> Caller {
        let http = context.extensions.get::<axum::http::request::Parts>();
        Caller {
            transport: self.transport,
            client: context
                .peer
                .peer_info()
                .map(|info| crate::call::ClientInfo::of(&info.client_info)),
            headers: http.map(|parts| parts.headers.clone()),
            address: Self::address(context),
            identity: Self::identity(context),
        }
    }
}

impl ServerHandler for MangoServer {
    fn get_info(&self) -> ServerConfig {
        let (name, version) = self.runtime.server_info();
        #[allow(deprecated)] // see set_level
        let mut capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_logging()
            .build();
        // What the project has, and nothing else.
        if !self.runtime.resources.is_empty() {
            let mut resources = rmcp::model::ResourcesCapability::default();
            resources.subscribe = Some(true);
            capabilities.resources = Some(resources);
        }
        if !self.runtime.prompts.is_empty() {
            capabilities.prompts = Some(Default::default());
        }
        if self.runtime.completes() {
            capabilities.completions = Some(Default::default());
        }
        if self.runtime.has_task_tools() {
            capabilities
                .extensions
                .get_or_insert_with(Default::default)
                .insert(
                    rmcp::model::TASKS_EXTENSION_ID.to_owned(),
                    rmcp::model::JsonObject::new(),
                );
        }
        let mut config =
            ServerConfig::new(capabilities).with_server_info(Implementation::new(name, version));
        if let Some(instructions) = &self.runtime.settings().server.instructions {
            config = config.with_instructions(instructions.clone());
        }
        config
    }

    /// As rmcp's own, in a span.
    async fn initialize(
        &self,
        request: rmcp::model::InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::InitializeResult, ErrorData> {
        let span = self.span(&context, "initialize", Target::None);
        telemetry::traced(
            span,
            async move {
                context.peer.set_peer_info(request.clone());
                self.negotiate_initialize(&request)
            },
            never,
        )
        .await
    }

    async fn ping(&self, context: RequestContext<RoleServer>) -> Result<(), ErrorData> {
        let span = self.span(&context, "ping", Target::None);
        telemetry::traced(span, async { Ok(()) }, never).await
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let span = self.span(&context, "tools/list", Target::None);
        telemetry::traced(
            span,
            async move {
                let req = self.list_request(&context);
                let tools = self
                    .runtime
                    .listed(
                        &self.runtime.tools.listed,
                        &self.runtime.tools.listed_scopes,
                        req.as_ref(),
                        |h| h.tools,
                    )
                    .await;
                let (tools, next) = self.page("tools/list", tools, request)?;
                let mut result = ListToolsResult::with_all_items(tools);
                result.next_cursor = next;
                Ok(result)
            },
            never,
        )
        .await
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.runtime.tools.get(name).map(|t| t.tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let span = self.span(&context, "tools/call", Target::Tool(&request.name));
        telemetry::traced(
            span,
            async move {
                let response = self.run_call_tool(request, context).await;
                response.map(with_trace_meta)
            },
            tool_failed,
        )
        .await
    }

    async fn get_task(
        &self,
        request: rmcp::model::GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetTaskResult, ErrorData> {
        let span = self.span(&context, "tasks/get", Target::None);
        telemetry::traced(
            span,
            async move {
                let task = self
                    .runtime
                    .get_task(&request.task_id, &self.task_caller(&context))
                    .await?;
                Ok(rmcp::model::GetTaskResult::new(task))
            },
            never,
        )
        .await
    }

    async fn update_task(
        &self,
        request: rmcp::model::UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let span = self.span(&context, "tasks/update", Target::None);
        telemetry::traced(
            span,
            async move {
                self.runtime
                    .update_task(
                        &request.task_id,
                        &self.task_caller(&context),
                        request.input_responses,
                    )
                    .await
            },
            never,
        )
        .await
    }

    async fn cancel_task(
        &self,
        request: rmcp::model::CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let span = self.span(&context, "tasks/cancel", Target::None);
        telemetry::traced(
            span,
            async move {
                self.runtime
                    .cancel_task(&request.task_id, &self.task_caller(&context))
                    .await
            },
            never,
        )
        .await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let span = self.span(&context, "resources/list", Target::None);
        telemetry::traced(
            span,
            async move {
                let req = self.list_request(&context);
                let all = self
                    .runtime
                    .listed(
                        &self.runtime.resources.listed,
                        &self.runtime.resources.listed_scopes,
                        req.as_ref(),
                        |h| h.resources,
                    )
                    .await;
                let (items, next) = self.page("resources/list", all, request)?;
                let mut result = ListResourcesResult::with_all_items(items);
                result.next_cursor = next;
                Ok(result)
            },
            never,
        )
        .await
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let span = self.span(&context, "resources/templates/list", Target::None);
        telemetry::traced(
            span,
            async move {
                let req = self.list_request(&context);
                let templates = &self.runtime.resources.listed_templates;
                let all = self
                    .runtime
                    .listed(
                        templates,
                        &self.runtime.resources.listed_template_scopes,
                        req.as_ref(),
                        |h| h.resource_templates,
                    )
                    .await;
                let (items, next) = self.page("resources/templates/list", all, request)?;
                let mut result = ListResourceTemplatesResult::with_all_items(items);
                result.next_cursor = next;
                Ok(result)
            },
            never,
        )
        .await
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let span = self.span(&context, "resources/read", Target::Uri(&request.uri));
        telemetry::traced(
            span,
            async move {
                let stop = self.stop_of(&context);
                let (caller, channel) = self.call_of(context);
                let commit = channel.commit.clone();
                let read = self.runtime.read_resource(&request.uri, caller, channel);
                unless_cancelled(stop, commit, &self.runtime, &request.uri, read)
                    .await
                    .map(Into::into)
            },
            never,
        )
        .await
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let span = self.span(&context, "prompts/list", Target::None);
        telemetry::traced(
            span,
            async move {
                let req = self.list_request(&context);
                let all = self
                    .runtime
                    .listed(
                        &self.runtime.prompts.listed,
                        &self.runtime.prompts.listed_scopes,
                        req.as_ref(),
                        |h| h.prompts,
                    )
                    .await;
                let (items, next) = self.page("prompts/list", all, request)?;
                let mut result = ListPromptsResult::with_all_items(items);
                result.next_cursor = next;
                Ok(result)
            },
            never,
        )
        .await
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let span = self.span(&context, "prompts/get", Target::Prompt(&request.name));
        telemetry::traced(
            span,
            async move {
                let stop = self.stop_of(&context);
                let (caller, channel) = self.call_of(context);
                let commit = channel.commit.clone();
                let get = self.runtime.get_prompt(
                    &request.name,
                    request.arguments.unwrap_or_default(),
                    caller,
                    channel,
                );
                unless_cancelled(stop, commit, &self.runtime, &request.name, get)
                    .await
                    .map(Into::into)
            },
            never,
        )
        .await
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let span = self.span(&context, "completion/complete", Target::None);
        telemetry::traced(
            span,
            async move {
                let stop = self.stop_of(&context);
                let (caller, channel) = self.call_of(context);
                let commit = channel.commit.clone();
                let given = request
                    .context
                    .and_then(|c| c.arguments)
                    .unwrap_or_default();
                let complete = self.runtime.complete(
                    &request.r#ref,
                    &request.argument.name,
                    &request.argument.value,
                    given,
                    caller,
                    channel,
                );
                unless_cancelled(
                    stop,
                    commit,
                    &self.runtime,
                    &request.argument.name,
                    complete,
                )
                .await
            },
            never,
        )
        .await
    }

    /// The session's level from now on: its calls' log messages below it are not sent.
    #[allow(deprecated)] // MCP logging is deprecated from 2026-07-28 on; older clients use it
    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let span = self.span(&context, "logging/setLevel", Target::None);
        telemetry::traced(
            span,
            async move {
                *self.session.level.lock().unwrap_or_else(|p| p.into_inner()) = Some(request.level);
                Ok(())
            },
            never,
        )
        .await
    }

    /// `resources/subscribe` (2025-11-25): the session hears of changes to `uri` until it
    /// unsubscribes or ends. An unknown URI is -32602.
    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let span = self.span(&context, "resources/subscribe", Target::None);
        telemetry::traced(
            span,
            async move {
                let Some((served, _)) = self.runtime.resources.find(&request.uri) else {
                    return Err(self.unknown_uri(&request.uri));
                };
                let mut caller = Caller::new(self.transport);
                caller.identity = Self::identity(&context);
                if let Some(why) = self.runtime.refusal(&caller, served.entry.scopes) {
                    return Err(ErrorData::invalid_request(
                        format!("cannot subscribe to `{}`: {why}", request.uri),
                        None,
                    ));
                }
                if !self.sessions {
                    return Err(ErrorData::invalid_request(
                        "resources/subscribe needs a session, and this server is stateless (`[server] stateless`): use subscriptions/listen (protocol 2026-07-28), or a server with sessions",
                        None,
                    ));
                }
                self.runtime
                    .state
                    .subscribers
                    .subscribe(self.session.owner, request.uri, context.peer);
                Ok(())
            },
            never,
        )
        .await
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let span = self.span(&context, "resources/unsubscribe", Target::None);
        telemetry::traced(
            span,
            async move {
                if self.runtime.resources.find(&request.uri).is_none() {
                    return Err(self.unknown_uri(&request.uri));
                }
                self.runtime
                    .state
                    .subscribers
                    .unsubscribe(self.session.owner, &request.uri);
                Ok(())
            },
            never,
        )
        .await
    }

    /// `subscriptions/listen` (2026-07-28): the resources it names (mango's lists do not
    /// change while it serves, so no `list_changed` is offered).
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = SubscriptionFilter::default();
        accepted.resource_subscriptions = requested.resource_subscriptions.as_ref().map(|uris| {
            uris.iter()
                .filter(|uri| self.runtime.resources.find(uri).is_some())
                .cloned()
                .collect()
        });
        Some(accepted)
    }

    /// A `subscriptions/listen` stream until the client ends it. URIs no resource has are
    /// left out of the acknowledgment, which is how the 2026-07-28 protocol says no to
    /// part of a filter (the client reads the honored subset from it).
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let unknown: Vec<&String> = context
            .requested()
            .resource_subscriptions
            .iter()
            .flatten()
            .filter(|uri| self.runtime.resources.find(uri).is_none())
            .collect();
        if !unknown.is_empty() {
            tracing::info!(
                ?unknown,
                "subscriptions/listen: no resource has these URIs; left out of the acknowledgment"
            );
        }
        let subscribers = &self.runtime.state.subscribers;
        let owner = subscribers.owner();
        let uris = context
            .accepted()
            .resource_subscriptions
            .iter()
            .flatten()
            .cloned()
            .collect();
        subscribers.listen(owner, uris, context.sink().clone());
        context.cancelled().await;
        subscribers.end(owner);
        Ok(())
    }
}
