//! The link-time registry: every `#[tool]`, `#[command]`, `#[middleware]`,
//! `#[settings]` and `migrations!()` of every linked app lands in one of these slices.
//! Each entry carries one [`EntryMeta`], so that every message can point at the source.

use std::sync::Arc;

use diesel_migrations::EmbeddedMigrations;
use linkme::distributed_slice;
use rmcp::model::JsonObject;

use crate::call::{BoxFuture, Call, Output};
use crate::chain::{Around, ListHooks};
use crate::settings::ParseSettings;

/// Every `#[tool]` of every linked app, in link order (sort before relying on order).
#[distributed_slice]
pub static TOOLS: [ToolEntry];

/// Every `#[resource]` of every linked app, in link order.
#[distributed_slice]
pub static RESOURCES: [ResourceEntry];

/// Every `#[prompt]` of every linked app, in link order.
#[distributed_slice]
pub static PROMPTS: [PromptEntry];

/// Every `#[command]` of every linked app, in link order.
#[distributed_slice]
pub static COMMANDS: [CommandEntry];

/// Every `#[middleware]` of every linked app.
#[distributed_slice]
pub static MIDDLEWARE: [MiddlewareEntry];

/// Every `#[settings]` type of every linked app.
#[distributed_slice]
pub static SETTINGS: [SettingsEntry];

/// Every `#[startup]` and `#[shutdown]` hook of every linked app, in link order.
#[distributed_slice]
pub static HOOKS: [HookEntry];

/// Every `#[job]` of every linked app, in link order.
#[distributed_slice]
pub static JOBS: [JobEntry];

/// Every `#[model]` of every linked app, in link order.
#[distributed_slice]
pub static MODELS: [ModelEntry];

/// Every app's embedded migrations (`mango_rt::migrations!()`), in link order.
#[distributed_slice]
pub static MIGRATIONS: [MigrationsEntry];

pub(crate) use crate::project::BUILTIN_APP;

/// The separator of qualified names: `app.name` (middleware in `Mango.toml`, commands
/// on the command line).
pub(crate) const SEPARATOR: char = '.';

/// What every entry says about itself: its app, its name, and where it is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryMeta {
    /// The package name of the app (`CARGO_PKG_NAME`; `mango` for the built-ins).
    pub app: &'static str,
    /// The item's own name (a tool's before the app's prefix; a settings type's path).
    pub name: &'static str,
    pub module_path: &'static str,
    pub file: &'static str,
    pub line: u32,
}

impl EntryMeta {
    /// `app.name`.
    pub fn qualified(&self) -> String {
        format!("{}{SEPARATOR}{}", self.app, self.name)
    }

    /// `file:line`, for messages that point at the source.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// "`module::name` in app `app` at file:line".
    pub fn site(&self) -> String {
        format!(
            "`{}::{}` in app `{}` at {}",
            self.module_path,
            self.name,
            self.app,
            self.location()
        )
    }
}

/// The behaviour hints of a tool, as `#[tool(read_only, destructive = false, …)]` gives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Annotations {
    pub read_only: Option<bool>,
    pub destructive: Option<bool>,
    pub idempotent: Option<bool>,
    pub open_world: Option<bool>,
}

/// One `#[tool]`, as the macro writes it.
pub struct ToolEntry {
    pub meta: EntryMeta,
    pub description: &'static str,
    pub title: Option<&'static str>,
    pub annotations: Annotations,
    pub input_schema: fn() -> Arc<JsonObject>,
    /// The `outputSchema`: the result type's (`None` for text, content …).
    pub output_schema: fn() -> Option<Arc<JsonObject>>,
    /// `#[tool(atomic = …)]`: whether a database connection it takes is in a
    /// transaction (`None`: the settings' default).
    pub atomic: Option<bool>,
    /// The OAuth scopes a caller needs (`#[tool(scopes = ["notes:write"])]`).
    pub scopes: &'static [&'static str],
    /// `#[tool(task)]`: whether a call may be answered with a task handle (the MCP
    /// tasks extension).
    pub task: TaskMode,
    pub call: fn(Call) -> BoxFuture<Output>,
}

