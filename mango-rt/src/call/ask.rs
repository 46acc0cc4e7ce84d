//! Asking the client mid-call: elicitation (a form, or a URL to visit) and sampling (a
//! model's reply). [`Context::elicit`](super::Context::elicit) and
//! [`Context::sample`](super::Context::sample) build the request; an [`Asker`] gets the
//! client's answer the way the call's protocol era does it: a server-to-client request
//! (2025-11-25 sessions), a round of the multi-round-trip pattern (2026-07-28), or a
//! test's script.

#![allow(deprecated)] // sampling is deprecated from 2026-07-28 on (SEP-2577); clients still use it

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    ClientCapabilities, ClientResult, ContentBlock, CreateMessageRequest,
    CreateMessageRequestParams, ElicitRequestParams, InputRequest, ModelHint, ModelPreferences,
    Role, SamplingMessage, SamplingMessageContentBlock, ServerRequest,
};
use rmcp::service::PeerRequestOptions;
use rmcp::{Peer, RoleServer};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::form::Form;
use super::{BoxFuture, Content};

/// The client's answer to [`Context::elicit`](super::Context::elicit): the user filled
/// the form in (`Accept`), said no (`Decline`), or dismissed it (`Cancel`).
#[derive(Debug, Clone, PartialEq)]
pub enum Answer<T> {
    Accept(T),
    Decline,
    Cancel,
}

impl<T> Answer<T> {
    /// The values, when the user accepted.
    pub fn accepted(self) -> Option<T> {
        match self {
            Answer::Accept(value) => Some(value),
            Answer::Decline | Answer::Cancel => None,
        }
    }

    /// `accept`, `decline` or `cancel`, as MCP names the actions.
    pub fn action(&self) -> &'static str {
        match self {
            Answer::Accept(_) => "accept",
            Answer::Decline => "decline",
            Answer::Cancel => "cancel",
        }
    }
}

/// Why the client could not be asked, or gave no usable answer. A tool may handle it
/// (ask differently, go on without), or return it with `?`: it becomes the tool's error
/// result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AskError {
    /// The client did not declare the capability (`elicitation`, its `url` mode, or
    /// `sampling`), or the call has no client to ask (a management command).
    #[error("{0}")]
    Unsupported(String),
    /// The client did not answer within `[input] timeout` seconds.
    #[error("the client did not answer within {0:?} (the `[input] timeout` setting)")]
    Timeout(Duration),
    /// The answer does not match what was asked (a form's field of the wrong type, a
    /// missing required field, a value outside the choices …).
    #[error("the client's answer does not match the form: {0}")]
    Invalid(String),
    /// The client answered with an error, or went away.
    #[error("the client could not answer: {0}")]
    Client(String),
    /// A re-run (2026-07-28's rounds) asked a different question than the one answered.
    #[error("{0}")]
    Changed(String),
}

/// A request for a model's reply ([`Context::sample`](super::Context::sample)): the
/// conversation so far, and how to answer.
///
/// ```
/// # use mango_rt::{Context, Sampling};
/// # async fn f(ctx: &Context, text: &str) -> mango_rt::Result<String> {
/// let reply = ctx
///     .sample(Sampling::new(format!("Summarise in one line: {text}")).max_tokens(60))
///     .await?;
/// # Ok(reply.text())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Sampling {
    messages: Vec<SamplingMessage>,
    system: Option<String>,
    max_tokens: u32,
    temperature: Option<f32>,
    stop: Vec<String>,
    hints: Vec<String>,
    priorities: Option<(Option<f32>, Option<f32>, Option<f32>)>,
}

impl Sampling {
    /// A conversation of one user message. At most 1,000 tokens unless
    /// [`max_tokens`](Self::max_tokens) says otherwise.
    pub fn new(prompt: impl Into<String>) -> Sampling {
        Sampling {
            messages: vec![SamplingMessage::user_text(prompt.into())],
            system: None,
            max_tokens: 1000,
            temperature: None,
            stop: Vec::new(),
            hints: Vec::new(),
            priorities: None,
        }
    }

    /// One more user message.
    pub fn user(mut self, text: impl Into<String>) -> Sampling {
        self.messages.push(SamplingMessage::user_text(text.into()));
        self
    }

    /// One more assistant message (an earlier reply, or the start of this one).
    pub fn assistant(mut self, text: impl Into<String>) -> Sampling {
        self.messages
            .push(SamplingMessage::assistant_text(text.into()));
        self
    }

    /// The system prompt.
    pub fn system(mut self, prompt: impl Into<String>) -> Sampling {
        self.system = Some(prompt.into());
        self
    }

