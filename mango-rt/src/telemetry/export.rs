//! OTLP/HTTP export: finished spans wait in a bounded queue for a thread of their own,
//! which sends them in batches (protobuf, `POST …/v1/traces`) once a second or every
//! 512 spans (at most `[telemetry] queue`: what waits stays within twice that). A request never waits on it: a full queue drops the span (counted), an
//! endpoint that is down, slow (`[telemetry] timeout`) or answers garbage loses that
//! batch (counted), and the count is logged at most once a minute.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};
use prost::Message as _;

use super::Problem;
use crate::settings::TelemetrySettings;

/// The most spans sent in one request (fewer with a smaller `[telemetry] queue`).
const BATCH: usize = 512;
/// How long a finished span waits for more before its batch is sent.
const DELAY: Duration = Duration::from_secs(1);
/// The least time between two warnings about lost spans.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// Finished spans waiting for the exporting thread, and what it is asked to do. A span
/// does not wake the thread (it sleeps up to a second between batches): only a full
/// batch, a flush or the end does.
#[derive(Debug, Default)]
struct Queue {
    spans: Vec<SpanData>,
    /// Flushes asked for: answered once what was queued before them is sent.
    flushes: Vec<std::sync::mpsc::Sender<()>>,
    stop: Option<std::sync::mpsc::Sender<()>>,
}

/// The queue and the thread's bell.
#[derive(Debug, Default)]
struct Shared {
    queue: std::sync::Mutex<Queue>,
    bell: std::sync::Condvar,
}

/// The span processor: hands sampled spans to the exporting thread.
#[derive(Debug)]
pub(super) struct Exporter {
    shared: std::sync::Arc<Shared>,
    /// The most spans waiting (`[telemetry] queue`).
    limit: usize,
    /// A batch's size: the thread is woken when this many wait.
    batch: usize,
    /// Spans dropped because the queue was full, since the last warning.
    dropped: std::sync::Arc<AtomicU64>,
}

impl Exporter {
    /// Checks the settings and starts the exporting thread.
    pub(super) fn start(
        settings: &TelemetrySettings,
        resource: &opentelemetry_sdk::Resource,
    ) -> Result<Exporter, Problem> {
        let url = endpoint(settings)?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (header, variable) in &settings.headers {
            let value = std::env::var(variable).map_err(|_| Problem::MissingHeader {
                header: header.clone(),
                variable: variable.clone(),
            })?;
            let bad = || Problem::BadHeader {
                header: header.clone(),
            };
            let name =
                reqwest::header::HeaderName::from_bytes(header.as_bytes()).map_err(|_| bad())?;
            let mut value = reqwest::header::HeaderValue::from_str(&value).map_err(|_| bad())?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/x-protobuf"),
        );
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(Duration::from_secs_f64(settings.timeout))
            .build()
            .map_err(|e| Problem::Start(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Problem::Start(e.to_string()))?;
        let shared = std::sync::Arc::new(Shared::default());
        let dropped = std::sync::Arc::new(AtomicU64::new(0));
        let sender = Sender {
            url,
            client,
            runtime,
            resource: ResourceAttributesWithSchema::from(resource),
            dropped: dropped.clone(),
            lost: 0,
            problem: None,
            warned: None,
        };
        let batch = BATCH.min(settings.queue);
        let queue = shared.clone();
        std::thread::Builder::new()
            .name("mango-otlp".into())
            .spawn(move || sender.run(&queue, batch))
            .map_err(|e| Problem::Start(e.to_string()))?;
        Ok(Exporter {
            shared,
            limit: settings.queue,
            batch,
            dropped,
        })
    }

    /// Asks the thread to send what is queued (and, with `stop`, to end), and waits
    /// for it.
    fn ask(&self, stop: bool, timeout: Duration) -> OTelSdkResult {
        let (done, answer) = std::sync::mpsc::channel();
        {
            let mut queue = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            if stop {
                queue.stop = Some(done);
            } else {
                queue.flushes.push(done);
            }
        }
        self.shared.bell.notify_one();
        answer.recv_timeout(timeout).map_err(|e| match e {
            RecvTimeoutError::Timeout => OTelSdkError::Timeout(timeout),
            RecvTimeoutError::Disconnected => OTelSdkError::AlreadyShutdown,
        })
    }
}

/// The traces URL: `[telemetry] endpoint`, else the standard environment variables,
/// else a collector on this machine; a base URL gets `/v1/traces`.
fn endpoint(settings: &TelemetrySettings) -> Result<String, Problem> {
    let (url, whole) = match &settings.endpoint {
        Some(url) => (url.clone(), false),
        None => match std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Ok(url) => (url, true),
            Err(_) => (
                std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
                    .unwrap_or_else(|_| "http://127.0.0.1:4318".into()),
                false,
            ),
        },
    };
    if !(url.starts_with("http://") || url.starts_with("https://"))
        || reqwest::Url::parse(&url).is_err()
    {
        return Err(Problem::Endpoint { endpoint: url });
    }
    if whole || url.trim_end_matches('/').ends_with("/v1/traces") {
        Ok(url)
    } else {
        Ok(format!("{}/v1/traces", url.trim_end_matches('/')))
    }
}