/// Whether a tool's calls run as tasks of the MCP tasks extension
/// (`io.modelcontextprotocol/tasks`): the call is answered at once with a task handle,
/// and the client polls `tasks/get` for its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskMode {
    /// Never: the call is answered with its result (the default).
    #[default]
    Forbidden,
    /// When the client declares the extension on the request; otherwise the call is
    /// answered with its result.
    Optional,
    /// Always: a client that does not declare the extension gets -32021 (a missing
    /// required client capability).
    Required,
}

/// One `#[resource]` (a static resource, or a template when its URI has `{…}`), as the
/// macro writes it.
pub struct ResourceEntry {
    pub meta: EntryMeta,
    /// The URI, or the URI template (RFC 6570: `{name}`, `{+name}`).
    pub uri: &'static str,
    pub title: Option<&'static str>,
    pub description: &'static str,
    pub mime_type: Option<&'static str>,
    /// Reads it: the template's variables are the call's arguments (as text).
    pub read: fn(Call) -> BoxFuture<Output>,
    /// `complete(var = fn, …)`: how to complete the template's variables.
    pub completions: &'static [CompletionEntry],
    /// The OAuth scopes a caller needs (`scopes = ["notes:read"]`).
    pub scopes: &'static [&'static str],
}

/// A `complete(argument = fn)` of a prompt or resource template: the `#[completion]`
/// fn that suggests values for the argument.
pub struct CompletionEntry {
    pub argument: &'static str,
    /// Completes: the call's arguments are `value` (what was typed so far),
    /// `argument` (its name) and `context` (the other arguments given, as text).
    pub complete: fn(Call) -> BoxFuture<Output>,
}

/// One `#[prompt]`, as the macro writes it.
pub struct PromptEntry {
    pub meta: EntryMeta,
    pub title: Option<&'static str>,
    pub description: &'static str,
    pub arguments: &'static [PromptArgumentEntry],
    /// Gets it: the arguments are the call's (as text).
    pub get: fn(Call) -> BoxFuture<Output>,
    /// `complete(argument = fn, …)`: how to complete its arguments.
    pub completions: &'static [CompletionEntry],
    /// The OAuth scopes a caller needs (`scopes = ["notes:read"]`).
    pub scopes: &'static [&'static str],
}

/// One argument of a prompt: a parameter of its fn.
pub struct PromptArgumentEntry {
    pub name: &'static str,
    pub description: &'static str,
    /// Whether it must be given (the parameter is not an `Option`).
    pub required: bool,
}

/// One `#[command]`, as the macro writes it.
pub struct CommandEntry {
    pub meta: EntryMeta,
    /// The doc comment: its first line is the summary in the list.
    pub about: &'static str,
    /// Adds the command's arguments to a clap command.
    pub args: fn(clap::Command) -> clap::Command,
    pub run: fn(clap::ArgMatches, Call) -> BoxFuture<Output>,
    /// `#[command(atomic = …)]`, as for tools.
    pub atomic: Option<bool>,
}

/// One middleware, as `#[middleware]` writes it.
pub struct MiddlewareEntry {
    pub meta: EntryMeta,
    pub around: Around,
    pub list: Option<ListHooks>,
}

/// One `#[settings]` type, as the macro writes it (`meta.name` is the type's path).
pub struct SettingsEntry {
    pub meta: EntryMeta,
    /// Reads the app's section (a JSON value) into the typed settings.
    pub parse: ParseSettings,
    pub type_id: fn() -> std::any::TypeId,
}

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookKind {
    /// Once per process, before the server accepts calls (or a command runs), in the
    /// apps' dependency order.
    Startup,
    /// Once per process, after the last call drained (or the command ended), in the
    /// reverse order.
    Shutdown,
}

/// One `#[startup]` or `#[shutdown]` hook, as the macro writes it.
pub struct HookEntry {
    pub meta: EntryMeta,
    pub kind: HookKind,
    /// Runs it: an error output stops start-up (a start-up hook) or is logged.
    pub run: fn(Call) -> BoxFuture<Output>,
}