    pub fn max_tokens(mut self, tokens: u32) -> Sampling {
        self.max_tokens = tokens;
        self
    }

    pub fn temperature(mut self, temperature: f32) -> Sampling {
        self.temperature = Some(temperature);
        self
    }

    /// A sequence that ends the reply.
    pub fn stop_at(mut self, sequence: impl Into<String>) -> Sampling {
        self.stop.push(sequence.into());
        self
    }

    /// A model the client should prefer (a name or a family: `claude-3-5-sonnet`,
    /// `claude`); the first hint matters most.
    pub fn model_hint(mut self, name: impl Into<String>) -> Sampling {
        self.hints.push(name.into());
        self
    }

    /// How much cost, speed and intelligence matter, each from 0 to 1.
    pub fn priorities(
        mut self,
        cost: Option<f32>,
        speed: Option<f32>,
        intelligence: Option<f32>,
    ) -> Sampling {
        self.priorities = Some((cost, speed, intelligence));
        self
    }

    pub(crate) fn into_request(self) -> InputRequest {
        let mut params = CreateMessageRequestParams::new(self.messages, self.max_tokens);
        params.system_prompt = self.system;
        params.temperature = self.temperature;
        if !self.stop.is_empty() {
            params.stop_sequences = Some(self.stop);
        }
        if !self.hints.is_empty() || self.priorities.is_some() {
            let mut preferences = ModelPreferences::default();
            if !self.hints.is_empty() {
                preferences.hints = Some(
                    self.hints
                        .into_iter()
                        .map(|name| {
                            let mut hint = ModelHint::default();
                            hint.name = Some(name);
                            hint
                        })
                        .collect(),
                );
            }
            if let Some((cost, speed, intelligence)) = self.priorities {
                preferences.cost_priority = cost;
                preferences.speed_priority = speed;
                preferences.intelligence_priority = intelligence;
            }
            params.model_preferences = Some(preferences);
        }
        InputRequest::CreateMessage(CreateMessageRequest::new(params))
    }
}

impl From<&str> for Sampling {
    fn from(prompt: &str) -> Sampling {
        Sampling::new(prompt)
    }
}

impl From<String> for Sampling {
    fn from(prompt: String) -> Sampling {
        Sampling::new(prompt)
    }
}

/// A model's reply to [`Context::sample`](super::Context::sample).
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    /// The reply's blocks (text, image or audio).
    pub content: Vec<Content>,
    /// The model that answered, as the client names it.
    pub model: String,
    /// Why the reply ended (`endTurn`, `maxTokens`, `stopSequence` …), when the client
    /// says.
    pub stop_reason: Option<String>,
}

impl Sampled {
    /// The reply's text blocks, joined.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|c| c.clone().into_rmcp().as_text().map(|t| t.text.clone()))
            .collect()
    }

    pub(crate) fn from_value(value: Value) -> Result<Sampled, AskError> {
        let result: rmcp::model::CreateMessageResult = serde_json::from_value(value)
            .map_err(|e| AskError::Invalid(format!("not a sampling result: {e}")))?;
        let mut content = Vec::new();
        for block in result.message.content.iter() {
            let block = match block {
                SamplingMessageContentBlock::Text(t) => ContentBlock::text(t.text.clone()),
                SamplingMessageContentBlock::Image(i) => {
                    ContentBlock::image(i.data.clone(), i.mime_type.clone())
                }
                SamplingMessageContentBlock::Audio(a) => {
                    ContentBlock::audio(a.data.clone(), a.mime_type.clone())
                }
                _ => continue,
            };
            content.push(Content::from(block));
        }
        if result.message.role != Role::Assistant {
            tracing::debug!("a sampling reply came with the user's role");
        }
        Ok(Sampled {
            content,
            model: result.model,
            stop_reason: result.stop_reason,
        })
    }
}

