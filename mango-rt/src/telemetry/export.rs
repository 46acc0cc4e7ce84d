//! OTLP/HTTP export: finished spans wait in a bounded queue for a thread of their own,
//! which sends them in batches (protobuf, `POST …/v1/traces`) once a second or every
//! 512 spans (at most `[telemetry] queue`: what waits stays within twice that). A request never waits on it: a full queue drops the span (counted), an
//! endpoint that is down, slow (`[telemetry] timeout`) or answers garbage loses that
//! batch (counted), and the count is logged at most once a minute.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
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

enum Message {
    Span(Box<SpanData>),
    /// Send what is queued, then answer.
    Flush(std::sync::mpsc::Sender<()>),
    /// Send what is queued, answer, and stop.
    Stop(std::sync::mpsc::Sender<()>),
}

/// The span processor: hands sampled spans to the exporting thread.
#[derive(Debug)]
pub(super) struct Exporter {
    queue: SyncSender<Message>,
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
        let (queue, spans) = std::sync::mpsc::sync_channel(settings.queue);
        let dropped = std::sync::Arc::new(AtomicU64::new(0));
        let sender = Sender {
            // A batch no larger than the queue: what waits stays within twice `queue`.
            batch: BATCH.min(settings.queue),
            url,
            client,
            runtime,
            resource: ResourceAttributesWithSchema::from(resource),
            dropped: dropped.clone(),
            lost: 0,
            problem: None,
            warned: None,
        };
        std::thread::Builder::new()
            .name("mango-otlp".into())
            .spawn(move || sender.run(spans))
            .map_err(|e| Problem::Start(e.to_string()))?;
        Ok(Exporter { queue, dropped })
    }

    /// Sends `message` (waiting while the queue is full) and waits for its answer.
    fn ask(
        &self,
        make: fn(std::sync::mpsc::Sender<()>) -> Message,
        timeout: Duration,
    ) -> OTelSdkResult {
        let (done, answer) = std::sync::mpsc::channel();
        self.queue
            .send(make(done))
            .map_err(|_| OTelSdkError::AlreadyShutdown)?;
        answer
            .recv_timeout(timeout)
            .map_err(|_| OTelSdkError::Timeout(timeout))
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
        match self.queue.try_send(Message::Span(Box::new(span))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            // Stopped: the process is ending.
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.ask(Message::Flush, Duration::from_secs(30))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.ask(Message::Stop, timeout)
    }
}

/// The exporting thread's state.
struct Sender {
    /// The most spans sent in one request.
    batch: usize,
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
    fn run(mut self, spans: Receiver<Message>) {
        let mut batch: Vec<SpanData> = Vec::with_capacity(self.batch);
        let mut due: Option<Instant> = None;
        loop {
            let message = match due {
                None => spans.recv().map_err(|_| RecvTimeoutError::Disconnected),
                Some(due) => spans.recv_timeout(due.saturating_duration_since(Instant::now())),
            };
            match message {
                Ok(Message::Span(span)) => {
                    batch.push(*span);
                    due.get_or_insert_with(|| Instant::now() + DELAY);
                    if batch.len() >= self.batch {
                        self.send(&mut batch);
                        due = None;
                    }
                }
                Ok(Message::Flush(done)) => {
                    self.send(&mut batch);
                    due = None;
                    let _ = done.send(());
                }
                Ok(Message::Stop(done)) => {
                    self.send(&mut batch);
                    self.warn(true);
                    let _ = done.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.send(&mut batch);
                    due = None;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.send(&mut batch);
                    self.warn(true);
                    return;
                }
            }
            self.warn(false);
        }
    }

    /// Sends `batch` (emptied), counting it lost if the endpoint does not take it.
    fn send(&mut self, batch: &mut Vec<SpanData>) {
        if batch.is_empty() {
            return;
        }
        let count = batch.len() as u64;
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(
                std::mem::take(batch),
                &self.resource,
            ),
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
