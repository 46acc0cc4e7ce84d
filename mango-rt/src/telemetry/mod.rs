//! OpenTelemetry traces (`[telemetry]`, mango-rt's `telemetry` feature).
//!
//! mango's own spans (an MCP request, its item's endpoint, the database checkout and
//! the transaction's end, a task, a job) are OpenTelemetry spans made directly with the
//! SDK's tracer ([`Spec`]: a name, a kind and the attributes, built at once), not
//! `tracing` spans turned into OpenTelemetry ones: a traced call costs a few
//! allocations, not a `tracing` span's registration, visits and layer callbacks each.
//! While a call's future runs, its span is the current OpenTelemetry context, so that
//! `tracing` stays the instrumentation API of an app: its own `tracing` spans join the
//! trace under mango's (tracing-opentelemetry takes the current context as the parent
//! of a span that has no `tracing` parent), its log lines inside a call are events of
//! the call's span, and the console log writes the trace id on every line logged
//! inside a call (`trace{id=…}`, after the time). With `mode = "off"` (the default)
//! nothing of it is installed and no request does any of it: [`on`] is one relaxed
//! load.
//!
//! The span of an MCP request is named and attributed by the OpenTelemetry semantic
//! conventions for MCP (`{mcp.method.name} {target}`, `mcp.method.name`,
//! `gen_ai.tool.name`, `jsonrpc.request.id`, `mcp.protocol.version`, `error.type` …).
//! Its parent is the request's `_meta` `traceparent` (SEP-414) if that is valid, else
//! the HTTP `traceparent` header if that is; a malformed one is ignored (a new trace).
//! When both are valid and differ, the header's becomes a link.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

use rmcp::RoleServer;
use rmcp::service::RequestContext;

use crate::settings::{Settings, TelemetryMode};

#[cfg(feature = "telemetry")]
mod export;
#[cfg(feature = "telemetry")]
mod otel;

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
        // The time, then the trace id of the call a line is logged in, if any.
        let console = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .with_timer(otel::TimeAndTrace);
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
#[cfg(feature = "telemetry")]
fn without(filter: tracing_subscriber::EnvFilter, target: &str) -> tracing_subscriber::EnvFilter {
    match format!("{target}=off").parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

/// What a request is about, for its span.
#[derive(Clone, Copy)]
pub(crate) enum Target<'a> {
    Tool(&'a str),
    Prompt(&'a str),
    Uri(&'a str),
    None,
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
    let name: Cow<'static, str> = match target {
        Target::Tool(name) | Target::Prompt(name) => format!("{method} {name}").into(),
        Target::Uri(_) | Target::None => method.into(),
    };
    let http = context.extensions.get::<axum::http::request::Parts>();
    // Every attribute at once, in one vector sized for them.
    let mut spec = Spec::with_capacity(name, Kind::Server, 12)
        .attr("mcp.method.name", method)
        .attr("jsonrpc.request.id", context.id.to_string())
        .attr("network.transport", if stdio { "pipe" } else { "tcp" });
    if let Some(version) = context.protocol_version() {
        spec = spec.attr("mcp.protocol.version", version.as_str().to_owned());
    }
    match target {
        Target::Tool(name) => {
            spec = spec
                .attr("gen_ai.operation.name", "execute_tool")
                .attr("gen_ai.tool.name", name.to_owned());
        }
        Target::Prompt(name) => spec = spec.attr("gen_ai.prompt.name", name.to_owned()),
        Target::Uri(uri) => spec = spec.attr("mcp.resource.uri", uri.to_owned()),
        Target::None => {}
    }
    if let Some(parts) = http {
        spec = spec.attr("network.protocol.name", "http");
        if let Some(session) = parts
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
        {
            spec = spec.attr("mcp.session.id", session.to_owned());
        }
        if let Some(peer) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        {
            spec = spec
                .attr("client.address", peer.0.ip().to_string())
                .attr("client.port", i64::from(peer.0.port()));
        }
    }
    #[cfg(feature = "telemetry")]
    {
        otel::request(spec, &context.meta, http.map(|p| &p.headers))
    }
    #[cfg(not(feature = "telemetry"))]
    {
        let _ = spec;
        None
    }
}

/// The kind of a span (OpenTelemetry's `SpanKind`).
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Internal,
    Server,
    Client,
    Consumer,
}

/// An attribute's value.
#[cfg_attr(not(feature = "telemetry"), allow(dead_code))]
pub(crate) enum Value {
    Str(Cow<'static, str>),
    Int(i64),
    Bool(bool),
}

impl From<&'static str> for Value {
    fn from(value: &'static str) -> Value {
        Value::Str(Cow::Borrowed(value))
    }
}

impl From<String> for Value {
    fn from(value: String) -> Value {
        Value::Str(Cow::Owned(value))
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Value {
        Value::Int(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Bool(value)
    }
}

/// A span to start: its name, kind and attributes. Made only when requests are traced
/// (the functions below take a closure that makes it).
pub(crate) struct Spec {
    #[cfg(feature = "telemetry")]
    builder: opentelemetry::trace::SpanBuilder,
}

impl Spec {
    /// A span `name` of `kind`, with room for a few attributes.
    pub(crate) fn new(name: impl Into<Cow<'static, str>>, kind: Kind) -> Spec {
        Spec::with_capacity(name, kind, 6)
    }

    fn with_capacity(name: impl Into<Cow<'static, str>>, kind: Kind, attributes: usize) -> Spec {
        #[cfg(feature = "telemetry")]
        {
            Spec {
                builder: otel::builder(name.into(), kind, attributes),
            }
        }
        #[cfg(not(feature = "telemetry"))]
        {
            let _ = (name, kind, attributes);
            Spec {}
        }
    }

    /// The attribute `key` (a semantic convention's name) set to `value`.
    pub(crate) fn attr(
        #[cfg_attr(not(feature = "telemetry"), allow(unused_mut))] mut self,
        key: &'static str,
        value: impl Into<Value>,
    ) -> Spec {
        #[cfg(feature = "telemetry")]
        otel::attr(&mut self.builder, key, value.into());
        #[cfg(not(feature = "telemetry"))]
        let _ = (key, value);
        self
    }
}

#[cfg(feature = "telemetry")]
pub(crate) use otel::{CallSpan, current_meta, root, traced, within};

#[cfg(not(feature = "telemetry"))]
pub(crate) use off::{CallSpan, current_meta, root, traced, within};

/// Without the `telemetry` feature nothing is traced ([`on`] is false): each function
/// gives back the work it is given.
#[cfg(not(feature = "telemetry"))]
mod off {
    use std::future::Future;

    use rmcp::model::ErrorData;

    use super::Spec;

    /// Never made: requests are not traced in this build.
    pub(crate) enum CallSpan {}

    pub(crate) fn traced<T, F>(
        span: Option<CallSpan>,
        call: F,
        _failed: impl FnOnce(&T) -> bool,
    ) -> F
    where
        F: Future<Output = Result<T, ErrorData>>,
    {
        if let Some(span) = span {
            match span {}
        }
        call
    }

    pub(crate) fn within<F: Future>(_span: impl FnOnce() -> Spec, work: F) -> F {
        work
    }

    pub(crate) fn root<F: Future>(_span: impl FnOnce() -> Spec, work: F) -> F {
        work
    }

    pub(crate) fn current_meta() -> Option<rmcp::model::MetaObject> {
        None
    }
}
