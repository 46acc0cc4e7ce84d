//! A call: what is asked for ([`Target`]), who asks ([`Caller`]), and the [`Context`]
//! an item's code receives; its injected values ([`inject`]) and its result
//! ([`Output`]).

use std::sync::Arc;

#[allow(deprecated)]
// MCP logging is deprecated from protocol 2026-07-28 on; clients of 2025 versions use it
use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
};
use rmcp::{Peer, RoleServer};

use crate::error::ToolError;
use crate::settings::AppSettings;
use crate::state::State;

mod ask;
mod content;
pub mod dispatch;
mod form;
mod identity;
mod inject;
mod output;

pub use ask::{Answer, AskError, Sampled, Sampling};
pub(crate) use ask::{Asker, Rounds, TaskAsk, digest as question_digest};
#[cfg_attr(not(feature = "testing"), allow(unused_imports))]
pub(crate) use ask::{Script, describe as describe_question};

pub use content::{Content, Message, RawBytes};
pub use identity::{Identity, IdentitySource};

pub use inject::{AppState, Call, Inject, InjectMut, ParamError, provide_state};
pub(crate) use output::catching_panics;
pub use output::{BoxFuture, blocking};
pub use output::{IntoOutput, Json, Output, Rich};

/// How the call reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    Stdio,
    Http,
    /// The in-process test client, or the `call` command.
    InProcess,
    /// A management command (`cargo mango run …`).
    Command,
    /// The admin's "try it" forms, as the logged-in admin.
    Admin,
    /// A worker running a `#[job]`.
    Worker,
}

impl TransportKind {
    /// Its name: `stdio`, `http`, `in-process`, `command`, `admin`, `worker`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TransportKind::Stdio => "stdio",
            TransportKind::Http => "http",
            TransportKind::InProcess => "in-process",
            TransportKind::Command => "command",
            TransportKind::Admin => "admin",
            TransportKind::Worker => "worker",
        }
    }
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The severity of a log message sent to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
}

impl LogLevel {
    /// Its place among MCP's levels (debug 0 … emergency 7).
    fn rank(self) -> u8 {
        match self {
            LogLevel::Debug => 0,
            LogLevel::Info => 1,
            LogLevel::Notice => 2,
            LogLevel::Warning => 3,
            LogLevel::Error => 4,
        }
    }
}

#[allow(deprecated)]
impl From<LogLevel> for LoggingLevel {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Debug => LoggingLevel::Debug,
            LogLevel::Info => LoggingLevel::Info,
            LogLevel::Notice => LoggingLevel::Notice,
            LogLevel::Warning => LoggingLevel::Warning,
            LogLevel::Error => LoggingLevel::Error,
        }
    }
}

/// What kind of item a call is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// `tools/call`.
    Tool,
    /// A management command (`cargo mango run …`).
    Command,
    /// `resources/read`.
    Resource,
    /// `prompts/get`.
    Prompt,
    /// `completion/complete` (the target is the prompt or template completed).
    Completion,
    /// An app's `#[startup]` or `#[shutdown]` hook.
    Hook,
    /// A run of an app's `#[job]`.
    Job,
}

impl Kind {
    /// Its name: `tool`, `command`, `resource`, `prompt`, `completion`, `hook`, `job`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Tool => "tool",
            Kind::Command => "command",
            Kind::Resource => "resource",
            Kind::Prompt => "prompt",
            Kind::Completion => "completion",
            Kind::Hook => "hook",
            Kind::Job => "job",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a call asks for: the kind of item, its exposed name, and its app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Target {
    pub kind: Kind,
    /// The name a client (or the command line) uses: a tool's `<prefix>_<name>`.
    pub name: &'static str,
    /// The package name of the item's app (`mango` for the built-ins).
    pub app: &'static str,
}

/// The client's name and version, as it said in `initialize`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientInfo {
    pub name: String,
    pub version: String,
    /// A name for people to read, when the client gave one.
    pub title: Option<String>,
}

impl ClientInfo {
    pub(crate) fn of(info: &rmcp::model::Implementation) -> Self {
        ClientInfo {
            name: info.name.clone(),
            version: info.version.clone(),
            title: info.title.clone(),
        }
    }
}

/// Values a middleware hands on to later middleware and to the item
/// ([`Context::extension`]), one per type.
#[derive(Debug, Clone, Default)]
pub struct Extensions {
    /// rmcp's type map, kept private: the methods below are the API.
    map: rmcp::model::Extensions,
}

