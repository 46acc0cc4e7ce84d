//! Streamable HTTP: rmcp's service under axum, with `TCP_NODELAY`, `Origin`/`Host`
//! checks, and JSON-RPC errors (not plain text) for bodies that are not valid messages.
//!
//! The endpoint calls rmcp's service through a shared reference rather than as a tower
//! layer around it (docs/decisions.md, "Performance").

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rmcp::handler::server::ServerHandler;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::{
    LocalSessionManager, LocalSessionManagerError, LocalSessionWorker, create_local_session,
};
use rmcp::transport::streamable_http_server::session::{
    ServerSseMessage, SessionId, SessionManager,
};
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService, WorkerTransport};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::{INVALID_REQUEST, Verdict, error_response, guard};
use crate::db::Unreachable;
use crate::settings::ServerSettings;

/// What `GET /readyz` asks: `Ok`, or why calls would fail now.
pub(crate) type Readiness =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), Unreachable>> + Send>> + Send + Sync>;

/// What lets a request to the MCP endpoint in (authentication): the request, with what
/// it found in its extensions, or the answer that refuses it. Called by the endpoint
/// itself rather than as a tower layer (docs/decisions.md, "Performance").
pub(crate) type Guard = Arc<
    dyn Fn(Request) -> Pin<Box<dyn Future<Output = Result<Request, Response>> + Send>>
        + Send
        + Sync,
>;

/// The axum router that serves MCP at `[server] path` with a handler from `make` for
/// each session (each request, when stateless), for any rmcp handler (the transport
/// knows nothing of what serves the calls), `GET /readyz` with `ready` and `GET
/// /healthz`. `tracker` counts each POST as in flight until its response is sent;
/// `cancel` ends the sessions; `draining` turns `/readyz` to 503 (a shutdown began:
/// a balancer stops sending while the calls in flight finish). `guard`, when given,
/// sees every request of the MCP endpoint first (`/readyz` and `/healthz` are open).
#[allow(clippy::too_many_arguments)]
pub(crate) fn router<H: ServerHandler + Clone>(
    make: impl Fn() -> H + Send + Sync + 'static,
    ready: Readiness,
    s: &ServerSettings,
    stateless: bool,
    cancel: CancellationToken,
    draining: CancellationToken,
    tracker: TaskTracker,
    guard: Option<Guard>,
    stops: Arc<SessionStops>,
) -> Router {
    let stopping = draining;
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(!stateless)
        .with_json_response(stateless)
        .with_cancellation_token(cancel)
        .with_max_request_body_bytes(s.max_request_bytes)
        .with_allowed_origins(s.allowed_origins.clone())
        .enforce_origin_validation();
    config = if s.allowed_hosts.is_empty() {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(s.allowed_hosts.clone())
    };
    let mut local = LocalSessionManager::default();
    local.session_config.keep_alive = Some(std::time::Duration::from_secs_f64(
        s.session_idle_timeout.max(0.001),
    ));
    let sessions = Arc::new(Sessions {
        local,
        replica: s.replica.clone(),
        max: s.max_sessions.max(1),
        peak: Default::default(),
        warned: Default::default(),
        stops,
    });
    let mcp = StreamableHttpService::new(move || Ok(make()), sessions.clone(), config);
    let endpoint = Endpoint {
        mcp: Arc::new(mcp),
        stateless,
        sessions,
        owners: Default::default(),
        limit: s.max_request_bytes,
        tracker,
        guard,
    };
    Router::new()
        .route_service(&s.path, endpoint)
        .route(
            "/readyz",
            axum::routing::get(move || {
                let (ready, stopping) = (ready.clone(), stopping.clone());
                async move { readyz(ready, stopping).await }
            }),
        )
        .route(
            "/healthz",
            axum::routing::get(|| async {
                json_response(StatusCode::OK, serde_json::json!({"status": "alive"}))
            }),
        )
}

