//! OpenTelemetry traces (`[telemetry]`, mango-rt's `telemetry` feature).
//!
//! `tracing` stays the instrumentation API: mango's spans are `tracing` spans with the
//! target [`SPANS`], which the console log leaves out and the OpenTelemetry layer
//! (tracing-opentelemetry) turns into OTLP spans, with an app's own `tracing` spans
//! under them. With `mode = "off"` (the default) nothing of it is installed and no
//! request does any of it: [`on`] is one relaxed load.
//!
//! The span of an MCP request is named and attributed by the OpenTelemetry semantic
//! conventions for MCP (`{mcp.method.name} {target}`, `mcp.method.name`,
//! `gen_ai.tool.name`, `jsonrpc.request.id`, `mcp.protocol.version`, `error.type` …).
//! Its parent is the request's `_meta` `traceparent` (SEP-414) if that is valid, else
//! the HTTP `traceparent` header if that is; a malformed one is ignored (a new trace).
//! When both are valid and differ, the header's becomes a link.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::FutureExt as _;
use futures_util::future::Either;
use rmcp::RoleServer;
use rmcp::model::ErrorData;
use rmcp::service::RequestContext;
use tracing::Instrument;

use crate::settings::{Settings, TelemetryMode};

#[cfg(feature = "telemetry")]
mod export;
#[cfg(feature = "telemetry")]
mod otel;

/// The target of mango's spans (requests, endpoints, the database, tasks, jobs): the
/// console log leaves them out, the trace layer takes them.
pub(crate) const SPANS: &str = "mango::span";

/// The target of the small span that puts a call's trace id on the console log's
/// lines (`trace{id=…}:`): the console log takes it, the trace layer leaves it out.
#[cfg_attr(not(feature = "telemetry"), allow(dead_code))]
pub(crate) const LOG_MARK: &str = "mango::trace";

static ON: AtomicBool = AtomicBool::new(false);

/// Whether requests are traced (`[telemetry] mode` is not `off` and the layer is
/// installed in this process).
pub(crate) fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Why `[telemetry]` cannot be done as set: said at start-up, before anything serves.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    #[error(
        "[telemetry] mode = \"{mode}\" needs mango-rt's `telemetry` feature, which this build lacks: in the project's Cargo.toml write `mango-rt = {{ features = [\"telemetry\"], … }}` (or set mode = \"off\")"
    )]
    NotBuilt { mode: &'static str },
    #[error(
        "[telemetry] endpoint `{endpoint}` is not an http:// or https:// URL: give the collector's OTLP/HTTP address, such as http://127.0.0.1:4318"
    )]
    Endpoint { endpoint: String },
    #[error(
        "[telemetry] headers: `{header}` is to be read from the environment variable {variable}, which is not set: set it, or remove the header"
    )]
    MissingHeader { header: String, variable: String },
    #[error("[telemetry] headers: `{header}` is not a valid HTTP header name or value")]
    BadHeader { header: String },
    #[error("[telemetry]: could not start the exporter: {0}")]
    Start(String),
}

/// What keeps the exporter running: dropped at the end of the process's command, it
/// sends the spans still queued (waiting at most twice `[telemetry] timeout`: the
/// export under way, then the last).
pub(crate) struct Installed {
    #[cfg(feature = "telemetry")]
    _provider: otel::Provider,
}

/// The console log (`filter`: `MANGO_LOG`, `RUST_LOG` or `log_level`), and with
/// `[telemetry]` the trace layer beside it. Called once, before anything logs.
pub(crate) fn install(
    settings: &Settings,
    project: &str,
    filter: tracing_subscriber::EnvFilter,
) -> Result<Option<Installed>, Problem> {
    use std::io::IsTerminal;

    let filter = without(filter, SPANS);
    let mode = settings.telemetry.mode;
    if mode == TelemetryMode::Off {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init();
        return Ok(None);
    }
    #[cfg(not(feature = "telemetry"))]
    {
        let _ = (project, filter);
        Err(Problem::NotBuilt {
            mode: match mode {
                TelemetryMode::Propagate => "propagate",
                _ => "export",
            },
        })
    }
    #[cfg(feature = "telemetry")]
    {
        let provider = otel::Provider::new(&settings.telemetry, project)?;
        let console = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false);
        if otel::install(&provider, console, filter) {
            ON.store(true, Ordering::Relaxed);
        }
        Ok(Some(Installed {
            _provider: provider,
        }))
    }
}

