//! # mango-rt
//!
//! The runtime of [mango](https://github.com/mango-rs/mango): Django's way of building a
//! site, brought to MCP servers. An app crate depends on `mango-rt` alone; it writes
//! `#[mango_rt::tool]` on plain functions, and `cargo mango serve` serves every
//! installed app's tools over MCP (stdio or Streamable HTTP).
//!
//! ```ignore
//! use mango_rt::{tool, Context};
//!
//! /// Add two numbers.
//! #[tool(read_only)]
//! async fn add(
//!     /// The first number.
//!     a: i64,
//!     /// The second number.
//!     b: i64,
//! ) -> i64 {
//!     a + b
//! }
//! ```
//!
//! What the pieces are:
//! - [`tool`] registers a function as an MCP tool ([`macro@tool`] has the details);
//! - [`settings`] registers an app's typed section of `Mango.toml`;
//! - [`Context`] is what a tool can ask for besides its arguments;
//! - [`manage`] is the entry point of a project's generated binary.

// stdout belongs to the stdio transport (and to commands' output, written on purpose).
#![deny(clippy::print_stdout)]

pub mod builtin;
pub mod command;
pub mod context;
pub mod db;
pub mod error;
pub mod inject;
pub mod manage;
pub mod middleware;
pub mod migrate;
pub mod output;
pub mod registry;
pub mod server;
pub mod settings;
pub mod testing;
pub mod transport;

pub use builtin::BUILTIN_APP;
pub use context::{Context, LogLevel, TransportKind};
pub use db::Db;
pub use error::{Error, ToolError};
pub use inject::Inject;
pub use manage::{AppInfo, Project, manage};
pub use mango_attr::{command, middleware, settings, tool};
pub use middleware::{ListRequest, Middleware, Next, Request, Response};
pub use settings::{AppSettings, Settings, app_settings};

/// clap, for `#[derive(mango_rt::clap::Args)]` structs of commands' arguments (bring it
/// into scope with `use mango_rt::clap;`: clap's derive names `clap::…`).
pub use clap;
/// Diesel, the ORM: `table!`, query builders, derives (apps depend on `diesel` too, for
/// its derive macros).
pub use diesel;
/// Diesel's async connections: `RunQueryDsl` gives `.execute(db)`, `.load(db)` …
pub use diesel_async;
/// The MCP SDK mango is built on, for what mango does not wrap.
pub use rmcp;
/// JSON Schema derive for types used as tool arguments or results.
pub use schemars;
/// Serde, re-exported so that apps can derive `Serialize`/`Deserialize` for their own
/// types through `mango_rt::serde` without a dependency of their own.
pub use serde;
/// JSON values, as tools receive and return them.
pub use serde_json;
/// The async runtime mango serves on, for apps that sleep, spawn or time out.
pub use tokio;
/// Structured logs (to stderr), as the server's own.
pub use tracing;

/// A result whose error is a [`ToolError`]: the error's message reaches the caller as an
/// `isError` result.
pub type Result<T, E = ToolError> = std::result::Result<T, E>;

/// Used by generated code, not SemVer: anything here may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::command::{COMMANDS, CommandEntry};
    pub use crate::inject::{Call, Inject, InjectMut};
    pub use crate::middleware::{MIDDLEWARE, MiddlewareEntry, StepFuture, django};
    pub use crate::migrate::{MIGRATIONS, MigrationsEntry};
    pub use crate::output::{BoxFuture, ToolOutput, blocking};
    pub use crate::registry::{
        Annotations, OutputKind, SETTINGS, SettingsEntry, TOOLS, ToolEntry, input_schema,
        output_schema,
    };
    pub use crate::settings::{AppSettings, parse_settings};
    pub use clap;
    pub use diesel_migrations::{self, EmbeddedMigrations};
    pub use linkme;
    pub use schemars;
    pub use serde;
    pub use serde_json;
}