/// `GET /readyz`, for load balancers and orchestrators: 200 when calls can be served,
/// 503 with the reason when the database is unreachable or the server is stopping.
async fn readyz(ready: Readiness, stopping: CancellationToken) -> Response {
    let (status, body) = if stopping.is_cancelled() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "stopping"}),
        )
    } else {
        match ready().await {
            Ok(()) => (
                StatusCode::OK,
                serde_json::json!({"status": "ready", "database": "ok"}),
            ),
            Err(why) => (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"status": "unavailable", "database": why.to_string()}),
            ),
        }
    };
    json_response(status, body)
}

/// The MCP endpoint: rmcp's Streamable HTTP service, with rmcp's plain-text refusals of
/// a POST (an undecodable body, a wrong content type, a bad `Origin`) turned into
/// JSON-RPC error bodies, with the request's `id` when it has one.
///
/// Each POST also counts as in flight until its response body has been sent, so that a
/// shutdown waits for requests that have not reached their tool yet.
struct Endpoint<H: ServerHandler> {
    mcp: Arc<StreamableHttpService<H, Sessions>>,
    /// No sessions (`--stateless`).
    stateless: bool,
    /// The sessions rmcp keeps (to answer a `DELETE` of one it does not know).
    sessions: Arc<Sessions>,
    /// Who opened each session: the identity authentication found (`source:subject`),
    /// none when it was opened anonymously. A request in a session that carries another
    /// identity is refused as if the session did not exist (MCP's security guidance:
    /// sessions are bound to their user).
    owners: Arc<std::sync::Mutex<std::collections::HashMap<String, Option<String>>>>,
    /// `[server] max_request_bytes`.
    limit: usize,
    tracker: TaskTracker,
    guard: Option<Guard>,
}

impl<H: ServerHandler> Clone for Endpoint<H> {
    fn clone(&self) -> Self {
        Endpoint {
            mcp: self.mcp.clone(),
            stateless: self.stateless,
            sessions: self.sessions.clone(),
            owners: self.owners.clone(),
            limit: self.limit,
            tracker: self.tracker.clone(),
            guard: self.guard.clone(),
        }
    }
}

impl<H: ServerHandler> tower_service::Service<Request> for Endpoint<H> {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let endpoint = self.clone();
        Box::pin(async move { Ok(endpoint.handle(req).await) })
    }
}

