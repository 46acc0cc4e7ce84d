//! Errors: [`ToolError`] for tools, [`Error`] for start-up.

use std::fmt;

use crate::settings::SettingsError;

/// An error a tool returns: its message is what the caller (a model) reads, as an
/// `isError: true` result.
///
/// Any `std::error::Error` converts into it with `?`; `ToolError::new("…")` makes one
/// from a message.
pub struct ToolError {
    message: String,
}

impl ToolError {
    pub fn new(message: impl Into<String>) -> Self {
        ToolError {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for ToolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ToolError({:?})", self.message)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for ToolError {
    fn from(error: E) -> Self {
        // The error and its causes, as `a: b: c`.
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        ToolError { message }
    }
}

/// Why a project could not start (or a runner subcommand failed).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Settings(#[from] SettingsError),

    #[error(transparent)]
    Database(#[from] crate::db::DbError),

    #[error(transparent)]
    Migrate(#[from] crate::migrate::MigrateError),

    #[error(
        "two tools are exposed as `{name}`:\n  - {first}\n  - {second}\nrename one with #[tool(name = \"…\")], or give an app its own prefix in its Cargo.toml: [package.metadata.mango] prefix = \"…\""
    )]
    DuplicateTool {
        name: String,
        /// "`path::fn` in app `x` at file:line"
        first: String,
        second: String,
    },

    #[error(
        "the tool `{fn_name}` at {at} would be exposed as `{name}`, which {problem}; MCP clients accept names of 1 to 64 characters from A-Z a-z 0-9 _ - .: shorten it with #[tool(name = \"…\")] or the app's prefix"
    )]
    InvalidToolName {
        name: String,
        fn_name: String,
        at: String,
        problem: String,
    },

    #[error(
        "{path}: `middleware` lists `{name}`, which no installed app registers; the middleware there is: {known}"
    )]
    UnknownMiddleware {
        path: String,
        name: String,
        known: String,
    },

    #[error("{0}")]
    Middleware(String),

    #[error(
        "could not listen on {addr}: {source}; is another server using the port? Pick another with --port or [server] port in Mango.toml"
    )]
    Bind {
        addr: String,
        source: std::io::Error,
    },

    #[error("the MCP server stopped with an error: {0}")]
    Serve(String),

    #[error("{0}")]
    Io(#[from] std::io::Error),
}
