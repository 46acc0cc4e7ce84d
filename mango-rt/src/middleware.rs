//! Middleware: code that runs around every tool call, in the order `Mango.toml` lists
//! it (`middleware = ["app.name", …]`), the same over stdio, HTTP and the test server,
//! and inside the call's database transaction.
//!
//! Two styles, both registered with `#[mango_rt::middleware]`:
//!
//! ```ignore
//! // around: may change the request, skip the tool (not call `next`), change the response
//! #[middleware]
//! async fn timing(req: &mut Request, next: Next) -> Response {
//!     let started = std::time::Instant::now();
//!     let response = next.run(req).await;
//!     tracing::info!(tool = req.tool, ms = started.elapsed().as_millis());
//!     response
//! }
//!
//! // Django style: a unit struct implementing `Middleware`
//! #[middleware]
//! struct Audit;
//! impl Middleware for Audit {
//!     async fn process_request(&self, req: &mut Request) -> Option<Response> { None }
//!     async fn process_response(&self, req: &Request, response: &mut Response) {}
//! }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use linkme::distributed_slice;
use rmcp::model::{Extensions, Tool};

use crate::context::{Context, ContextParts, TransportKind};
use crate::db::DbSlot;
use crate::inject::Call;
use crate::output::{ToolOutput, catching_panics};
use crate::server::Runtime;

/// A boxed future that borrows (the shape of a middleware step).
pub type StepFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One step of the chain: the middleware's own function, given the rest as `next`.
pub type Around = for<'a> fn(&'a mut Request, Next) -> StepFuture<'a, Response>;

/// Changes the tool list a client is given (hide tools, …).
pub type ListHook = for<'a> fn(&'a ListRequest, &'a mut Vec<Tool>) -> StepFuture<'a, ()>;

/// Every `#[middleware]` of every linked app.
#[distributed_slice]
pub static MIDDLEWARE: [MiddlewareEntry];

/// One middleware, as `#[middleware]` writes it.
pub struct MiddlewareEntry {
    /// The package name of the app (`mango` for the built-ins).
    pub app: &'static str,
    pub name: &'static str,
    pub around: Around,
    pub list: Option<ListHook>,
    pub file: &'static str,
    pub line: u32,
}

impl MiddlewareEntry {
    /// `app.name`, as `Mango.toml` lists it.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.app, self.name)
    }
}

/// Every middleware, mango's built-ins first.
pub fn all() -> impl Iterator<Item = &'static MiddlewareEntry> {
    crate::builtin::MIDDLEWARE_BUILTINS
        .iter()
        .chain(MIDDLEWARE.iter())
}

/// A tool call as middleware sees it.
pub struct Request {
    /// The exposed name of the tool.
    pub tool: &'static str,
    /// The package name of its app.
    pub app: &'static str,
    /// The arguments, as JSON: a middleware may change them before the tool sees them.
    pub arguments: serde_json::Map<String, serde_json::Value>,
    pub transport: TransportKind,
    /// The client's name and version, from `initialize`, when known.
    pub client: Option<rmcp::model::Implementation>,
    /// The HTTP request's headers (HTTP only).
    pub headers: Option<axum::http::HeaderMap>,
    /// Who is calling, once an authentication middleware said so.
    pub identity: Option<String>,
    /// Values for later middleware and the tool (`Context::extension`).
    pub extensions: Extensions,
    pub(crate) parts: crate::server::RequestParts,
    pub(crate) db: DbSlot,
    pub(crate) runtime: Arc<Runtime>,
    /// The tool's index in the runtime's tools.
    pub(crate) served: usize,
}

impl Request {
    /// The project's settings.
    pub fn settings(&self) -> &crate::Settings {
        &self.runtime.settings
    }

    /// The call's database connection, in the call's transaction (the one the tool
    /// gets): what a middleware writes is committed or rolled back with the tool's work.
    /// Give it back (drop the lease) before calling `next`.
    pub async fn db(&self) -> Result<crate::db::DbLease, crate::ToolError> {
        let entry = self.runtime.tools[self.served].entry;
        self.db
            .lease(
                self.runtime.database.as_ref(),
                entry.atomic,
                entry.annotations.read_only == Some(true),
            )
            .await
    }
}

/// A `tools/list` as middleware sees it.
pub struct ListRequest {
    pub transport: TransportKind,
    pub client: Option<rmcp::model::Implementation>,
    pub headers: Option<axum::http::HeaderMap>,
    /// Who is asking, when the HTTP authentication layer knows.
    pub identity: Option<String>,
}

