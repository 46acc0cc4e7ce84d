//! rmcp's `ServerHandler` over the runtime: MCP requests in, the pipeline, MCP results
//! out. Capabilities are declared from what the project has.

use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult, ErrorData,
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;

use crate::builtin::auth::Identity;
use crate::call::{Caller, Channel, TransportKind};
use crate::chain::ListRequest;
use crate::runtime::{Runtime, page};

/// rmcp's handler over a [`Runtime`]: one per connection or session, cheap to clone.
#[derive(Clone)]
pub(crate) struct MangoServer {
    runtime: Arc<Runtime>,
    transport: TransportKind,
}

impl MangoServer {
    pub fn new(runtime: Arc<Runtime>, transport: TransportKind) -> Self {
        MangoServer { runtime, transport }
    }

    /// What list hooks see of a list request (none when no middleware has hooks: the
    /// caller is then not copied).
    fn list_request(&self, context: &RequestContext<RoleServer>) -> Option<ListRequest> {
        self.runtime.has_list_hooks().then(|| ListRequest {
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
        let caller = if self.runtime.has_middleware() {
            self.caller(&context)
        } else {
            Caller::new(self.transport)
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
        };
        (caller, channel)
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
                .map(|info| info.client_info.clone()),
            headers: http.map(|parts| parts.headers.clone()),
            identity: http
                .and_then(|parts| parts.extensions.get::<Identity>())
                .map(|id| id.0.clone()),
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
            capabilities.resources = Some(Default::default());
        }
        if !self.runtime.prompts.is_empty() {
            capabilities.prompts = Some(Default::default());
        }
        if self.runtime.completes() {
            capabilities.completions = Some(Default::default());
        }
        let mut config =
            ServerConfig::new(capabilities).with_server_info(Implementation::new(name, version));
        if let Some(instructions) = &self.runtime.settings().server.instructions {
            config = config.with_instructions(instructions.clone());
        }
        config
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let req = self.list_request(&context);
        let tools = self
            .runtime
            .listed(&self.runtime.tools.listed, req.as_ref(), |h| h.tools)
            .await;
        let (tools, next) = self.page("tools/list", tools, request)?;
        let mut result = ListToolsResult::with_all_items(tools);
        result.next_cursor = next;
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.runtime.tools.get(name).map(|t| t.tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let (caller, channel) = self.call_of(context);
        let arguments = request.arguments.unwrap_or_default();
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
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let req = self.list_request(&context);
        let all = self
            .runtime
            .listed(&self.runtime.resources.listed, req.as_ref(), |h| {
                h.resources
            })
            .await;
        let (items, next) = self.page("resources/list", all, request)?;
        let mut result = ListResourcesResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let req = self.list_request(&context);
        let templates = &self.runtime.resources.listed_templates;
        let all = self
            .runtime
            .listed(templates, req.as_ref(), |h| h.resource_templates)
            .await;
        let (items, next) = self.page("resources/templates/list", all, request)?;
        let mut result = ListResourceTemplatesResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let (caller, channel) = self.call_of(context);
        self.runtime
            .read_resource(&request.uri, caller, channel)
            .await
            .map(Into::into)
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let req = self.list_request(&context);
        let all = self
            .runtime
            .listed(&self.runtime.prompts.listed, req.as_ref(), |h| h.prompts)
            .await;
        let (items, next) = self.page("prompts/list", all, request)?;
        let mut result = ListPromptsResult::with_all_items(items);
        result.next_cursor = next;
        Ok(result)
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let (caller, channel) = self.call_of(context);
        self.runtime
            .get_prompt(
                &request.name,
                request.arguments.unwrap_or_default(),
                caller,
                channel,
            )
            .await
            .map(Into::into)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let (caller, channel) = self.call_of(context);
        let given = request
            .context
            .and_then(|c| c.arguments)
            .unwrap_or_default();
        self.runtime
            .complete(
                &request.r#ref,
                &request.argument.name,
                &request.argument.value,
                given,
                caller,
                channel,
            )
            .await
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