impl SpanProcessor for Exporter {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let waiting = {
            let mut queue = self.shared.queue.lock().unwrap_or_else(|p| p.into_inner());
            if queue.spans.len() >= self.limit {
                drop(queue);
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            queue.spans.push(span);
            queue.spans.len()
        };
        // A full batch: the thread need not wait for its second.
        if waiting == self.batch {
            self.shared.bell.notify_one();
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.ask(false, Duration::from_secs(30))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.ask(true, timeout)
    }
}

/// The exporting thread's state.
struct Sender {
    url: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    resource: ResourceAttributesWithSchema,
    dropped: std::sync::Arc<AtomicU64>,
    /// Spans whose export failed, since the last warning.
    lost: u64,
    /// The last failure, for the warning.
    problem: Option<String>,
    /// When the last warning was logged.
    warned: Option<Instant>,
}

impl Sender {
    fn run(mut self, shared: &Shared, batch: usize) {
        loop {
            let (spans, flushes, stop) = {
                let mut queue = shared.queue.lock().unwrap_or_else(|p| p.into_inner());
                // Sleep until a second has passed, a batch is full, or someone asks.
                let deadline = Instant::now() + DELAY;
                while queue.spans.len() < batch && queue.flushes.is_empty() && queue.stop.is_none()
                {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    queue = shared
                        .bell
                        .wait_timeout(queue, left)
                        .map(|(queue, _)| queue)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
                (
                    std::mem::take(&mut queue.spans),
                    std::mem::take(&mut queue.flushes),
                    queue.stop.take(),
                )
            };
            let mut spans = spans;
            while !spans.is_empty() {
                let rest = spans.split_off(batch.clamp(1, spans.len()));
                self.send(spans);
                spans = rest;
            }
            for done in flushes {
                let _ = done.send(());
            }
            if let Some(done) = stop {
                self.warn(true);
                let _ = done.send(());
                return;
            }
            self.warn(false);
        }
    }

    /// Sends `batch`, counting it lost if the endpoint does not take it.
    fn send(&mut self, batch: Vec<SpanData>) {
        if batch.is_empty() {
            return;
        }
        let count = batch.len() as u64;
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        let body = request.encode_to_vec();
        let outcome = self.runtime.block_on(async {
            // Made inside the runtime: reqwest's timeout is a Tokio timer.
            let response = self
                .client
                .post(&self.url)
                .body(body)
                .send()
                .await
                .map_err(|e| describe(&e))?;
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                let text = response.text().await.unwrap_or_default();
                Err(format!(
                    "it answered {status}{}",
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", crate::util::clip(&text, 200))
                    }
                ))
            }
        });
        if let Err(problem) = outcome {
            self.lost += count;
            self.problem = Some(problem);
        }
    }

    /// Logs what was lost since the last warning, if anything was and a minute has
    /// passed (or the exporter is stopping).
    fn warn(&mut self, last: bool) {
        let dropped = self.dropped.load(Ordering::Relaxed);
        if self.lost == 0 && dropped == 0 {
            return;
        }
        if !last && self.warned.is_some_and(|at| at.elapsed() < WARN_EVERY) {
            return;
        }
        self.dropped.fetch_sub(dropped, Ordering::Relaxed);
        let mut what = Vec::new();
        if self.lost > 0 {
            what.push(format!(
                "{} spans not taken by {} ({})",
                self.lost,
                self.url,
                self.problem.take().unwrap_or_default()
            ));
        }
        if dropped > 0 {
            what.push(format!(
                "{dropped} spans dropped because [telemetry] queue was full"
            ));
        }
        tracing::warn!(
            "telemetry: {}; calls are not affected; the next report in a minute at the earliest",
            what.join(", ")
        );
        self.lost = 0;
        self.warned = Some(Instant::now());
    }
}

/// reqwest's error with its causes (a refused connection says so only in its source).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "no answer within [telemetry] timeout".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