impl Extensions {
    /// Puts `value` in, and gives back the value of its type that was there.
    pub fn insert<T: Clone + Send + Sync + 'static>(&mut self, value: T) -> Option<T> {
        self.map.insert(value)
    }

    /// The value of type `T`, if one was put in.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map.get::<T>()
    }

    /// The value of type `T`, to change in place.
    pub fn get_mut<T: Send + Sync + 'static>(&mut self) -> Option<&mut T> {
        self.map.get_mut::<T>()
    }

    /// Takes the value of type `T` out.
    pub fn remove<T: Send + Sync + 'static>(&mut self) -> Option<T> {
        self.map.remove::<T>()
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Caller {
    pub transport: TransportKind,
    /// The client's name and version, from `initialize`, when known.
    pub client: Option<ClientInfo>,
    /// The HTTP request's headers (HTTP only): read them with [`header`](Caller::header).
    pub(crate) headers: Option<axum::http::HeaderMap>,
    /// The address the HTTP request came from (HTTP only; behind a proxy, the proxy's).
    pub address: Option<std::net::SocketAddr>,
    /// Who is calling, once authentication said so (`mango.auth`: the OAuth token's
    /// subject, or the static token's name; over stdio, `local`).
    pub identity: Option<Identity>,
}

impl Caller {
    /// A caller of whom only the transport is known.
    pub fn new(transport: TransportKind) -> Caller {
        Caller {
            transport,
            client: None,
            headers: None,
            address: None,
            identity: None,
        }
    }

    /// The value of the HTTP request's header `name` (any case), when the call came over
    /// HTTP with it and its value is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.as_ref()?.get(name)?.to_str().ok()
    }

    /// Why this caller may not use an item that needs `needed` (none: it may). The
    /// local user over stdio has every scope unless `[auth] stdio = "deny"`; in-process
    /// callers (tests, commands) too, unless given an identity; an anonymous caller over
    /// HTTP has none.
    pub(crate) fn refusal(
        &self,
        needed: &[&str],
        stdio: crate::settings::StdioAuth,
    ) -> Option<String> {
        if needed.is_empty() {
            return None;
        }
        let missing = match &self.identity {
            Some(identity) => identity.missing(needed),
            None => match self.transport {
                TransportKind::Stdio if stdio == crate::settings::StdioAuth::Trust => Vec::new(),
                TransportKind::InProcess | TransportKind::Command => Vec::new(),
                _ => needed.to_vec(),
            },
        };
        if missing.is_empty() {
            return None;
        }
        let who = match &self.identity {
            Some(identity) => format!("`{identity}`"),
            None => "an anonymous caller".to_owned(),
        };
        let list = missing
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let word = if missing.len() == 1 {
            "scope"
        } else {
            "scopes"
        };
        Some(format!(
            "this needs the {word} {list}, which {who} was not granted (ask the authorization server for a token with {word} {list})"
        ))
    }
}

/// Which log messages a call sends its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum LogFilter {
    /// Every message (2025-11-25: a client that sent no `logging/setLevel`).
    #[default]
    All,
    /// Messages of this severity (a `LoggingLevel`'s rank: debug 0 … emergency 7) and
    /// above.
    AtLeast(u8),
    /// None (2026-07-28: a request without `io.modelcontextprotocol/logLevel`).
    Nothing,
}

impl LogFilter {
    /// The filter a client's level asks for.
    #[allow(deprecated)]
    pub fn at_least(level: LoggingLevel) -> LogFilter {
        LogFilter::AtLeast(match level {
            LoggingLevel::Debug => 0,
            LoggingLevel::Info => 1,
            LoggingLevel::Notice => 2,
            LoggingLevel::Warning => 3,
            LoggingLevel::Error => 4,
            LoggingLevel::Critical => 5,
            LoggingLevel::Alert => 6,
            LoggingLevel::Emergency => 7,
        })
    }

    fn lets_through(self, level: LogLevel) -> bool {
        match self {
            LogFilter::All => true,
            LogFilter::Nothing => false,
            LogFilter::AtLeast(min) => level.rank() >= min,
        }
    }
}

/// The request's way back to its client: its id, `_meta`, progress token and peer, how
/// to ask it questions, which log messages it wants, and the resources the call
/// changed (told to their subscribers once the call's work is committed).
#[derive(Default)]
pub(crate) struct Channel {
    pub request_id: Option<String>,
    pub meta: serde_json::Map<String, serde_json::Value>,
    pub progress_token: Option<ProgressToken>,
    pub peer: Option<Peer<RoleServer>>,
    pub asker: Asker,
    pub log: LogFilter,
    pub changed: Arc<std::sync::Mutex<Vec<String>>>,
    /// Passed when the call begins to end its transaction: from then on it is not
    /// stopped (a cancellation that comes later is answered with what the call did).
    pub commit: crate::db::CommitPoint,
    /// A call run as a task: its latest progress, for `tasks/get`'s status message.
    pub task_status: Option<Arc<std::sync::Mutex<Option<String>>>>,
    /// A call run as a task on SQLite: writes the task's row before the call's
    /// transaction takes the write turn.
    pub before_write: Option<crate::db::BeforeWrite>,
}