impl<H: ServerHandler> Endpoint<H> {
    async fn handle(&self, req: Request) -> Response {
        if let Some(twins) = twin_host_or_origin(req.headers()) {
            return twins;
        }
        let req = match &self.guard {
            Some(guard) => match guard(req).await {
                Ok(req) => req,
                Err(refused) => return refused,
            },
            None => req,
        };
        let session = req
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let who = req
            .extensions()
            .get::<crate::call::Identity>()
            .map(|i| format!("{}:{}", i.source(), i.subject()));
        if let Some(id) = &session
            && let Some(refused) = self.not_theirs(id, who.as_deref())
        {
            return refused;
        }
        let opens = session.is_none() && !self.stateless && req.method() == Method::POST;
        if opens && let Some(full) = self.full().await {
            // The body is read (and dropped) so that the connection can carry the
            // client's next request.
            let _ = axum::body::to_bytes(req.into_body(), self.limit).await;
            return full;
        }
        match *req.method() {
            Method::POST => {
                let token = self.tracker.token();
                // In a session, the call stops when its answer's connection closes
                // (stateless, rmcp drops the call with the connection already).
                let gone = (!self.stateless).then(CancellationToken::new);
                let mut req = req;
                if let Some(gone) = &gone {
                    req.extensions_mut().insert(AnswerGone(gone.clone()));
                }
                let mut response = self.post(req).await;
                // Sessions opened at once past the cap: rmcp's 500 for the one that
                // found it full is the cap's 503.
                if opens
                    && response.status() == StatusCode::INTERNAL_SERVER_ERROR
                    && let Some(full) = self.full().await
                {
                    response = full;
                }
                if session.is_none()
                    && let Some(id) = response
                        .headers()
                        .get("mcp-session-id")
                        .and_then(|v| v.to_str().ok())
                {
                    self.opened(id.to_owned(), who).await;
                }
                response.map(|inner| {
                    Body::new(Tracked {
                        inner,
                        _token: token,
                        gone,
                        ended: false,
                    })
                })
            }
            Method::DELETE => {
                // A session this server does not have (ended, or never made): 404, as
                // the spec says (rmcp alone answers 202 whatever the id).
                let id = req
                    .headers()
                    .get("mcp-session-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                if let Some(id) = id
                    && !self
                        .sessions
                        .local
                        .sessions
                        .read()
                        .await
                        .contains_key(id.as_str())
                {
                    let body = error_response(
                        serde_json::Value::Null,
                        INVALID_REQUEST,
                        format!(
                            "no session has the id `{id}` (it ended, or this server never made it)"
                        ),
                    );
                    return json_response(StatusCode::NOT_FOUND, body);
                }
                if let Some(id) = &session {
                    self.owners
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(id);
                }
                // rmcp ends a session with 202; MCP clients (the Python SDK among them)
                // expect 200 or 204 and warn otherwise.
                let mut response = self.mcp.handle(req).await.map(Body::new);
                if response.status() == StatusCode::ACCEPTED {
                    *response.status_mut() = StatusCode::NO_CONTENT;
                }
                response
            }
            _ => self.mcp.handle(req).await.map(Body::new),
        }
    }

    /// The refusal of a request in session `id` made by `who` when another opened it
    /// (404, as for a session that does not exist: the spec's answer, and it tells the
    /// caller nothing of other users' sessions).
    fn not_theirs(&self, id: &str, who: Option<&str>) -> Option<Response> {
        let owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
        let owner = owners.get(id)?;
        if owner.as_deref() == who {
            return None;
        }
        tracing::warn!(
            session = id,
            opened_by = owner.as_deref().unwrap_or("an anonymous caller"),
            request_by = who.unwrap_or("an anonymous caller"),
            "refused a request in a session another caller opened"
        );
        let body = error_response(
            serde_json::Value::Null,
            INVALID_REQUEST,
            format!(
                "no session has the id `{id}` for this caller (a session belongs to the identity that opened it: open one with `initialize`)"
            ),
        );
        Some(json_response(StatusCode::NOT_FOUND, body))
    }

    /// The answer to a request that would open a session when `[server] max_sessions`
    /// are open: 503, to try again once sessions end (idle ones end after `[server]
    /// session_idle_timeout`).
    async fn full(&self) -> Option<Response> {
        let max = self.sessions.max;
        if self.sessions.count().await < max {
            return None;
        }
        {
            let mut warned = self
                .sessions
                .warned
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if warned.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(10)) {
                *warned = Some(std::time::Instant::now());
                tracing::warn!(
                    max_sessions = max,
                    "refused a new session: the server has its maximum of sessions open ([server] max_sessions)"
                );
            }
        }
        let body = error_response(
            serde_json::Value::Null,
            INVALID_REQUEST,
            format!(
                "the server has its maximum of {max} sessions open ([server] max_sessions): try again later, once sessions end"
            ),
        );
        let mut response = json_response(StatusCode::SERVICE_UNAVAILABLE, body);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        Some(response)
    }

    /// Records who opened session `id`; forgets the sessions that ended (expired, or
    /// closed by the server) once in a while, so that the record stays as large as
    /// the live sessions.
    async fn opened(&self, id: String, who: Option<String>) {
        let sweep = {
            let mut owners = self.owners.lock().unwrap_or_else(|p| p.into_inner());
            owners.insert(id, who);
            owners.len() >= 1024 && owners.len().is_power_of_two()
        };
        if sweep {
            let live: std::collections::HashSet<String> = self
                .sessions
                .local
                .sessions
                .read()
                .await
                .keys()
                .map(|k| k.to_string())
                .collect();
            self.owners
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|id, _| live.contains(id));
        }
    }

    async fn post(&self, req: Request) -> Response {
        let limit = self.limit;
        let (parts, body) = req.into_parts();
        let json_body = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let bytes = match axum::body::to_bytes(body, limit).await {
            Ok(bytes) => bytes,
            Err(_) => {
                let body = error_response(
                    serde_json::Value::Null,
                    INVALID_REQUEST,
                    format!(
                        "the request body is larger than {limit} bytes ([server] max_request_bytes)"
                    ),
                );
                return json_response(StatusCode::PAYLOAD_TOO_LARGE, body);
            }
        };
        // The bytes stay here (a reference count, not a copy) for the error below.
        let body = http_body_util::Full::new(bytes.clone());
        let response = self
            .mcp
            .handle(Request::from_parts(parts, body))
            .await
            .map(Body::new);
        refuse_as_json_rpc(response, &bytes, json_body).await
    }
}

