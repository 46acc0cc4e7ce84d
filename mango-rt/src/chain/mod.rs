//! The middleware chain and the one pipeline every request that reaches an app's code
//! goes through: middleware (in the order `Mango.toml` lists it) → the item's endpoint
//! → the end of the call's transaction.
//!
//! Middleware runs the same over stdio, HTTP and the test server, inside the call's
//! database transaction. Two styles, both registered with `#[mango_rt::middleware]`:
//!
//! ```
//! use mango_rt::{Middleware, Next, Request, Response, middleware};
//!
//! // around: may change the request, skip the item (not call `next`), change the response
//! #[middleware]
//! async fn timing(req: &mut Request, next: Next) -> Response {
//!     let started = std::time::Instant::now();
//!     let response = next.run(req).await;
//!     let ms = started.elapsed().as_millis();
//!     mango_rt::tracing::info!(name = req.target.name, ms);
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
//!
//! `Next` ends in an endpoint it does not know (as axum's `Next` wraps an opaque
//! service): the chain has no code for one kind of item.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::call::{
    BoxFuture, Call, Caller, Channel, Context, Extensions, Output, Target, catching_panics,
};
use crate::db::{DbLease, DbMode, DbSlot};
use crate::state::State;

mod listed;

pub(crate) use listed::ListItem;
pub use listed::Listed;

/// A boxed future that borrows (the shape of a middleware step).
pub type StepFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One step of the chain: the middleware's own function, given the rest as `next`.
pub type Around = for<'a> fn(&'a mut Request, Next) -> StepFuture<'a, Response>;

/// Changes a list a client is given (hide items, …).
pub type ListHook = for<'a> fn(&'a ListRequest, &'a mut Vec<Listed>) -> StepFuture<'a, ()>;

/// A middleware's hooks on the lists (`tools/list`, `resources/list`,
/// `resources/templates/list`, `prompts/list`).
#[derive(Clone, Copy)]
pub struct ListHooks {
    pub tools: ListHook,
    pub resources: ListHook,
    pub resource_templates: ListHook,
    pub prompts: ListHook,
}

/// The steps of a chain, in order.
pub(crate) type Chain = Arc<[Around]>;

/// What ends a chain: the item's own code. It takes what it needs from the request
/// (arguments, extensions, the database slot) and returns the item's future.
pub(crate) trait Endpoint: Send + Sync + 'static {
    /// Starts the item for this request.
    fn start(&self, req: &mut Request) -> BoxFuture<Output>;

    /// What the item is, for the message of a panic in it ("the tool panicked: …").
    fn what(&self) -> &'static str;
}

/// A call as middleware sees it: what is asked for, with which arguments, by whom.
pub struct Request {
    /// The item called: its kind, exposed name and app.
    pub target: Target,
    /// The arguments, as JSON: a middleware may change them before the item sees them.
    pub arguments: serde_json::Map<String, serde_json::Value>,
    /// Who is calling (an authentication middleware sets `caller.identity`).
    pub caller: Caller,
    /// Values for later middleware and the item (`Context::extension`).
    pub extensions: Extensions,
    pub(crate) state: Arc<State>,
    pub(crate) channel: Channel,
    pub(crate) db: DbSlot,
    pub(crate) db_mode: DbMode,
    /// The resources the call said it changed (`Context::resource_changed`).
    changed: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Request {
    pub(crate) fn new(
        state: Arc<State>,
        target: Target,
        arguments: serde_json::Map<String, serde_json::Value>,
        caller: Caller,
        channel: Channel,
        db_mode: DbMode,
    ) -> Request {
        Request {
            target,
            arguments,
            caller,
            extensions: Extensions::default(),
            state,
            changed: channel.changed.clone(),
            db: DbSlot::new(channel.commit.clone(), channel.before_write.clone()),
            channel,
            db_mode,
        }
    }

    /// The project's settings.
    pub fn settings(&self) -> &crate::Settings {
        &self.state.settings
    }

    pub(crate) fn state(&self) -> &Arc<State> {
        &self.state
    }

    /// What an app's `#[startup]` hook built, of type `T`.
    pub fn app_state<T: Send + Sync + 'static>(&self) -> Option<crate::call::AppState<T>> {
        self.state.app_state::<T>().map(crate::call::AppState::new)
    }

    /// The call's database connection, in the call's transaction (the one the item
    /// gets): what a middleware writes is committed or rolled back with the item's
    /// work. Give it back (drop the lease) before calling `next`.
    pub async fn db(&self) -> Result<DbLease, crate::ToolError> {
        self.db.lease(&self.state.database, self.db_mode).await
    }