/// One `#[job]`, as the macro writes it.
pub struct JobEntry {
    /// `name` is the job's (its fn's, or `name = "…"`); the queue knows it as
    /// `app.name`.
    pub meta: EntryMeta,
    /// Whether running it twice does no harm: a run cut off (its worker killed, shut
    /// down, or its lease lost) is run again only when it is.
    pub idempotent: bool,
    /// Runs at most this many times (`None`: `[jobs] max_attempts`).
    pub max_attempts: Option<u32>,
    /// Seconds a run may take (`None`: `[jobs] timeout`).
    pub timeout: Option<f64>,
    /// `Some(false)`: its connection is not in a transaction (`[database] atomic`
    /// otherwise).
    pub atomic: Option<bool>,
    /// Runs it with the arguments in the call.
    pub run: fn(Call) -> BoxFuture<Output>,
}

/// One `#[model]`, as the macro writes it: what the admin's pages, `apps` and `items`
/// show of it. Its tools (`<name>_query`, …) are `#[tool]`s of its app.
pub struct ModelEntry {
    /// `name` is the model's, its tools' names' stem (`note` for `note_query`).
    pub meta: EntryMeta,
    /// The struct's name (`Note`).
    pub what: &'static str,
    /// The struct's doc comment.
    pub description: &'static str,
    pub table: &'static str,
    /// The key field's name.
    pub key: &'static str,
    /// The fields a client sees, in order.
    pub fields: &'static [ModelField],
    pub create: bool,
    pub update: bool,
    pub delete: bool,
    /// The resource template of a row (`notes://notes/{id}`).
    pub uri: &'static str,
}

impl ModelEntry {
    /// The unprefixed names of its tools, in the order query, get, aggregate, create,
    /// update, delete (those it has).
    pub fn tools(&self) -> Vec<String> {
        let mut ops = vec!["query", "get", "aggregate"];
        for (on, op) in [
            (self.create, "create"),
            (self.update, "update"),
            (self.delete, "delete"),
        ] {
            if on {
                ops.push(op);
            }
        }
        ops.into_iter()
            .map(|op| format!("{}_{op}", self.meta.name))
            .collect()
    }
}

/// A field of a `#[model]` that clients see.
pub struct ModelField {
    pub name: &'static str,
    pub description: &'static str,
    pub kind: crate::model::Kind,
    /// `Option<T>`: may be null.
    pub nullable: bool,
    /// Set by the model's create and update (not the key, not `read_only`).
    pub writable: bool,
    /// An order of the query tool (never null).
    pub orderable: bool,
    /// The key.
    pub key: bool,
}

/// One app's migrations, as `migrations!()` registers them.
pub struct MigrationsEntry {
    pub meta: EntryMeta,
    pub migrations: &'static EmbeddedMigrations,
}

/// Embeds the app's `migrations/` folder (relative to its Cargo.toml) and registers it,
/// so that `cargo mango migrate` applies it. `startapp` puts this line in `src/lib.rs`
/// and a `build.rs` that rebuilds the app when a migration is added.
#[macro_export]
macro_rules! migrations {
    () => {
        const _: () = {
            use $crate::__private::diesel_migrations;
            static __MANGO_MIGRATIONS: $crate::__private::EmbeddedMigrations =
                diesel_migrations::embed_migrations!("migrations");
            #[$crate::__private::linkme::distributed_slice($crate::__private::MIGRATIONS)]
            #[linkme(crate = $crate::__private::linkme)]
            static __MANGO_MIGRATIONS_ENTRY: $crate::__private::MigrationsEntry =
                $crate::__private::MigrationsEntry {
                    meta: $crate::__private::EntryMeta {
                        app: ::std::env!("CARGO_PKG_NAME"),
                        name: "migrations",
                        module_path: ::std::module_path!(),
                        file: ::std::file!(),
                        line: ::std::line!(),
                    },
                    migrations: &__MANGO_MIGRATIONS,
                };
        };
    };
}
