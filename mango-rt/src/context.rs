//! [`Context`]: what a tool can ask for besides its arguments.

use std::sync::Arc;

#[allow(deprecated)]
// MCP logging is deprecated from protocol 2026-07-28 on; clients of 2025 versions use it
use rmcp::model::{
    LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken,
};
use rmcp::{Peer, RoleServer};

use crate::error::ToolError;
use crate::server::Runtime;
use crate::settings::AppSettings;

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

/// A tool's view of its call: the app's typed settings, the request's id and metadata,
/// and notifications (logs, progress) back to the client.
///
/// Ask for it by naming it as a parameter: `ctx: &Context`. It never appears in the
/// tool's input schema.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Arc<Runtime>,
    tool: &'static str,
    app: &'static str,
    request_id: Option<String>,
    meta: serde_json::Map<String, serde_json::Value>,
    progress_token: Option<ProgressToken>,
    peer: Option<Peer<RoleServer>>,
    transport: TransportKind,
    identity: Option<String>,
    extensions: rmcp::model::Extensions,
}

pub(crate) struct ContextParts {
    pub runtime: Arc<Runtime>,
    pub tool: &'static str,
    pub app: &'static str,
    pub request_id: Option<String>,
    pub meta: serde_json::Map<String, serde_json::Value>,
    pub progress_token: Option<ProgressToken>,
    pub peer: Option<Peer<RoleServer>>,
    pub transport: TransportKind,
    pub identity: Option<String>,
    pub extensions: rmcp::model::Extensions,
}

impl Context {
    pub(crate) fn new(parts: ContextParts) -> Self {
        let ContextParts {
            runtime,
            tool,
            app,
            request_id,
            meta,
            progress_token,
            peer,
            transport,
            identity,
            extensions,
        } = parts;
        Context {
            inner: Arc::new(Inner {
                runtime,
                tool,
                app,
                request_id,
                meta,
                progress_token,
                peer,
                transport,
                identity,
                extensions,
            }),
        }
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
            .runtime
            .app_settings::<T>()
            .map_err(ToolError::from)
    }

    pub(crate) fn runtime(&self) -> &Arc<Runtime> {
        &self.inner.runtime
    }

    /// The project's database, if it has one.
    pub fn database(&self) -> Option<&crate::db::Database> {
        self.inner.runtime.database.as_ref()
    }

    /// The project's settings.
    pub fn project_settings(&self) -> &crate::Settings {
        &self.inner.runtime.settings
    }

    /// The exposed name of the tool being called.
    pub fn tool(&self) -> &'static str {
        self.inner.tool
    }

    /// The package name of the app the tool belongs to.
    pub fn app(&self) -> &'static str {
        self.inner.app
    }

    /// The JSON-RPC id of the request, as text (none for in-process calls).
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// The request's `_meta` object.
    pub fn meta(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.inner.meta
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
            LogLevel::Debug => tracing::debug!(tool = self.inner.tool, "{message}"),
            LogLevel::Info | LogLevel::Notice => {
                tracing::info!(tool = self.inner.tool, "{message}")
            }
            LogLevel::Warning => tracing::warn!(tool = self.inner.tool, "{message}"),
            LogLevel::Error => tracing::error!(tool = self.inner.tool, "{message}"),
        }
        if let Some(peer) = &self.inner.peer {
            let param = LoggingMessageNotificationParam::new(level.into(), message.into())
                .with_logger(self.inner.tool);
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
        let (Some(peer), Some(token)) = (&self.inner.peer, &self.inner.progress_token) else {
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