    /// What the item's code receives: the arguments (taken), the context (with the
    /// caller, a copy of the extensions, and the request's channel back to the client)
    /// and the call's database slot.
    pub(crate) fn take_call(&mut self) -> Call {
        let context = Context::new(
            self.state.clone(),
            self.target,
            &self.caller,
            std::mem::take(&mut self.channel),
            self.extensions.clone(),
        );
        Call::new(
            std::mem::take(&mut self.arguments),
            context,
            self.db.clone(),
            self.db_mode,
        )
    }
}

/// A list request (`tools/list`, `resources/list` …) as middleware sees it.
pub struct ListRequest {
    /// Who is asking.
    pub caller: Caller,
}

/// The outcome of a call, as middleware sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub output: Output,
}

impl Response {
    /// An error result with this message (`isError: true`).
    pub fn error(message: impl std::fmt::Display) -> Response {
        Response {
            output: Output::error(message),
        }
    }

    /// A text result.
    pub fn text(text: impl Into<String>) -> Response {
        Response {
            output: Output::text(text),
        }
    }

    pub fn is_error(&self) -> bool {
        self.output.is_error()
    }
}

/// The rest of the chain, ending with the item.
pub struct Next {
    chain: Chain,
    index: usize,
    endpoint: Arc<dyn Endpoint>,
}

impl Next {
    /// Runs the rest of the chain, then the item; a panic in the item is an error
    /// response to the middleware around it.
    pub async fn run(self, req: &mut Request) -> Response {
        match self.chain.get(self.index).copied() {
            Some(step) => {
                let next = Next {
                    chain: self.chain,
                    index: self.index + 1,
                    endpoint: self.endpoint,
                };
                step(req, next).await
            }
            None => Response {
                output: run_endpoint(&self.endpoint, req).await,
            },
        }
    }
}

/// The item's own code for `req`; a panic is an error output. In a 2026-07-28 round, a
/// question without an answer ends the item there: [`Output::InputRequired`].
async fn run_endpoint(endpoint: &Arc<dyn Endpoint>, req: &mut Request) -> Output {
    let rounds = req.channel.asker.rounds();
    let target = req.target;
    let item = crate::telemetry::within(
        || {
            use crate::telemetry::{Kind, Spec};
            Spec::new(
                format!("{} {}", target.kind.as_str(), target.name),
                Kind::Internal,
            )
            .attr("mango.app", target.app)
            .attr("mango.item.kind", target.kind.as_str())
            .attr("mango.item.name", target.name)
        },
        catching_panics(endpoint.start(req), endpoint.what()),
    );
    match rounds {
        None => item.await,
        Some(rounds) => rounds.run(item).await.unwrap_or(Output::InputRequired),
    }
}

/// The pipeline: `req` through `chain` to `endpoint`, then the call's transaction ended
/// (committed when the output is a success, rolled back otherwise: an error, a panic,
/// a middleware that refused). A panic in a middleware is an error output. The call
/// counts as in flight until it is done.
pub(crate) async fn run(chain: &Chain, endpoint: &Arc<dyn Endpoint>, mut req: Request) -> Output {
    let _in_flight = req.state.in_flight.token();
    // A read (its transaction cannot write) enqueues its jobs on the side.
    let read = req
        .db_mode
        .enforce_read_only
        .then(|| req.state.database.clone());
    let go = async {
        if chain.is_empty() {
            // No middleware: straight to the item, without the chain's Arc clones.
            run_endpoint(endpoint, &mut req).await
        } else {
            let next = Next {
                chain: chain.clone(),
                index: 0,
                endpoint: endpoint.clone(),
            };
            catching_panics(async { next.run(&mut req).await.output }, "middleware").await
        }
    };
    let output = match read {
        Some(database) => crate::db::IN_A_READ.scope(database, go).await,
        None => go.await,
    };
    let committed = output.is_success();
    match req.db.finish(committed).await {
        Ok(()) if committed => {
            let changed =
                std::mem::take(&mut *req.changed.lock().unwrap_or_else(|p| p.into_inner()));
            if !changed.is_empty() {
                req.state.resources_changed(changed).await;
            }
            output
        }
        Ok(()) => output,
        Err(e) => Output::error(e),
    }
}

/// Django-style middleware: `process_request` before the item (a response returned
/// there stops the call: the item and later middleware do not run), and
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
        tools: &mut Vec<Listed>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (req, tools);
        async {}
    }

    /// Changes the resources a client is given by `resources/list`.
    fn list_resources(
        &self,
        req: &ListRequest,
        resources: &mut Vec<Listed>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (req, resources);
        async {}
    }

    /// Changes the templates a client is given by `resources/templates/list`.
    fn list_resource_templates(
        &self,
        req: &ListRequest,
        templates: &mut Vec<Listed>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (req, templates);
        async {}
    }

    /// Changes the prompts a client is given by `prompts/list`.
    fn list_prompts(
        &self,
        req: &ListRequest,
        prompts: &mut Vec<Listed>,
    ) -> impl Future<Output = ()> + Send {
        let _ = (req, prompts);
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
