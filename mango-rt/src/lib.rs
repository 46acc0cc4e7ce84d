//! # mango-rt
//!
//! The runtime of [mango](https://github.com/mango-rs/mango): Django's way of building a
//! site, brought to MCP servers. An app crate depends on `mango-rt` alone; it writes
//! `#[mango_rt::tool]` on plain functions, and `cargo mango serve` serves every
//! installed app's items over MCP (stdio or Streamable HTTP). The guide is in the
//! repository's `docs/guide/`; this is the reference of what an app uses.
//!
//! ```
//! use mango_rt::{Context, ToolError, tool};
//!
//! /// Add two numbers. (The doc comment is the tool's description.)
//! #[tool(read_only)]
//! async fn add(
//!     /// The first number. (Parameter docs go into the input schema.)
//!     a: i64,
//!     /// The second number.
//!     b: i64,
//! ) -> i64 {
//!     a + b
//! }
//!
//! /// Say hello, and tell the client in its log.
//! #[tool]
//! async fn hello(name: String, ctx: &Context) -> Result<String, ToolError> {
//!     ctx.info(format!("greeting {name}")).await;
//!     Ok(format!("Hello, {name}!"))
//! }
//! ```
//!
//! ## What an app uses
//!
//! **Items and attributes.** [`tool`], [`resource`], [`prompt`] and [`completion`] make
//! MCP items of plain functions; [`command`] a management command; [`middleware`] a
//! step of the one pipeline; [`settings`](macro@settings) an app's typed section of
//! `Mango.toml`; [`startup`] and [`shutdown`] hooks; [`data`] derives what an argument
//! or result type needs; [`model`] serves a Diesel model's table as query and get tools;
//! [`migrations!`] embeds an app's migrations.
//!
//! **What an item returns.** Any `Serialize` type (with `JsonSchema`, a tool's
//! `outputSchema`), or a type implementing [`IntoOutput`]: text, [`Content`] blocks,
//! [`Rich`] (a value with blocks), [`Json`], a prompt's [`Message`]s, bytes, or an
//! [`Output`]; `Result<T, E>` of either, with [`ToolError`] (or any `Display` error)
//! as the error ([`Result`] is the short name).
//!
//! **The call.** [`Context`] (taken as `&Context`): the call's [`Target`], its
//! [`Identity`], logs and progress to the client, [`Context::elicit`] and
//! [`Context::sample`] (answers: [`Answer`], [`Sampled`]; requests: [`Sampling`];
//! failures: [`AskError`]), resources that changed, [`AppState`]. [`db::Db`] (taken as
//! `&mut Db`) is the call's database connection.
//!
//! **Middleware.** [`Request`] (with its [`Caller`], [`ClientInfo`] and
//! [`Extensions`]), [`Next`], [`Response`], the [`Middleware`] trait, and the entries of
//! the lists a client asks for, [`Listed`] (taken by [`ListRequest`] hooks).
//!
//! **Settings.** [`Settings`] and its sections (`Mango.toml`), [`Secret`] for what must
//! never be shown, [`AppSettings`] for an app's own, [`app_settings`] and
//! [`resource_changed`] for code outside calls.
//!
//! **Testing.** `testing::TestServer` (the `testing` feature, on in an app's
//! dev-dependencies): the app's items, in process, on a fresh database.
//!
//! **Errors.** [`ToolError`] (an item's), [`StartError`] (why a project could not
//! start).
//!
//! Re-exported crates, so that an app needs no dependency of its own for them:
//! [`clap`], [`diesel`], [`diesel_async`], [`rmcp`] (for what mango does not wrap),
//! [`schemars`], [`serde`], [`serde_json`], [`tokio`], [`tracing`].
//!
//! ## Layers
//!
//! Each module uses only those above it in this list (`module-cycles` checks it):
//!
//! | module | holds |
//! |---|---|
//! | `util`, `error` | "did you mean", panic messages; [`ToolError`] |
//! | `schema` | JSON schemas of arguments and results |
//! | `project` | `Project`, `AppInfo`: what the generated binary says |
//! | `settings` | `Mango.toml`: [`Settings`] and its sections, [`AppSettings`] |
//! | `db` | the pool, [`db::Db`], the call's connection slot and transaction, migrations |
//! | `transport` | the stdio guard; the HTTP router, generic over any rmcp handler |
//! | `state` | what calls share: settings, apps, app settings, pool, in-flight calls, resource subscribers |
//! | `call` | [`Context`], [`Target`], [`Caller`], injection, [`Output`] and [`IntoOutput`]; asking the client ([`Answer`], [`Sampling`]) |
//! | `chain` | [`Request`], [`Response`], [`Next`], [`Middleware`]; the one pipeline |
//! | `model` | what [`model`]'s generated tools use: filters, pages, the limit, signed cursors |
//! | `registry` | one `EntryMeta` and one link-time slice per kind of entry |
//! | `builtin` | the built-in middleware: auth (MCP step and HTTP layer), rate limit, timeout, timing, audit |
//! | `runtime` | the registry and settings made into tables and a chain; 2026-07-28 rounds and their signed state; [`StartError`] |
//! | `mcp` | rmcp's `ServerHandler` over the runtime: sessions' log levels and subscriptions |
//! | `admin` | the admin pages on the HTTP server: login, overview, apps, try-it forms, calls, data |
//! | `manage` | the project binary's command line and the built-in commands |
//! | `testing` | `testing::TestServer` (feature `testing`) |

