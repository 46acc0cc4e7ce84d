//! The OpenTelemetry side of `[telemetry]`: the tracer provider, mango's spans made with
//! its tracer, the layers that turn an app's `tracing` spans and a call's log lines into
//! spans and events, and the W3C trace context read from a request and written into
//! what mango sends.

use std::borrow::Cow;
use std::future::Future;
use std::sync::OnceLock;

use futures_util::FutureExt as _;
use futures_util::future::Either;
use opentelemetry::context::FutureExt as _;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{
    Link, SpanBuilder, SpanKind, SpanRef, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use rmcp::model::ErrorData;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

use super::{Kind, Problem, Spec, Value, on, without};
use crate::settings::{TelemetryMode, TelemetrySettings};

/// The tracer of mango's spans (and of tracing-opentelemetry's): set once, by
/// [`install`].
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// The tracer provider; dropped, it sends what is queued and stops the exporter.
pub(super) struct Provider {
    provider: SdkTracerProvider,
    timeout: std::time::Duration,
}

impl Provider {
    pub(super) fn new(settings: &TelemetrySettings, project: &str) -> Result<Provider, Problem> {
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(
                settings
                    .service_name
                    .clone()
                    .unwrap_or_else(|| project.to_owned()),
            )
            .build();
        let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            settings.sampling_ratio,
        )));
        let mut builder = SdkTracerProvider::builder()
            .with_sampler(sampler)
            .with_resource(resource.clone());
        if settings.mode == TelemetryMode::Export {
            builder =
                builder.with_span_processor(super::export::Exporter::start(settings, &resource)?);
        }
        Ok(Provider {
            provider: builder.build(),
            // The export under way, then the last one.
            timeout: std::time::Duration::from_secs_f64(settings.timeout * 2.0 + 1.0),
        })
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.provider.shutdown_with_timeout(self.timeout);
    }
}

/// Installs the console log (`console`, filtered by `filter`), the trace layer and the
/// events layer as the process's subscriber; false when one was installed already.
pub(super) fn install<L>(
    provider: &Provider,
    console: L,
    filter: tracing_subscriber::EnvFilter,
) -> bool
where
    L: Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
{
    let tracer = provider.provider.tracer("mango");
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer.clone())
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_context_activation(false)
        .with_filter(traced_filter());
    let installed = tracing_subscriber::registry()
        .with(console.with_filter(filter))
        .with(layer)
        .with(Events.with_filter(traced_filter()))
        .try_init()
        .is_ok();
    if installed {
        let _ = TRACER.set(tracer);
    }
    installed
}

/// What becomes a span or an event: an app's own, not the libraries' under them (a span
/// per HTTP connection or per JSON-RPC frame would bury the calls).
fn traced_filter() -> tracing_subscriber::EnvFilter {
    let mut traced = tracing_subscriber::EnvFilter::new("info");
    for library in [
        "rmcp",
        "hyper",
        "hyper_util",
        "h2",
        "tower",
        "axum",
        "reqwest",
        "rustls",
        "tokio_postgres",
        "diesel",
        "diesel_async",
        "opentelemetry",
        "opentelemetry_sdk",
    ] {
        traced = without(traced, library);
    }
    traced
}

/// A span's builder, for [`Spec`].
pub(super) fn builder(name: Cow<'static, str>, kind: Kind, attributes: usize) -> SpanBuilder {
    SpanBuilder::from_name(name)
        .with_kind(match kind {
            Kind::Internal => SpanKind::Internal,
            Kind::Server => SpanKind::Server,
            Kind::Client => SpanKind::Client,
            Kind::Consumer => SpanKind::Consumer,
        })
        .with_attributes(Vec::with_capacity(attributes))
}

/// Adds an attribute to a [`Spec`]'s builder.
pub(super) fn attr(builder: &mut SpanBuilder, key: &'static str, value: Value) {
    let value = match value {
        Value::Str(Cow::Borrowed(s)) => opentelemetry::Value::from(s),
        Value::Str(Cow::Owned(s)) => opentelemetry::Value::from(s),
        Value::Int(i) => opentelemetry::Value::I64(i),
        Value::Bool(b) => opentelemetry::Value::Bool(b),
    };
    builder
        .attributes
        .get_or_insert_with(Vec::new)
        .push(KeyValue::new(key, value));
}

