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

mod content;
mod inject;
mod output;

pub use content::{Content, Message};

pub use inject::{Call, Inject, InjectMut};
pub(crate) use output::catching_panics;
pub use output::{BoxFuture, blocking};
pub use output::{Output, Rich};

/// How the call reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    Stdio,
    Http,
    /// The in-process test client, or the `call` command.
    InProcess,
    /// A management command (`cargo mango run …`).
    Command,
}

impl std::fmt::Display for TransportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TransportKind::Stdio => "stdio",
            TransportKind::Http => "http",
            TransportKind::InProcess => "in-process",
            TransportKind::Command => "command",
        })
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
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Tool => "tool",
            Kind::Command => "command",
            Kind::Resource => "resource",
            Kind::Prompt => "prompt",
            Kind::Completion => "completion",
        })
    }
}

/// What a call asks for: the kind of item, its exposed name, and its app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    /// The name a client (or the command line) uses: a tool's `<prefix>_<name>`.
    pub name: &'static str,
    /// The package name of the item's app (`mango` for the built-ins).
    pub app: &'static str,
}

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    pub transport: TransportKind,
    /// The client's name and version, from `initialize`, when known.
    pub client: Option<rmcp::model::Implementation>,
    /// The HTTP request's headers (HTTP only).
    pub headers: Option<axum::http::HeaderMap>,
    /// Who is calling, once authentication said so (`mango.auth`: the token's name;
    /// over stdio, `local`).
    pub identity: Option<String>,
}

impl Caller {
    /// A caller of whom only the transport is known.
    pub fn new(transport: TransportKind) -> Caller {
        Caller {
            transport,
            client: None,
            headers: None,
            identity: None,
        }
    }
}

/// The request's way back to its client: its id, `_meta`, progress token and peer.
#[derive(Default)]
pub(crate) struct Channel {
    pub request_id: Option<String>,
    pub meta: serde_json::Map<String, serde_json::Value>,
    pub progress_token: Option<ProgressToken>,
    pub peer: Option<Peer<RoleServer>>,
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
    identity: Option<String>,
    channel: Channel,
    extensions: rmcp::model::Extensions,
}

impl Context {
    pub(crate) fn new(
        state: Arc<State>,
        target: Target,
        caller: &Caller,
        channel: Channel,
        extensions: rmcp::model::Extensions,
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

    /// Who is calling, when an authentication middleware said so (`mango.auth`: the
    /// token's name; over stdio, `local`).
    pub fn identity(&self) -> Option<&str> {
        self.inner.identity.as_deref()
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

    /// Sends a log message to the client (`notifications/message`), and to the server's
    /// own log. A client that is gone is not an error: the message is dropped.
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

    /// Reports progress (`notifications/progress`) when the client asked for it (sent a
    /// `progressToken`); otherwise does nothing.
    pub async fn progress(&self, progress: f64, total: Option<f64>, message: Option<&str>) {
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
