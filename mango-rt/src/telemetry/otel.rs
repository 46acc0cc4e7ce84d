//! The OpenTelemetry side of `[telemetry]`: the tracer provider, the layer that turns
//! `tracing` spans into its spans, and the W3C trace context read from a request and
//! written into what mango sends.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::{LOG_MARK, Problem, without};
use crate::settings::{TelemetryMode, TelemetrySettings};

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

/// Installs the console log (`console`, filtered by `filter`) and the trace layer as
/// the process's subscriber; false when one was installed already.
pub(super) fn install<L>(
    provider: &Provider,
    console: L,
    filter: tracing_subscriber::EnvFilter,
) -> bool
where
    L: Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
{
    // What becomes a span: mango's, an app's own, not the libraries' under them (a
    // span per HTTP connection or per JSON-RPC frame would bury the calls), and not
    // the console's trace-id mark.
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
        LOG_MARK,
    ] {
        traced = without(traced, library);
    }
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.provider.tracer("mango"))
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_context_activation(false)
        .with_filter(traced);
    tracing_subscriber::registry()
        .with(console.with_filter(filter))
        .with(layer)
        .try_init()
        .is_ok()
}

/// Sets `span`'s parent from the request: its `_meta` first, then the HTTP headers,
/// the first valid one (a malformed `traceparent` is ignored). When both are valid
/// and name different spans, the header's is linked.
pub(super) fn adopt_parent(
    span: &tracing::Span,
    meta: &rmcp::model::RequestMetaObject,
    headers: Option<&axum::http::HeaderMap>,
) {
    let propagator = TraceContextPropagator::new();
    let from_meta = meta
        .get_traceparent()
        .map(|_| propagator.extract(&MetaCarrier(&meta.0.0)))
        .filter(|cx| cx.span().span_context().is_valid());
    let from_header = headers
        .filter(|h| h.contains_key("traceparent"))
        .map(|h| propagator.extract(&HeaderCarrier(h)))
        .filter(|cx| cx.span().span_context().is_valid());
    match (from_meta, from_header) {
        (Some(parent), header) => {
            if let Some(header) = header {
                let linked = header.span().span_context().clone();
                if linked != *parent.span().span_context() {
                    span.add_link(linked);
                }
            }
            let _ = span.set_parent(parent);
        }
        (None, Some(parent)) => {
            let _ = span.set_parent(parent);
        }
        (None, None) => {}
    }
}

/// `span`'s trace id (32 hex digits), if it has a valid one.
pub(super) fn trace_id(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
    let span_context = cx.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// The current span's context as `_meta` keys, if it has a valid one.
pub(super) fn current_meta() -> Option<rmcp::model::MetaObject> {
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut meta = rmcp::model::MetaObject::new();
    TraceContextPropagator::new().inject_context(&cx, &mut MetaInjector(&mut meta));
    Some(meta)
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