/// A traced request's span, current while its future runs (so that what runs inside
/// it, an app's spans among them, is its child).
pub(crate) struct CallSpan {
    cx: Context,
}

/// `spec` started as the span of a request, its parent (or link) read from the
/// request's `_meta` and HTTP headers ([`parents`]).
pub(super) fn request(
    spec: Spec,
    meta: &rmcp::model::RequestMetaObject,
    headers: Option<&axum::http::HeaderMap>,
) -> Option<CallSpan> {
    let tracer = TRACER.get()?;
    let (parent, link) = parents(meta, headers);
    let mut builder = spec.builder;
    if let Some(link) = link {
        builder.links = Some(vec![Link::with_context(link)]);
    }
    let span = tracer.build_with_context(builder, &parent);
    Some(CallSpan {
        cx: parent.with_span(span),
    })
}

/// `call` inside `span` (when there is one), its outcome recorded on it: a JSON-RPC
/// error's code as `error.type` and `rpc.response.status_code`, a result that
/// `failed` says is one (a tool's `isError`) as `error.type = "tool_error"`. The span
/// ends with the call.
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
    let Some(CallSpan { cx }) = span else {
        return Either::Left(call);
    };
    Either::Right(ended(cx, call, move |span, result| match result {
        Ok(value) if failed(value) => {
            span.set_attribute(KeyValue::new("error.type", "tool_error"));
            span.set_status(Status::error(""));
        }
        Ok(_) => {}
        Err(e) => {
            let code = e.code.0.to_string();
            span.set_attributes([
                KeyValue::new("error.type", code.clone()),
                KeyValue::new("rpc.response.status_code", code),
            ]);
            span.set_status(Status::error(e.message.clone()));
        }
    }))
}

/// `work` inside a child span of the current one (made by `span`, now) when requests
/// are traced; as it is otherwise. The span ends with the work.
pub(crate) fn within<F: Future>(
    span: impl FnOnce() -> Spec,
    work: F,
) -> impl Future<Output = F::Output> {
    started(span, Context::current, work)
}

/// `work` as a new trace (a job's run: no request started it), inside the span `span`
/// makes. As it is when nothing is traced.
pub(crate) fn root<F: Future>(
    span: impl FnOnce() -> Spec,
    work: F,
) -> impl Future<Output = F::Output> {
    started(span, Context::new, work)
}

/// `work` inside the span `span` makes under the context `parent` gives, when requests
/// are traced.
fn started<F: Future>(
    span: impl FnOnce() -> Spec,
    parent: impl FnOnce() -> Context,
    work: F,
) -> impl Future<Output = F::Output> {
    match TRACER.get().filter(|_| on()) {
        Some(tracer) => {
            let parent = parent();
            let span = tracer.build_with_context(span().builder, &parent);
            Either::Left(ended(parent.with_span(span), work, |_, _| {}))
        }
        None => Either::Right(work),
    }
}

/// `work` with `cx` current while it runs; `cx`'s span ends when it does, after
/// `outcome` has recorded on it what the work gave.
fn ended<F: Future>(
    cx: Context,
    work: F,
    outcome: impl FnOnce(&SpanRef<'_>, &F::Output),
) -> impl Future<Output = F::Output> {
    work.with_context(cx.clone()).map(move |output| {
        let span = cx.span();
        outcome(&span, &output);
        span.end();
        output
    })
}

/// The current span's trace context as `_meta` (`traceparent`, `tracestate`), for a
/// request mango sends its client (elicitation, sampling) or a result it returns;
/// `None` when nothing is traced or there is no current trace.
pub(crate) fn current_meta() -> Option<rmcp::model::MetaObject> {
    if !on() {
        return None;
    }
    Context::map_current(|cx| {
        if !cx.span().span_context().is_valid() {
            return None;
        }
        let mut meta = rmcp::model::MetaObject::new();
        TraceContextPropagator::new().inject_context(cx, &mut MetaInjector(&mut meta));
        Some(meta)
    })
}

/// The console log's time, then the trace id of the call the line is logged in
/// (`trace{id=…}`), if it is logged inside one.
pub(super) struct TimeAndTrace;

impl tracing_subscriber::fmt::time::FormatTime for TimeAndTrace {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        tracing_subscriber::fmt::time::SystemTime.format_time(w)?;
        Context::map_current(|cx| {
            let span = cx.span();
            let context = span.span_context();
            if context.is_valid() {
                write!(w, " trace{{id={}}}", context.trace_id())
            } else {
                Ok(())
            }
        })
    }
}