// stdout belongs to the stdio transport (and to commands' output, written on purpose).
#![deny(clippy::print_stdout)]

mod admin;
mod builtin;
mod call;
mod chain;
pub mod db;
mod error;
mod jobs;
mod manage;
mod mcp;
mod metrics;
mod model;
mod project;
mod registry;
mod runtime;
mod schema;
mod settings;
mod state;
mod tasks;
mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
mod transport;
mod util;

pub use call::{
    Answer, AppState, AskError, Caller, ClientInfo, Content, Context, Extensions, Identity,
    IdentitySource, IntoOutput, Json, Kind, LogLevel, Message, Output, RawBytes, Rich, Sampled,
    Sampling, Target, TransportKind,
};
pub use chain::{ListRequest, Listed, Middleware, Next, Request, Response};
pub use error::ToolError;
pub use jobs::{Job, JobId};
pub use mango_attr::{
    command, completion, data, job, middleware, model, prompt, resource, settings, shutdown,
    startup, tool,
};
pub use runtime::{StartError, app_settings, resource_changed};
pub use settings::{
    AdminSettings, AppSettings, AuditSettings, AuthSettings, DatabaseSettings, InputSettings,
    JobSettings, MetricsSettings, ModelSettings, OAuthSettings, RateLimitSettings, Secret,
    ServeTransport, ServerSettings, Settings, StdioAuth, TaskSettings, TelemetryMode,
    TelemetrySettings, TimeoutSettings,
};

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
    pub use crate::call::dispatch::{
        ByValue, Field, Probe, ProbeArgument, ProbeInjected, ProbeJson, ProbeJsonOrError,
        ProbeRefused, ProbeRefusedOrError, ProbeTrait, ProbeTraitOrError, input_schema_of,
        read_arguments,
    };
    pub use crate::call::{
        BoxFuture, Call, Inject, InjectMut, Output, ParamError, blocking, provide_state,
    };
    pub use crate::chain::{ListHooks, StepFuture, django};
    pub use crate::manage::manage;
    pub use crate::project::{AppInfo, Project};
    pub use crate::registry::{
        Annotations, COMMANDS, CommandEntry, CompletionEntry, EntryMeta, HOOKS, HookEntry,
        HookKind, JOBS, JobEntry, MIDDLEWARE, MIGRATIONS, MODELS, MiddlewareEntry, MigrationsEntry,
        ModelEntry, ModelField, PROMPTS, PromptArgumentEntry, PromptEntry, RESOURCES,
        ResourceEntry, SETTINGS, SettingsEntry, TOOLS, TaskMode, ToolEntry,
    };
    pub use crate::schema::{input_schema, output_schema, with_dialect};

    /// What `#[model]`'s generated code uses.
    pub mod model {
        pub use crate::model::*;
        /// The Diesel traits the generated queries call.
        pub use diesel::{
            BoolExpressionMethods, EscapeExpressionMethods, ExpressionMethods,
            NullableExpressionMethods, OptionalExtension, QueryDsl, TextExpressionMethods,
        };
        pub use diesel_async::RunQueryDsl;
    }
    pub use crate::settings::{AppSettings, parse_settings};
    pub use clap;
    pub use diesel_migrations::{self, EmbeddedMigrations};
    pub use linkme;
    pub use rmcp::model::JsonObject;
    pub use schemars;
    pub use serde;
    pub use serde_json;

    /// A hook for the benchmark, not an API: an rmcp handler serving `tools` (instead of
    /// the linked ones) with default settings, as `serve` would. The benchmark's
    /// `tools-list` uses it to list 1,000 copies of one tool.
    pub fn benchmark_hook_server(
        tools: impl Iterator<Item = &'static ToolEntry>,
    ) -> Result<impl rmcp::ServerHandler, crate::StartError> {
        let runtime = crate::runtime::Runtime::with_tools(
            crate::Settings::default(),
            &[],
            "bench",
            "0",
            tools,
        )?;
        Ok(crate::mcp::MangoServer::new(
            std::sync::Arc::new(runtime),
            crate::TransportKind::Stdio,
        ))
    }
}