/// What ends a 2025-11-25 session's calls at once: the session's end (a `DELETE`, or
/// its expiry) stops every call in it, rather than after rmcp's five-second drain, so
/// that a call waiting for an answer that will not come rolls back and lets go of the
/// database now.
#[derive(Default)]
pub(crate) struct SessionStops(
    std::sync::Mutex<std::collections::HashMap<String, CancellationToken>>,
);

impl SessionStops {
    /// The token cancelled when session `id` ends.
    pub(crate) fn of(&self, id: &str) -> CancellationToken {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.to_owned())
            .or_default()
            .clone()
    }

    /// Session `id` ended: its calls stop.
    fn end(&self, id: &str) {
        if let Some(stop) = self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(id) {
            stop.cancel();
        }
    }
}

/// Cancelled when the connection that carries a request's answer goes away before the
/// answer is sent (the client closed it): the request's call stops, as when the client
/// cancels it. Put in the request's extensions for the handler.
#[derive(Clone)]
pub(crate) struct AnswerGone(pub CancellationToken);

/// The 2025-11-25 sessions of this server: rmcp's own, in this process's memory, with
/// ids that start with `[server] replica` and a dot when it is set, so that a balancer
/// sends each session's requests to the replica that has it (`run nginx` writes the
/// map that does).
pub(crate) struct Sessions {
    local: LocalSessionManager,
    replica: Option<String>,
    /// `[server] max_sessions`.
    max: usize,
    /// The most sessions open at once since memory was last given back.
    peak: std::sync::atomic::AtomicUsize,
    /// When a refusal for the cap was last logged (at most every 10 s).
    warned: std::sync::Mutex<Option<std::time::Instant>>,
    /// The sessions' calls' stops.
    stops: Arc<SessionStops>,
}

impl Sessions {
    /// How many sessions are open.
    async fn count(&self) -> usize {
        self.local.sessions.read().await.len()
    }

    /// After a burst of sessions has ended (half of the peak gone, and the peak large),
    /// gives the freed memory back to the system: glibc's allocator keeps what a burst
    /// took (measured: 10,000 sessions took 700 MiB that stayed after they expired).
    fn ended(&self, left: usize) {
        use std::sync::atomic::Ordering;
        let peak = self.peak.load(Ordering::Relaxed);
        if peak >= 256 && left <= peak / 2 {
            self.peak.store(left, Ordering::Relaxed);
            give_memory_back();
        }
    }
}