/// An item's view of its call: what is called, by whom, the app's typed settings, the
/// request's id and metadata, and notifications (logs, progress) back to the client.
///
/// Ask for it by naming it as a parameter: `ctx: &Context`. It never appears in the
/// tool's input schema.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    state: Arc<State>,
    target: Target,
    transport: TransportKind,
    identity: Option<Identity>,
    channel: Channel,
    extensions: Extensions,
}

impl Context {
    pub(crate) fn new(
        state: Arc<State>,
        target: Target,
        caller: &Caller,
        channel: Channel,
        extensions: Extensions,
    ) -> Self {
        Context {
            inner: Arc::new(Inner {
                state,
                target,
                transport: caller.transport,
                identity: caller.identity.clone(),
                channel,
                extensions,
            }),
        }
    }

    pub(crate) fn state(&self) -> &Arc<State> {
        &self.inner.state
    }

    /// Who is calling, when authentication said so (`mango.auth`: the OAuth token's
    /// subject, scopes and chosen claims, or the static token's name; over stdio,
    /// `local`).
    pub fn identity(&self) -> Option<&Identity> {
        self.inner.identity.as_ref()
    }

    /// A value a middleware put in the request's extensions.
    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.inner.extensions.get::<T>()
    }

    /// The app's typed settings (its `[<profile>.apps.<app>]` section of `Mango.toml`).
    ///
    /// `T` is a struct marked `#[mango_rt::settings]`; every such section was read and
    /// checked at start-up, so this only fails for a type of an app that is not linked.
    pub fn settings<T: AppSettings>(&self) -> Result<Arc<T>, ToolError> {
        self.inner
            .state
            .app_settings::<T>()
            .map_err(ToolError::from)
    }

    /// What an app's `#[startup]` hook built, of type `T` (a tool can take it as a
    /// parameter instead: `client: &AppState<Client>`).
    pub fn app_state<T: Send + Sync + 'static>(&self) -> Option<AppState<T>> {
        self.inner.state.app_state::<T>().map(AppState::new)
    }

    /// The project's settings.
    pub fn project_settings(&self) -> &crate::Settings {
        &self.inner.state.settings
    }

    /// What is being called: its kind, exposed name and app.
    pub fn target(&self) -> Target {
        self.inner.target
    }

    /// The package name of the app the item belongs to.
    pub fn app(&self) -> &'static str {
        self.inner.target.app
    }

    /// The JSON-RPC id of the request, as text (none for in-process calls).
    pub fn request_id(&self) -> Option<&str> {
        self.inner.channel.request_id.as_deref()
    }

    /// The request's `_meta` object.
    pub fn meta(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.inner.channel.meta
    }

    /// How the call reached the server.
    pub fn transport(&self) -> TransportKind {
        self.inner.transport
    }

    /// Sends a log message to the client (`notifications/message`) when it asked for
    /// messages of this level (`logging/setLevel` in a 2025-11-25 session, the request's
    /// `io.modelcontextprotocol/logLevel` on 2026-07-28), and to the server's own log
    /// always. A client that is gone is not an error: the message is dropped.
    #[allow(deprecated)]
    pub async fn log(&self, level: LogLevel, message: impl Into<String>) {
        let message = message.into();
        match level {
            LogLevel::Debug => tracing::debug!(item = self.inner.target.name, "{message}"),
            LogLevel::Info | LogLevel::Notice => {
                tracing::info!(item = self.inner.target.name, "{message}")
            }
            LogLevel::Warning => tracing::warn!(item = self.inner.target.name, "{message}"),
            LogLevel::Error => tracing::error!(item = self.inner.target.name, "{message}"),
        }
        if !self.inner.channel.log.lets_through(level) {
            return;
        }
        if let Some(peer) = &self.inner.channel.peer {
            let param = LoggingMessageNotificationParam::new(level.into(), message.into())
                .with_logger(self.inner.target.name);
            if let Err(e) = peer.notify_logging_message(param).await {
                tracing::debug!(error = %e, "could not send a log message to the client");
            }
        }
    }

    pub async fn info(&self, message: impl Into<String>) {
        self.log(LogLevel::Info, message).await
    }

    pub async fn warning(&self, message: impl Into<String>) {
        self.log(LogLevel::Warning, message).await
    }

    /// Asks the user to fill in a form, `T`'s fields: strings, numbers, booleans, enums
    /// (one choice, or several as a `Vec`), with their doc comments as descriptions,
    /// `#[serde(default = …)]` values as defaults and variants' doc comments as the
    /// choices' titles. The answer is checked against the form.
    ///
    /// ```
    /// use mango_rt::{Answer, Context, tool};
    ///
    /// #[mango_rt::data]
    /// struct Confirm {
    ///     /// Delete it for good?
    ///     confirm: bool,
    /// }
    ///
    /// #[tool(destructive)]
    /// async fn delete(id: i64, ctx: &Context) -> mango_rt::Result<String> {
    ///     match ctx.elicit::<Confirm>(format!("Delete note {id}?")).await? {
    ///         Answer::Accept(Confirm { confirm: true }) => Ok(format!("deleted {id}")),
    ///         _ => Ok("kept".into()),
    ///     }
    /// }
    /// ```
    ///
    /// On a 2025-11-25 session this is a request to the client, answered within
    /// `[input] timeout` seconds. On 2026-07-28 the first run of the call ends here: the
    /// call answers `input_required`, its transaction is rolled back, and it runs again
    /// from the top with the client's answer, which this call then returns. Clients that
    /// did not declare `elicitation` get [`AskError::Unsupported`].
    pub async fn elicit<T>(&self, message: impl Into<String>) -> Result<Answer<T>, AskError>
    where
        T: serde::de::DeserializeOwned + schemars::JsonSchema + 'static,
    {
        let form = form::Form::cached::<T>().map_err(|e| AskError::Unsupported(e.to_string()))?;
        let answer = self
            .inner
            .channel
            .asker
            .ask(form.request(message.into()))
            .await?;
        ask::answer_of(&form, answer)
    }

    /// Asks the user to visit `url` (to sign in somewhere, to pay …) and say when done:
    /// the answer has no values. Needs a client that declared `elicitation.url`.
    pub async fn elicit_url(
        &self,
        message: impl Into<String>,
        url: impl Into<String>,
    ) -> Result<Answer<()>, AskError> {
        use sha2::Digest;
        let (message, url) = (message.into(), url.into());
        // The same on every run of the call, so that a re-run asks the same question.
        let id: String = sha2::Sha256::digest(format!("{url}\n{message}").as_bytes())
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect();
        let request = rmcp::model::InputRequest::Elicitation(rmcp::model::ElicitRequest::new(
            rmcp::model::ElicitRequestParams::UrlElicitationParams {
                meta: None,
                message,
                url,
                elicitation_id: id,
            },
        ));
        let (action, _) = ask::elicit_result(self.inner.channel.asker.ask(request).await?)?;
        match action.as_str() {
            "accept" => Ok(Answer::Accept(())),
            "decline" => Ok(Answer::Decline),
            "cancel" => Ok(Answer::Cancel),
            other => Err(AskError::Invalid(format!("unknown action `{other}`"))),
        }
    }

    /// Asks the client's model for a reply (MCP sampling): the conversation, a system
    /// prompt, at most so many tokens, the models to prefer. Asked as
    /// [`elicit`](Self::elicit) is, in both protocol eras; clients that did not declare
    /// `sampling` get [`AskError::Unsupported`].
    pub async fn sample(&self, request: impl Into<Sampling>) -> Result<Sampled, AskError> {
        let answer = self
            .inner
            .channel
            .asker
            .ask(request.into().into_request())
            .await?;
        Sampled::from_value(answer)
    }

    /// Says that the resource at `uri` changed: once the call's work is committed, every
    /// client subscribed to it gets `notifications/resources/updated`, on this server and,
    /// on PostgreSQL, on every replica (nothing is sent when the call fails and its
    /// transaction is rolled back).
    pub fn resource_changed(&self, uri: impl Into<String>) {
        self.inner
            .channel
            .changed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(uri.into());
    }

    /// Reports progress (`notifications/progress`) when the client asked for it (sent a
    /// `progressToken`); otherwise does nothing.
    pub async fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
        if let Some(status) = &self.inner.channel.task_status {
            // A task's progress is read with `tasks/get` (its request was answered).
            let mut said = match total {
                Some(total) => format!("{progress}/{total}"),
                None => format!("{progress}"),
            };
            if let Some(message) = message {
                said = format!("{said}: {message}");
            }
            *status.lock().unwrap_or_else(|p| p.into_inner()) = Some(said);
            return;
        }
        let (Some(peer), Some(token)) =
            (&self.inner.channel.peer, &self.inner.channel.progress_token)
        else {
            return;
        };
        let mut param = ProgressNotificationParam::new(token.clone(), progress);
        if let Some(total) = total {
            param = param.with_total(total);
        }
        if let Some(message) = message {
            param = param.with_message(message);
        }
        if let Err(e) = peer.notify_progress(param).await {
            tracing::debug!(error = %e, "could not send progress to the client");
        }
    }
}
