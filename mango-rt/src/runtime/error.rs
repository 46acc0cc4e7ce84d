//! [`StartError`]: why a project could not start, or a subcommand of its binary failed.

use std::fmt;

use crate::db::{DbError, MigrateError};
use crate::settings::SettingsError;

/// Why a project could not start (or a subcommand of its binary failed): its message
/// says what went wrong and what to do.
pub struct StartError(Kind);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0)
    }
}

impl From<Kind> for StartError {
    fn from(kind: Kind) -> StartError {
        StartError(kind)
    }
}

macro_rules! from {
    ($($source:ty => $variant:ident),* $(,)?) => {
        $(impl From<$source> for StartError {
            fn from(e: $source) -> StartError {
                StartError(Kind::$variant(e))
            }
        })*
    };
}

from!(
    SettingsError => Settings,
    DbError => Database,
    MigrateError => Migrate,
    std::io::Error => Io,
    crate::telemetry::Problem => Telemetry,
);

/// The kinds of [`StartError`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum Kind {
    #[error(transparent)]
    Settings(SettingsError),

    #[error(transparent)]
    Database(DbError),

    #[error(transparent)]
    Migrate(MigrateError),

    #[error(
        "two {what}s are exposed as `{name}`:\n  - {first}\n  - {second}\nrename one with #[{what}(name = \"…\")], or give an app its own prefix in its Cargo.toml: [package.metadata.mango] prefix = \"…\""
    )]
    DuplicateName {
        what: &'static str,
        name: String,
        /// "`path::fn` in app `x` at file:line"
        first: String,
        second: String,
    },

    #[error(
        "two resources claim the URI `{uri}`{}:\n  - {first}\n  - {second}\nchange one of the URIs (an app's URIs usually start with a scheme of its own, such as `notes://`)",
        if uri == other { String::new() } else { format!(" (the template `{other}` can match it too)") }
    )]
    DuplicateResource {
        uri: String,
        other: String,
        first: String,
        second: String,
    },

    #[error("the resource `{uri}` ({site}): {problem}")]
    InvalidResource {
        uri: String,
        site: String,
        problem: super::resources::TemplateError,
    },

    #[error(
        "the {what} `{fn_name}` at {at} would be exposed as `{name}`, which {problem}; MCP clients accept names of 1 to 64 characters from A-Z a-z 0-9 _ - .: shorten it with #[{what}(name = \"…\")] or the app's prefix"
    )]
    InvalidName {
        what: &'static str,
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

    #[error(transparent)]
    Auth(crate::builtin::auth::SettingsError),

    #[error(transparent)]
    Admin(crate::settings::AdminSettingsError),

    #[error(transparent)]
    Telemetry(crate::telemetry::Problem),

    /// A start-up hook failed, panicked or ran out of time.
    #[error("{0}")]
    Hook(String),

    #[error("could not listen on {addr}: {source}; {}", bind_hint(source))]
    Bind {
        addr: String,
        source: std::io::Error,
    },

    #[error("the MCP server stopped with an error: {0}")]
    Serve(String),

    #[error("{0}")]
    Io(std::io::Error),
}

/// What to do when the server cannot listen, by the reason.
fn bind_hint(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::AddrInUse => {
            "is another server using the port? Pick another with --port or [server] port in Mango.toml"
        }
        K::PermissionDenied => {
            "ports below 1024 need privileges: pick one above with --port or [server] port in Mango.toml"
        }
        _ => {
            "is the host a name or address of this machine? Set it with --host or [server] host in Mango.toml (127.0.0.1 for this machine only, 0.0.0.0 for every interface)"
        }
    }
}