/// `filter` with `target` turned off (the targets are constants that parse; one that
/// did not would leave the filter as it was, never turn everything off).
fn without(filter: tracing_subscriber::EnvFilter, target: &str) -> tracing_subscriber::EnvFilter {
    match format!("{target}=off").parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

/// The span of an MCP request, or `None` when requests are not traced. `target` is the
/// tool's or prompt's name (in the span's name and `gen_ai.*.name`) or the resource's
/// URI (`mcp.resource.uri` only: a URI would make the span's name unbounded); `stdio`
/// says how it came (`network.transport`: `pipe`, else `tcp`).
pub(crate) fn request(
    context: &RequestContext<RoleServer>,
    method: &'static str,
    target: Target<'_>,
    stdio: bool,
) -> Option<CallSpan> {
    if !on() {
        return None;
    }
    let name = match target {
        Target::Tool(name) | Target::Prompt(name) => format!("{method} {name}"),
        Target::Uri(_) | Target::None => method.to_owned(),
    };
    let (tool, prompt, uri) = match target {
        Target::Tool(name) => (Some(name), None, None),
        Target::Prompt(name) => (None, Some(name), None),
        Target::Uri(uri) => (None, None, Some(uri)),
        Target::None => (None, None, None),
    };
    let version = context.protocol_version();
    let http = context.extensions.get::<axum::http::request::Parts>();
    let session = http.and_then(|parts| {
        parts
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
    });
    let peer = http.and_then(|parts| {
        parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|peer| peer.0)
    });
    let mark = mark();
    // Every attribute at once (a field recorded later costs a visit of its own). Under
    // the mark for the console log only: the trace layer does not see the mark, so to
    // it this span is a root (its parent is set from the request below).
    let span = tracing::info_span!(
        target: SPANS,
        parent: &mark,
        "mcp.request",
        otel.name = name,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        mcp.method.name = method,
        jsonrpc.request.id = %context.id,
        mcp.protocol.version = version.as_ref().map(|v| v.as_str()),
        mcp.session.id = session,
        gen_ai.operation.name = tool.map(|_| "execute_tool"),
        gen_ai.tool.name = tool,
        gen_ai.prompt.name = prompt,
        mcp.resource.uri = uri,
        network.transport = if stdio { "pipe" } else { "tcp" },
        network.protocol.name = http.map(|_| "http"),
        client.address = peer.map(|p| tracing::field::display(p.ip())),
        client.port = peer.map(|p| p.port()),
        error.type = tracing::field::Empty,
        rpc.response.status_code = tracing::field::Empty,
    );
    #[cfg(feature = "telemetry")]
    otel::adopt_parent(&span, &context.meta, http.map(|p| &p.headers));
    Some(CallSpan::new(span, mark))
}

/// A traced piece of work's span, and the console log's mark above it.
pub(crate) struct CallSpan {
    span: tracing::Span,
    mark: tracing::Span,
}

impl CallSpan {
    /// `span` (made under `mark`), its trace id written on the mark.
    fn new(span: tracing::Span, mark: tracing::Span) -> CallSpan {
        #[cfg(feature = "telemetry")]
        if let Some(id) = otel::trace_id(&span) {
            mark.record("id", tracing::field::display(id));
        }
        CallSpan { span, mark }
    }

    /// `work` inside the span (and the mark).
    fn run<F: Future>(
        &self,
        work: F,
    ) -> tracing::instrument::Instrumented<tracing::instrument::Instrumented<F>> {
        work.instrument(self.span.clone())
            .instrument(self.mark.clone())
    }
}

/// The console log's mark: a span whose only field is the trace id (`trace{id=…}:` on
/// every line logged under it). The trace layer leaves it out; `error` only so that
/// every console filter that shows anything shows it (its level says nothing).
fn mark() -> tracing::Span {
    tracing::error_span!(target: LOG_MARK, parent: None, "trace", id = tracing::field::Empty)
}

/// What a request is about, for its span.
#[derive(Clone, Copy)]
pub(crate) enum Target<'a> {
    Tool(&'a str),
    Prompt(&'a str),
    Uri(&'a str),
    None,
}

/// `call` inside `span` (when there is one), its outcome recorded on it: a JSON-RPC
/// error's code as `error.type` and `rpc.response.status_code`, a result that
/// `failed` says is one (a tool's `isError`) as `error.type = "tool_error"`.
///
/// Not an `async fn`, nor are the helpers below: an `async fn` keeps its argument and
/// the future it awaits in separate slots, which made every call's future (and the
/// stack of a debug build, which builds it there) several times its size.
pub(crate) fn traced<T, F>(
    span: Option<CallSpan>,
    call: F,
    failed: impl FnOnce(&T) -> bool,
) -> impl Future<Output = Result<T, ErrorData>>
where
    F: Future<Output = Result<T, ErrorData>>,
{
    let Some(traced) = span else {
        return Either::Left(call);
    };
    let run = traced.run(call);
    Either::Right(run.map(move |result| {
        let span = &traced.span;
        match &result {
            Ok(value) if failed(value) => {
                span.record("error.type", "tool_error");
                span.record("otel.status_code", "error");
            }
            Ok(_) => {}
            Err(e) => {
                let code = e.code.0.to_string();
                span.record("error.type", code.as_str());
                span.record("rpc.response.status_code", code.as_str());
                span.record("otel.status_code", "error");
                span.record("otel.status_description", &*e.message);
            }
        }
        drop(traced);
        result
    }))
}

/// `work` inside a child span of the current one (made by `span`, now) when requests
/// are traced; as it is otherwise.
pub(crate) fn within<F: Future>(
    span: impl FnOnce() -> tracing::Span,
    work: F,
) -> Either<tracing::instrument::Instrumented<F>, F> {
    if on() {
        Either::Left(work.instrument(span()))
    } else {
        Either::Right(work)
    }
}

/// `work` as a new trace (a job's run: no request started it), inside the span `span`
/// makes under the console log's mark it is given. As it is when nothing is traced.
pub(crate) fn root<F: Future>(
    span: impl FnOnce(&tracing::Span) -> tracing::Span,
    work: F,
) -> impl Future<Output = F::Output> {
    if !on() {
        return Either::Left(work);
    }
    let mark = mark();
    let span = span(&mark);
    Either::Right(CallSpan::new(span, mark).run(work))
}

/// The current span's trace context as `_meta` (`traceparent`, `tracestate`), for a
/// request mango sends its client (elicitation, sampling) or a result it returns;
/// `None` when nothing is traced or there is no current trace.
pub(crate) fn current_meta() -> Option<rmcp::model::MetaObject> {
    if !on() {
        return None;
    }
    #[cfg(feature = "telemetry")]
    {
        otel::current_meta()
    }
    #[cfg(not(feature = "telemetry"))]
    None
}