/// The outcome of a call, as middleware sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub output: ToolOutput,
}

impl Response {
    /// An error result with this message (`isError: true`).
    pub fn error(message: impl std::fmt::Display) -> Response {
        Response {
            output: ToolOutput::error(message),
        }
    }

    /// A text result.
    pub fn text(text: impl Into<String>) -> Response {
        Response {
            output: ToolOutput::text(text),
        }
    }

    pub fn is_error(&self) -> bool {
        self.output.is_error()
    }
}

/// The rest of the chain, ending with the tool.
pub struct Next {
    chain: Arc<[&'static MiddlewareEntry]>,
    index: usize,
}

impl Next {
    pub(crate) fn new(chain: Arc<[&'static MiddlewareEntry]>) -> Next {
        Next { chain, index: 0 }
    }

    /// Runs the rest of the chain, then the tool.
    pub async fn run(self, req: &mut Request) -> Response {
        match self.chain.get(self.index).copied() {
            Some(entry) => {
                let next = Next {
                    chain: self.chain.clone(),
                    index: self.index + 1,
                };
                (entry.around)(req, next).await
            }
            None => Response {
                output: run_tool(req).await,
            },
        }
    }
}

/// The end of the chain: the tool itself, with the request's arguments, extensions
/// and database slot; a panic in it is an error response to the middleware around it.
async fn run_tool(req: &mut Request) -> ToolOutput {
    let mut parts = std::mem::replace(&mut req.parts, crate::server::RequestParts::in_process());
    parts.transport = req.transport;
    parts.identity = req.identity.clone();
    invoke(
        &req.runtime,
        req.served,
        std::mem::take(&mut req.arguments),
        parts,
        req.extensions.clone(),
        req.db.clone(),
    )
    .await
}

/// Runs the tool at `index` of the runtime with `arguments`, its context made of `parts`
/// and `extensions`, its connection (if it takes one) from `db`; a panic in it is an
/// error result.
pub(crate) async fn invoke(
    runtime: &Arc<Runtime>,
    index: usize,
    arguments: serde_json::Map<String, serde_json::Value>,
    parts: crate::server::RequestParts,
    extensions: Extensions,
    db: DbSlot,
) -> ToolOutput {
    let served = &runtime.tools[index];
    let context = Context::new(ContextParts {
        runtime: runtime.clone(),
        tool: served.name,
        app: served.entry.app,
        request_id: parts.request_id,
        meta: parts.meta,
        progress_token: parts.progress_token,
        peer: parts.peer,
        transport: parts.transport,
        identity: parts.identity,
        extensions,
    });
    let call = Call::new(
        arguments,
        context,
        served.entry.atomic,
        served.entry.annotations.read_only == Some(true),
    )
    .with_db(db);
    catching_panics((served.entry.call)(call), "tool").await
}

/// Django-style middleware: `process_request` before the tool (a response returned
/// there stops the call: the tool and later middleware do not run), and
/// `process_response` after it. Both have defaults that do nothing.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is marked #[middleware] but does not implement `mango_rt::Middleware`",
    label = "a Django-style middleware implements `mango_rt::Middleware`",
    note = "add `impl mango_rt::Middleware for {Self} {{ async fn process_request(&self, req: &mut Request) -> Option<Response> {{ … }} }}` (every method has a default)"
)]
pub trait Middleware: Send + Sync + 'static {
    fn process_request(&self, req: &mut Request) -> impl Future<Output = Option<Response>> + Send {
        let _ = req;
        async { None }
    }

    fn process_response(
        &self,
        req: &Request,
        response: &mut Response,
    ) -> impl Future<Output = ()> + Send {
        let _ = (req, response);
        async {}
    }

    /// Changes the tools a client is given by `tools/list`.
    fn list_tools(
        &self,
        req: &ListRequest,
        tools: &mut Vec<Tool>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (req, tools);
        async {}
    }
}

/// Runs a Django-style middleware as a step of the chain (generated code calls it).
pub async fn django<M: Middleware>(m: &'static M, req: &mut Request, next: Next) -> Response {
    if let Some(response) = m.process_request(req).await {
        return response;
    }
    let mut response = next.run(req).await;
    m.process_response(req, &mut response).await;
    response
}