/// A call's log lines as events of its span, when they are not inside an app's own
/// span (tracing-opentelemetry puts those on the app's span): named by their message,
/// with their level, target and other fields as attributes.
struct Events;

impl<S> Layer<S> for Events
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if ctx.event_span(event).is_some() {
            return;
        }
        Context::map_current(|cx| {
            if !cx.has_active_span() {
                return;
            }
            let meta = event.metadata();
            let mut fields = EventFields {
                name: None,
                attributes: vec![
                    KeyValue::new("level", meta.level().as_str()),
                    KeyValue::new("target", meta.target()),
                ],
            };
            event.record(&mut fields);
            let name = fields.name.map_or(Cow::Borrowed(meta.name()), Cow::Owned);
            cx.span().add_event(name, fields.attributes);
        });
    }
}

/// An event's fields: its message, and the others as attributes.
struct EventFields {
    name: Option<String>,
    attributes: Vec<KeyValue>,
}

impl tracing::field::Visit for EventFields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.name = Some(value.to_owned());
        } else {
            self.attributes
                .push(KeyValue::new(field.name(), value.to_owned()));
        }
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.name = Some(format!("{value:?}"));
        } else {
            self.attributes
                .push(KeyValue::new(field.name(), format!("{value:?}")));
        }
    }
}

/// A request's parent context and the span context to link: its `_meta` first, then
/// the HTTP headers, the first valid one (a malformed `traceparent` is ignored: a new
/// trace). When both are valid and name different spans, the header's is linked.
fn parents(
    meta: &rmcp::model::RequestMetaObject,
    headers: Option<&axum::http::HeaderMap>,
) -> (Context, Option<opentelemetry::trace::SpanContext>) {
    let propagator = TraceContextPropagator::new();
    let from_meta = meta
        .get_traceparent()
        .map(|_| propagator.extract_with_context(&Context::new(), &MetaCarrier(&meta.0.0)))
        .filter(|cx| cx.span().span_context().is_valid());
    let from_header = headers
        .filter(|h| h.contains_key("traceparent"))
        .map(|h| propagator.extract_with_context(&Context::new(), &HeaderCarrier(h)))
        .filter(|cx| cx.span().span_context().is_valid());
    match (from_meta, from_header) {
        (Some(parent), header) => {
            let link = header
                .map(|header| header.span().span_context().clone())
                .filter(|linked| linked != parent.span().span_context());
            (parent, link)
        }
        (None, Some(parent)) => (parent, None),
        (None, None) => (Context::new(), None),
    }
}

/// A request's `_meta`, read as a carrier of `traceparent` and `tracestate`.
struct MetaCarrier<'a>(&'a serde_json::Map<String, serde_json::Value>);

impl Extractor for MetaCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(serde_json::Value::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// HTTP headers, read as a carrier.
struct HeaderCarrier<'a>(&'a axum::http::HeaderMap);

impl Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

/// `_meta` written as a carrier.
struct MetaInjector<'a>(&'a mut rmcp::model::MetaObject);

impl Injector for MetaInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        match key {
            "traceparent" => self.0.set_traceparent(value),
            "tracestate" if !value.is_empty() => self.0.set_tracestate(value),
            _ => {}
        }
    }
}