/// Returns the allocator's free memory to the system (glibc's `malloc_trim`), on a
/// blocking thread; elsewhere nothing. Measured: after 10,000 sessions expired, the
/// server's RSS stayed at 611 MiB; `malloc_trim` took it to 61 MiB.
fn give_memory_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    tokio::task::spawn_blocking(|| {
        trim();
        tracing::debug!("gave the memory of ended sessions back to the system");
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() {
    // SAFETY: `malloc_trim` takes no pointer and only releases memory the allocator
    // holds free; glibc documents it as thread-safe (MT-Safe).
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Why a session could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionsError {
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
    #[error("the server has its maximum of {0} sessions open ([server] max_sessions)")]
    Full(usize),
}

impl SessionManager for Sessions {
    type Error = SessionsError;
    type Transport = WorkerTransport<LocalSessionWorker>;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let open = self.count().await;
        if open >= self.max {
            return Err(SessionsError::Full(self.max));
        }
        self.peak
            .fetch_max(open + 1, std::sync::atomic::Ordering::Relaxed);
        let Some(replica) = &self.replica else {
            return Ok(self.local.create_session().await?);
        };
        let id: SessionId = format!(
            "{replica}.{}",
            rmcp::transport::common::server_side_http::session_id()
        )
        .into();
        let (handle, worker) = create_local_session(id.clone(), self.local.session_config.clone());
        self.local.sessions.write().await.insert(id.clone(), handle);
        Ok((id, WorkerTransport::spawn(worker)))
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        Ok(self.local.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.local.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.stops.end(id);
        self.local.close_session(id).await?;
        self.ended(self.count().await);
        Ok(())
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<
        impl futures_util::Stream<Item = ServerSseMessage> + Send + Sync + 'static,
        Self::Error,
    > {
        Ok(self.local.create_stream(id, message).await?)
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        Ok(self.local.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<
        impl futures_util::Stream<Item = ServerSseMessage> + Send + Sync + 'static,
        Self::Error,
    > {
        Ok(self.local.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<
        impl futures_util::Stream<Item = ServerSseMessage> + Send + Sync + 'static,
        Self::Error,
    > {
        Ok(self.local.resume(id, last_event_id).await?)
    }
}

/// A response body that counts as in flight until it is sent (or dropped), and says so
/// ([`AnswerGone`]) when it is dropped before its end: the client went away.
struct Tracked {
    inner: Body,
    _token: TaskTrackerToken,
    gone: Option<CancellationToken>,
    ended: bool,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(gone) = &self.gone
            && !self.ended
            && !http_body::Body::is_end_stream(&self.inner)
        {
            gone.cancel();
        }
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, std::task::Poll::Ready(None)) {
            self.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// rmcp's answer to a POST of `bytes`, with a plain-text refusal turned into a JSON-RPC
/// error (any other answer is returned as it is).
async fn refuse_as_json_rpc(response: Response, bytes: &Bytes, json_body: bool) -> Response {
    let mut status = response.status();
    if !status.is_client_error() || is_json(&response) {
        return response;
    }
    // rmcp answers a JSON body it cannot decode with 415, as if the type were wrong.
    if status == StatusCode::UNSUPPORTED_MEDIA_TYPE && json_body {
        status = StatusCode::BAD_REQUEST;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let body = refusal(bytes, status, &text);
    let mut response = json_response(status, body);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/event-stream"))
}

/// The JSON-RPC error for a body that rmcp refused with `status` and `text`.
fn refusal(raw: &Bytes, status: StatusCode, text: &str) -> serde_json::Value {
    let why = if text.is_empty() {
        status.canonical_reason().unwrap_or("refused").to_owned()
    } else {
        text.to_owned()
    };
    match guard(raw) {
        Verdict::Reply(body) => body,
        // A valid message refused for another reason (its headers, its origin): keep the
        // reason, and the id when there is one.
        Verdict::Pass(_) | Verdict::Drop(_) => {
            let id = serde_json::from_slice::<serde_json::Value>(raw)
                .ok()
                .and_then(|v| v.get("id").cloned())
                .unwrap_or(serde_json::Value::Null);
            error_response(id, INVALID_REQUEST, why)
        }
    }
}

/// A request with two `Host` headers, or two `Origin` headers, is refused with 400
/// before anything reads them: which one a check reads and which one a later reader
/// believes may differ (an allowed host first, a hostile one second).
pub(crate) async fn one_host_one_origin(req: Request, next: axum::middleware::Next) -> Response {
    match twin_host_or_origin(req.headers()) {
        Some(refused) => refused,
        None => next.run(req).await,
    }
}

/// The 400 for a request with two `Host` or two `Origin` headers.
fn twin_host_or_origin(headers: &axum::http::HeaderMap) -> Option<Response> {
    for name in [header::HOST, header::ORIGIN] {
        if headers.get_all(&name).iter().nth(1).is_some() {
            let body = error_response(
                serde_json::Value::Null,
                INVALID_REQUEST,
                format!("the request has more than one `{name}` header: send one"),
            );
            return Some(json_response(StatusCode::BAD_REQUEST, body));
        }
    }
    None
}

pub(crate) fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