/// What an elicitation's answer says: the action, and the values when accepted.
pub(crate) fn elicit_result(value: Value) -> Result<(String, Option<Value>), AskError> {
    let result: rmcp::model::ElicitResult = serde_json::from_value(value)
        .map_err(|e| AskError::Invalid(format!("not an elicitation result: {e}")))?;
    let action = serde_json::to_value(&result.action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok((action, result.content))
}

/// What kind of question a request is, for capability checks and messages.
pub(crate) fn describe(request: &InputRequest) -> (&'static str, String) {
    match request {
        InputRequest::Elicitation(e) => match &e.params {
            ElicitRequestParams::UrlElicitationParams { message, .. } => {
                ("url elicitation", message.clone())
            }
            ElicitRequestParams::FormElicitationParams { message, .. } => {
                ("elicitation", message.clone())
            }
            _ => ("elicitation", String::new()),
        },
        InputRequest::CreateMessage(m) => (
            "sampling",
            m.params
                .messages
                .last()
                .and_then(|m| m.content.iter().next().and_then(|c| c.as_text()))
                .map(|t| t.text.clone())
                .unwrap_or_default(),
        ),
        _ => ("roots", String::new()),
    }
}

/// Whether `caps` let the client answer `request`; the error says what is missing.
pub(crate) fn check_capability(
    caps: &ClientCapabilities,
    request: &InputRequest,
) -> Result<(), AskError> {
    let (kind, _) = describe(request);
    let ok = match kind {
        "sampling" => caps.sampling.is_some(),
        "elicitation" => caps
            .elicitation
            .as_ref()
            .is_some_and(|e| e.form.is_some() || e.url.is_none()),
        "url elicitation" => caps.elicitation.as_ref().is_some_and(|e| e.url.is_some()),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        let capability = match kind {
            "sampling" => "`sampling`",
            "url elicitation" => "`elicitation.url`",
            _ => "`elicitation`",
        };
        let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        Err(AskError::Unsupported(format!(
            "the client cannot answer {article} {kind} request: it did not declare the {capability} capability"
        )))
    }
}

/// A test's stand-in for a client: answers each question (as the client's JSON result).
/// (Only `testing` makes one; it is compiled always, so that a build without the
/// feature is linted as the one with it.)
pub(crate) type Script =
    Arc<dyn Fn(InputRequest) -> BoxFuture<Result<Value, AskError>> + Send + Sync + 'static>;

/// The questions of a call run as a task (`runtime::tasks`): each is put in the task
/// (`input_required`, shown by `tasks/get`) and answered by the client's `tasks/update`.
pub(crate) trait TaskAsk: Send + Sync {
    /// The capabilities the client declared on the call.
    fn caps(&self) -> &ClientCapabilities;
    /// The client's result for `request`.
    fn ask(self: Arc<Self>, request: InputRequest) -> BoxFuture<Result<Value, AskError>>;
}

/// How a call asks its client.
#[derive(Clone, Default)]
pub(crate) enum Asker {
    /// No client can answer (a management command, an in-process call).
    #[default]
    Nobody,
    /// This kind of call cannot ask, for this reason.
    Unsupported(&'static str),
    /// 2025-11-25: a server-to-client request over the session (the client's
    /// capabilities are those of its `initialize`).
    Peer {
        peer: Peer<RoleServer>,
        timeout: Duration,
    },
    /// 2026-07-28: a round of the multi-round-trip pattern.
    Rounds(Arc<Rounds>),
    /// A call run as a task: its questions wait in the task for `tasks/update`.
    Task(Arc<dyn TaskAsk>),
    /// A test's script.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    Script {
        caps: Box<ClientCapabilities>,
        script: Script,
    },
}

impl Asker {
    /// The client's result for `request` (its JSON), however this call gets it.
    pub async fn ask(&self, request: InputRequest) -> Result<Value, AskError> {
        match self {
            Asker::Nobody => Err(AskError::Unsupported(
                "this call has no client to ask (it is not an MCP request)".into(),
            )),
            Asker::Unsupported(why) => Err(AskError::Unsupported((*why).into())),
            Asker::Peer { peer, timeout } => {
                let caps = peer
                    .peer_info()
                    .map(|info| info.capabilities.clone())
                    .unwrap_or_default();
                check_capability(&caps, &request)?;
                let request = match request {
                    InputRequest::Elicitation(e) => ServerRequest::ElicitRequest(e),
                    InputRequest::CreateMessage(m) => ServerRequest::CreateMessageRequest(m),
                    InputRequest::ListRoots(r) => ServerRequest::ListRootsRequest(r),
                    _ => return Err(AskError::Unsupported("an unknown kind of request".into())),
                };
                let mut options = PeerRequestOptions::default();
                options.timeout = Some(*timeout);
                // The call's trace goes on in the client (SEP-414).
                options.meta = crate::telemetry::current_meta().map(rmcp::model::RequestMetaObject);
                let sent = peer
                    .send_request_with_option(request, options)
                    .await
                    .map_err(|e| AskError::Client(e.to_string()))?;
                match sent.await_response().await {
                    Ok(result) => client_result(result),
                    Err(rmcp::ServiceError::Timeout { timeout }) => Err(AskError::Timeout(timeout)),
                    Err(rmcp::ServiceError::McpError(e)) => Err(AskError::Client(format!(
                        "error {}: {}",
                        e.code.0, e.message
                    ))),
                    Err(e) => Err(AskError::Client(e.to_string())),
                }
            }
            Asker::Rounds(rounds) => {
                check_capability(&rounds.caps, &request)?;
                rounds.ask(request).await
            }
            Asker::Script { caps, script } => {
                check_capability(caps, &request)?;
                script(request).await
            }
            Asker::Task(task) => {
                check_capability(task.caps(), &request)?;
                task.clone().ask(request).await
            }
        }
    }

    /// The rounds of this call, when it is a 2026-07-28 one.
    pub fn rounds(&self) -> Option<Arc<Rounds>> {
        match self {
            Asker::Rounds(rounds) => Some(rounds.clone()),
            _ => None,
        }
    }
}

fn client_result(result: ClientResult) -> Result<Value, AskError> {
    let value = match result {
        ClientResult::ElicitResult(r) => serde_json::to_value(r),
        ClientResult::CreateMessageResult(r) => serde_json::to_value(r),
        ClientResult::ListRootsResult(r) => serde_json::to_value(r),
        _ => {
            return Err(AskError::Client(
                "it sent an unexpected kind of result".into(),
            ));
        }
    };
    value.map_err(|e| AskError::Client(e.to_string()))
}

/// The digest of a question, to tell on a re-run that it is the one answered.
pub(crate) fn digest(request: &InputRequest) -> String {
    use sha2::Digest;
    let text = serde_json::to_string(request).unwrap_or_default();
    let hash = sha2::Sha256::digest(text.as_bytes());
    hash.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// One round of a 2026-07-28 call: the answers the client has given so far, and the
/// questions this run asks that have none yet. A question without an answer never
/// returns: the pipeline sees it asked, ends the round (`input_required`) and rolls the
/// round's transaction back; the client answers and the call runs again from the top.
pub(crate) struct Rounds {
    pub caps: ClientCapabilities,
    /// Answers, by question key (`q0`, `q1` … in the order the tool asks).
    pub answers: HashMap<String, Value>,
    /// The digests of the questions asked in earlier rounds, by key.
    pub asked_before: HashMap<String, String>,
    next: AtomicUsize,
    /// Questions of this round still without an answer.
    pending: Mutex<Vec<(String, InputRequest)>>,
    asked: tokio::sync::Notify,
}

impl Rounds {
    pub fn new(
        caps: ClientCapabilities,
        answers: HashMap<String, Value>,
        asked_before: HashMap<String, String>,
    ) -> Rounds {
        Rounds {
            caps,
            answers,
            asked_before,
            next: AtomicUsize::new(0),
            pending: Mutex::new(Vec::new()),
            asked: tokio::sync::Notify::new(),
        }
    }

    async fn ask(&self, request: InputRequest) -> Result<Value, AskError> {
        let key = format!("q{}", self.next.fetch_add(1, Ordering::SeqCst));
        let digest = digest(&request);
        if let Some(before) = self.asked_before.get(&key)
            && *before != digest
        {
            let (kind, message) = describe(&request);
            return Err(AskError::Changed(format!(
                "this run of the call asked a different question ({kind} \"{message}\") than the one its client answered for `{key}`: a tool that asks must ask the same questions, in the same order, each time it runs (its arguments and the answers so far decide them)"
            )));
        }
        if let Some(answer) = self.answers.get(&key) {
            return Ok(answer.clone());
        }
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((key, request));
        self.asked.notify_one();
        std::future::pending().await
    }

    /// The questions asked without an answer (taken).
    pub fn take_pending(&self) -> Vec<(String, InputRequest)> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Runs `item` until it finishes or asks a question nobody answered yet; then
    /// `None`.
    pub async fn run<F: std::future::Future<Output = O>, O>(&self, item: F) -> Option<O> {
        let mut item = std::pin::pin!(item);
        tokio::select! {
            biased;
            out = &mut item => Some(out),
            () = self.asked.notified() => {
                // Questions asked together (`join!`) are recorded in the same round.
                for _ in 0..4 {
                    if let std::task::Poll::Ready(out) = futures_util::poll!(&mut item) {
                        return Some(out);
                    }
                }
                None
            }
        }
    }
}

/// An answer of the client's, as [`Context::elicit`](super::Context::elicit) returns it.
pub(crate) fn answer_of<T: DeserializeOwned>(
    form: &Form,
    value: Value,
) -> Result<Answer<T>, AskError> {
    let (action, content) = elicit_result(value)?;
    match action.as_str() {
        "accept" => {
            let content = content.unwrap_or(Value::Object(Map::new()));
            form.parse(content)
                .map(Answer::Accept)
                .map_err(|e| AskError::Invalid(e.to_string()))
        }
        "decline" => Ok(Answer::Decline),
        "cancel" => Ok(Answer::Cancel),
        other => Err(AskError::Invalid(format!("unknown action `{other}`"))),
    }
}
