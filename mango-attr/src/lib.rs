//! The attribute macros of mango: [`macro@tool`], [`macro@resource`],
//! [`macro@prompt`], [`macro@command`], [`macro@middleware`] and [`macro@settings`]. Use them through `mango_rt`
//! (`#[mango_rt::tool]`, …): the generated code refers to `::mango_rt::__private` and
//! nothing else (`crate = path` says where mango-rt is, for a renamed dependency).
//!
//! Every macro shares one front end (`item.rs`): the signature checks, the parameters
//! sorted into arguments and injected values, the entry's source location, and the
//! `const _` block around what it generates; every macro reports all its errors at
//! once, worded for the item.

use proc_macro::TokenStream;

mod command;
mod completion;
mod data;
mod hook;
mod item;
mod job;
mod middleware;
mod model;
mod prompt;
mod resource;
mod settings;
mod tool;
mod util;

/// Registers an `async fn` (or a plain `fn`, run on a blocking thread) as an MCP tool of
/// its app.
///
/// ```
/// # #[mango_rt::data] struct Note { text: String }
/// # async fn find(_: &str, _: u32) -> mango_rt::Result<Vec<Note>> { Ok(Vec::new()) }
/// /// Search the notes: this doc comment is the tool's description.
/// #[mango_rt::tool(read_only, title = "Search notes")]
/// async fn search(
///     /// Words to look for.
///     query: String,
///     /// At most this many results.
///     #[serde(default)]
///     limit: Option<u32>,
///     ctx: &mango_rt::Context,
/// ) -> mango_rt::Result<Vec<Note>> {
///     ctx.info(format!("searching for {query}")).await;
///     find(&query, limit.unwrap_or(10)).await
/// }
/// ```
///
/// - The exposed name is `<prefix>_<fn name>`; `name = "…"` replaces the fn part, the
///   app's `[package.metadata.mango] prefix` replaces the prefix (the app's name by
///   default, `""` for none).
/// - Parameters taken by value are the tool's JSON arguments (`serde` + `schemars`: doc
///   comments, `#[serde(…)]` and `#[schemars(…)]` on a parameter go to its schema;
///   `Option<T>` is optional). Parameters taken by reference are injected:
///   `&Context`, an app's `&Settings`, or `&mut Db`, the call's database connection.
/// - `&mut Db` is checked out of the pool when the tool is called, in a transaction that
///   is committed when the call succeeds and rolled back when it fails (an `Err`, a
///   panic, a middleware that refuses, a timeout). `atomic = false` gives the
///   connection without a transaction (each statement commits on its own); `read_only`
///   also tells SQLite that the transaction does not write, so it never waits for
///   writers.
/// - The return value is shown as its type's traits say, never by its name:
///   `mango_rt::IntoOutput` (`()` no content, `String` text, `Content`/`Vec<Content>`
///   blocks, `Rich<T>`, `Json<T>`, or an app's own impl) first; else a `Serialize +
///   JsonSchema` value gives `structuredContent` and an `outputSchema`. `Result<T, E>`
///   (`E: Display`) gives `isError: true` with the error's message on `Err`.
/// - A parameter of an injected type written by value (`ctx: Context`) is a compile
///   error that says to take it by reference; a repeated option is an error; on an
///   error the function itself is kept, so its callers report nothing more.
/// - Options: `name`, `description`, `title`, `read_only`, `destructive`,
///   `idempotent`, `open_world` (flags, or `= bool`: MCP's annotations), `atomic =
///   false`, `scopes = ["notes:write"]` (the OAuth scopes a caller needs), `task` (or
///   `task = "optional" | "required"`: the call may be answered with a task handle of
///   MCP's tasks extension), `crate = path` (default `::mango_rt`).
#[proc_macro_attribute]
pub fn tool(args: TokenStream, input: TokenStream) -> TokenStream {
    let input: proc_macro2::TokenStream = input.into();
    util::or_keep(&input, tool::expand(args.into(), input.clone())).into()
}

/// Registers an `async fn` (or a plain `fn`) as a background job of its app, run by the
/// workers (`[jobs] workers` in `serve`, or `run worker`) from mango's `mango_jobs`
/// table, and generates a module of the same name whose `job(…)` makes one to enqueue.
///
/// ```
/// use mango_rt::db::Db;
///
/// /// Sends the welcome message (runs after the signup committed).
/// #[mango_rt::job(idempotent, max_attempts = 5, timeout = 60)]
/// async fn send_welcome(user: String, db: &mut Db) -> mango_rt::Result<()> {
///     # let _ = (user, db);
///     Ok(())
/// }
///
/// #[mango_rt::tool]
/// async fn signup(user: String, db: &mut Db) -> mango_rt::Result<String> {
///     // In the call's transaction: the job exists if and only if the call commits.
///     send_welcome::job(user.clone()).enqueue(db).await?;
///     Ok(format!("welcome, {user}"))
/// }
/// ```
///
/// - Parameters taken by value are the job's arguments, stored as JSON (`Serialize` to
///   enqueue, `Deserialize` to run); parameters taken by reference are injected as in a
///   tool (`&mut Db` in the run's own transaction, `&Context`, an app's `&Settings`).
/// - A run goes through the middleware chain like a call, and is marked completed in
///   its own transaction. An `Err` (or a panic, or its time running out) is a failed
///   attempt: it runs again after `[jobs] backoff` seconds, doubled each time, until
///   its attempts are spent.
/// - Options: `idempotent` (a run cut off, by a killed worker or a shutdown, runs
///   again only when it is; otherwise it is marked failed, saying why), `max_attempts =
///   N`, `timeout = seconds`, `atomic = false`, `name = "…"`, `crate = path`.
#[proc_macro_attribute]
pub fn job(args: TokenStream, input: TokenStream) -> TokenStream {
    let input: proc_macro2::TokenStream = input.into();
    util::or_keep(&input, job::expand(args.into(), input.clone())).into()
}

/// Registers an `async fn` (or a plain `fn`) as an MCP resource of its app: a static
/// one, or a resource template when its URI has variables (RFC 6570 `{name}`, or
/// `{+name}` for a value that may hold `/`).
///
/// ```
/// # use mango_rt::db::Db;
/// # #[mango_rt::data] struct Note { text: String }
/// # async fn newest(_: &mut Db, _: i64) -> mango_rt::Result<Vec<Note>> { Ok(Vec::new()) }
/// /// The ten most recent notes. (The doc comment is the resource's description.)
/// #[mango_rt::resource("notes://recent", mime_type = "application/json")]
/// async fn recent(db: &mut Db) -> mango_rt::Result<Vec<Note>> {
///     newest(db, 10).await
/// }
///
/// /// One note, by id.
/// #[mango_rt::resource("notes://{id}")]
/// async fn note(id: i64, db: &mut Db) -> mango_rt::Result<String> {
///     let found = newest(db, 1000).await?;
///     let text = found.into_iter().nth(id as usize).map(|n| n.text);
///     text.ok_or_else(|| mango_rt::ToolError::new(format!("no note {id}")))
/// }
/// ```
///
/// - The URI is written as it is served: an app's URIs usually start with a scheme of
///   its own (`notes://`). Two resources that claim one URI, or two templates that can
///   match one URI, stop the server at start-up, naming both.
/// - Parameters taken by value are the template's variables, parsed from the URI with
///   `FromStr` (`id: i64`; a bad value is an error naming it); parameters taken by
///   reference are injected as for tools. The database connection is in a read-only
///   transaction.
/// - The result (by its traits, as for tools): `String` is text (`text/plain` unless
///   `mime_type` says otherwise), `Vec<u8>` a blob (sent base64), any other
///   `Serialize` value its JSON
///   (`application/json`), `Vec<Content>` of embedded resources several contents;
///   `Err` and panics are errors the client gets.
/// - Options: `name` (default: the fn's name), `title`, `description`, `mime_type`,
///   `crate = path`.
#[proc_macro_attribute]
pub fn resource(args: TokenStream, input: TokenStream) -> TokenStream {
    let input: proc_macro2::TokenStream = input.into();
    util::or_keep(&input, resource::expand(args.into(), input.clone())).into()
}

/// Registers an `async fn` (or a plain `fn`) as an MCP prompt of its app.
///
/// ```
/// use mango_rt::Message;
/// # use mango_rt::db::Db;
/// # async fn notes_about(_: &str, _: &mut Db) -> mango_rt::Result<Vec<String>> { Ok(Vec::new()) }
///
/// /// Ask for a summary of the notes on a topic. (The doc comment is its description.)
/// #[mango_rt::prompt(title = "Summarize notes")]
/// async fn summarize(
///     /// What the notes are about.
///     topic: String,
///     /// How many words, at most.
///     words: Option<u32>,
///     db: &mut Db,
/// ) -> mango_rt::Result<Vec<Message>> {
///     let notes = notes_about(&topic, db).await?.join("\n- ");
///     let words = words.unwrap_or(100);
///     Ok(vec![Message::user(format!("In {words} words, summarize:\n- {notes}"))])
/// }
/// ```
///
/// - The exposed name follows the tools' rule: `<prefix>_<name>`.
/// - Parameters taken by value are the prompt's arguments (MCP sends them as text;
///   they are parsed with `FromStr`), required unless `Option<T>`, described by their
///   doc comments. A missing required argument, an unknown one, or one that does not
///   parse is an error naming it. Parameters taken by reference are injected as for
///   tools (the database connection in a read-only transaction).
/// - The result: `String` is one user message; `Message` or `Vec<Message>` are the
///   messages (`Message::user(…)`, `Message::assistant(…)`, with any `Content`: text,
///   images, embedded resources).
/// - Options: `name`, `title`, `description`, `crate = path`.
#[proc_macro_attribute]
pub fn prompt(args: TokenStream, input: TokenStream) -> TokenStream {
    let input: proc_macro2::TokenStream = input.into();
    util::or_keep(&input, prompt::expand(args.into(), input.clone())).into()
}

/// Marks a fn that completes an argument of a prompt, or a variable of a resource
/// template, for `completion/complete`. The item names it:
/// `#[prompt(complete(topic = topics))]`, `#[resource("notes://{id}", complete(id = ids))]`.
///
/// ```
/// # use mango_rt::db::Db;
/// # async fn all_topics(_: &mut Db) -> mango_rt::Result<Vec<String>> { Ok(Vec::new()) }
/// /// The topics of the notes that start with what was typed.
/// #[mango_rt::completion]
/// async fn topics(value: String, db: &mut Db) -> mango_rt::Result<Vec<String>> {
///     let mut topics = all_topics(db).await?;
///     topics.retain(|t| t.starts_with(&value));
///     Ok(topics)
/// }
/// ```
///
/// It takes, by value, any of `value: String` (what was typed so far), `argument:
/// String` (which argument is completed) and `context: HashMap<String, String>` (the
/// item's other arguments, as given so far), and by reference the injected values of
/// tools (`&mut Db` in a read-only transaction). It returns the values (`Vec<String>`,
/// at most 100 are sent; the total says how many there were). Options: `crate = path`.
#[proc_macro_attribute]
pub fn completion(args: TokenStream, input: TokenStream) -> TokenStream {
    let input: proc_macro2::TokenStream = input.into();
    util::or_keep(&input, completion::expand(args.into(), input.clone())).into()
}

/// Registers an `async fn` (or a plain `fn`) as a management command of its app, run
/// with `cargo mango run <name>` (or `./<binary> run <name>` once deployed).
///
/// ```
/// # async fn lines(_: &mut mango_rt::db::Db, _: i64, _: bool) -> mango_rt::Result<String> { Ok(String::new()) }
/// /// Export every note as JSON lines on stdout. (The doc comment is the help text.)
/// #[mango_rt::command]
/// async fn export(
///     /// Only notes with an id above this.
///     since: Option<i64>,          // an option: --since <SINCE>
///     /// Pretty-print.
///     pretty: bool,                // a flag: --pretty
///     db: &mut mango_rt::db::Db,   // injected, as for tools
/// ) -> mango_rt::Result<String> {
///     lines(db, since.unwrap_or(0), pretty).await
/// }
/// ```
///
/// - Arguments are parsed by clap: a parameter taken by value is a positional
///   argument, except `bool` (a `--flag`) and `Option<T>` (an `--option`); `#[arg(…)]`
///   on a parameter says otherwise, and `#[command(flatten)] args: MyArgs` takes a
///   `#[derive(clap::Args)]` struct (with `use mango_rt::clap;` in scope).
/// - Injected values are the tools' (`&Context`, `&Settings`, `&mut Db`); the database
///   connection is in a transaction unless `atomic = false`.
/// - The result: `()` prints nothing, `String` prints the text, other `Serialize` values
///   print as JSON; `Err` prints the error and exits 1 (the transaction rolled back).
/// - Options: `name = "…"`, `atomic = false`, `crate = path`.
#[proc_macro_attribute]
pub fn command(args: TokenStream, input: TokenStream) -> TokenStream {
    let input: proc_macro2::TokenStream = input.into();
    util::or_keep(&input, command::expand(args.into(), input.clone())).into()
}

/// Registers middleware, which runs around every call of an MCP client once
/// `Mango.toml` lists it (`middleware = ["<app>.<name>", …]`): an around-style
/// `async fn(req: &mut Request, next: Next) -> Response`, or a unit struct that
/// implements `mango_rt::Middleware` (`process_request` / `process_response` /
/// `list_tools`). `req.target` says what is called (kind, name, app). The name is the
/// fn's, or the struct's in snake case; `name = "…"` (letters, digits, `_`) says
/// otherwise.
#[proc_macro_attribute]
pub fn middleware(args: TokenStream, input: TokenStream) -> TokenStream {
    let input: proc_macro2::TokenStream = input.into();
    util::or_keep(&input, middleware::expand(args.into(), input.clone())).into()
}

/// Makes a struct or an enum a type tools can take and return: derives `Serialize`,
/// `Deserialize` and `JsonSchema` through mango's own serde and schemars, so an app
/// needs neither as a dependency nor the `#[serde(crate = …)]` lines.
///
/// ```
/// /// A note, as the tools return it.
/// #[mango_rt::data]
/// #[derive(Debug, Clone)]
/// struct Note {
///     id: i64,
///     /// The note's text (doc comments describe the field in the schema).
///     text: String,
///     #[serde(default)]
///     tags: Vec<String>,
/// }
/// ```
///
/// `#[serde(…)]` and `#[schemars(…)]` on the type and its fields work as usual. Do not
/// derive the three again. Options: `crate = path`.
#[proc_macro_attribute]
pub fn data(args: TokenStream, input: TokenStream) -> TokenStream {
    data::expand(args.into(), input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Serves a Diesel model's table as tools (django-mcp-server's `ModelQueryToolset`):
/// `<name>_query` finds rows (typed filters on each field, an order, pages with a
/// cursor, a count) and `<name>_get` reads one by its key; with `write`, create, update
/// and delete too. They are tools of the app like any other, through the one pipeline
/// (middleware, the call's transaction, the audit log), and need the scope
/// `<table>:read` (writes `<table>:write`) when the server checks scopes.
///
/// ```
/// diesel::table! {
///     notes (id) {
///         id -> BigInt,
///         text -> Text,
///         author -> Nullable<Text>,
///         secret -> Text,
///     }
/// }
///
/// /// A note.
/// #[mango_rt::model]
/// #[derive(diesel::Queryable, diesel::Selectable)]
/// #[diesel(table_name = notes)]
/// struct Note {
///     id: i64,
///     /// What the note says (doc comments describe the field in the schemas).
///     text: String,
///     author: Option<String>,
///     /// Never shown, never filtered on.
///     #[model(hidden)]
///     secret: String,
/// }
/// ```
///
/// - A client filters with conditions per field, all of which must hold:
///   `{"filter": {"text": {"icontains": "milk"}, "id": {"gt": 10}}, "order": "-id",
///   "limit": 20}`. Text fields take `eq`, `ne`, `in`, `contains`, `icontains` and
///   `starts_with`; the others `eq`, `ne`, `lt`, `lte`, `gt`, `gte` and `in`; a field
///   that may be null (`Option<T>`) also `is_null`. Any other key, or a value of the
///   wrong type, is an error naming it.
/// - `order` is a field that is never null, `-field` for largest first (the key breaks
///   ties); a page holds `limit` rows (`[models] default_limit`, at most `max_limit`),
///   and `next_cursor` when more follow: the next call passes it as `cursor`, with the
///   same filter and order. Cursors are signed (with `[input] key` when set, so that
///   replicas share them).
/// - `scope = hook` narrows every query to the caller's rows (Django's
///   `get_queryset`): `fn hook(ctx: &Context) -> mango_rt::db::RowFilter<table>`, a
///   condition on the table (the caller is `ctx.identity()`). A row outside it is never
///   listed, counted or read: `get` says it is not there.
/// - Each row is also a resource, `<scheme>://<table>/{key}` (the scheme: the app's
///   package name, `_` made `-`, or `scheme = "…"`), read as JSON, whose key a client
///   completes from the table.
/// - Writes are off unless asked: `write` adds `<name>_create`, `<name>_update` and
///   `<name>_delete` (or `create`, `update`, `delete` one by one), which need
///   `<table>:write`. They take the fields that are neither the key, hidden nor
///   `#[model(read_only)]` (set by the database); an update changes only the fields
///   given (`null` clears an `Option`). `clean = hook` sees the whole row before it is
///   written, `fn hook(row: &mut Model, ctx: &Context) -> Result<(), ToolError>`
///   (Django's `Model.clean`): an error refuses the write, and what it changes is
///   written (a hidden owner, a normalized value). The database's constraints come back
///   as errors naming the field, a row that would leave the caller's `scope` is
///   refused, and every refusal rolls the call back. `confirm_delete` asks the user
///   (elicitation) before a delete.
/// - Options: `name = "…"` (the tools' names are `<name>_query`, `<name>_get` …; the
///   struct's name in snake case by default: `Note` gives `note_query`, exposed as
///   `<prefix>_note_query`), `scopes = ["…"]` and `write_scopes = ["…"]` (the OAuth
///   scopes, instead of `<table>:read` and `<table>:write`), `scope = hook`, `clean =
///   hook`, `write`, `create`, `update`, `delete`, `confirm_delete`, `scheme = "…"`,
///   `crate = path`. On a field: `#[model(hidden)]`, `#[model(key)]` (the primary key, when it is
///   not `id`); `#[diesel(column_name = …)]` is followed.
#[proc_macro_attribute]
pub fn model(args: TokenStream, input: TokenStream) -> TokenStream {
    let input: proc_macro2::TokenStream = input.into();
    match model::expand(args.into(), input.clone()) {
        Ok(expanded) => expanded.into(),
        Err(error) => model::kept(input, error).into(),
    }
}

/// An app's start-up hook (Django's `AppConfig.ready`): runs once per process, before
/// the server accepts calls and before a management command runs, in the apps'
/// dependency order, never per session or per call. What it returns is kept as app
/// state, which tools, resources, prompts, commands and later hooks take as
/// `&AppState<T>` (and middleware reads with `req.app_state::<T>()`).
///
/// ```
/// use mango_rt::{AppState, ToolError};
///
/// #[mango_rt::settings]
/// struct Settings {
///     url: String,
/// }
///
/// /// What the app keeps for every call (a client, a cache …).
/// struct Client {
///     base: String,
/// }
///
/// #[mango_rt::startup]
/// async fn connect(settings: &Settings) -> Result<Client, ToolError> {
///     Ok(Client { base: settings.url.clone() })
/// }
///
/// #[mango_rt::tool]
/// async fn fetch(path: String, client: &AppState<Client>) -> Result<String, ToolError> {
///     Ok(format!("{}/{path}", client.base))
/// }
/// ```
///
/// - Parameters are injected values only: the app's `&Settings`, `&mut Db` (in a
///   transaction committed when the hook succeeds), `&AppState<T>` of an earlier hook,
///   `&Context`.
/// - Returns `()`, a value to keep, or a `Result` of either: an `Err` (or a panic) stops
///   start-up with the app, the hook and the message; so does `startup_timeout` (30 s
///   for every hook together).
/// - `TestServer::new` runs them too. Options: `crate = path`.
#[proc_macro_attribute]
pub fn startup(args: TokenStream, input: TokenStream) -> TokenStream {
    let input: proc_macro2::TokenStream = input.into();
    util::or_keep(
        &input,
        hook::expand(hook::When::Startup, args.into(), input.clone()),
    )
    .into()
}

/// An app's shutdown hook: runs once, after the last call drained (or the command
/// ended), in the reverse dependency order, with the same injected values as a
/// [`macro@startup`] hook (so the state it built: `client: &AppState<Client>`). It
/// returns `()` or `Result<(), E>`; a failure is logged. Options: `crate = path`.
#[proc_macro_attribute]
pub fn shutdown(args: TokenStream, input: TokenStream) -> TokenStream {
    let input: proc_macro2::TokenStream = input.into();
    util::or_keep(
        &input,
        hook::expand(hook::When::Shutdown, args.into(), input.clone()),
    )
    .into()
}

/// Marks a struct as its app's settings: the `[<profile>.apps.<app>]` section of
/// `Mango.toml`, read and checked at start-up, then available to tools as a `&Settings`
/// parameter or through `Context::settings`.
///
/// ```
/// #[mango_rt::settings]
/// struct Settings {
///     /// How many notes a page holds.
///     #[serde(default = "twenty")]
///     page_size: u32,
/// }
///
/// fn twenty() -> u32 {
///     20
/// }
/// ```
///
/// The macro derives `Deserialize` (through mango's own serde, with
/// `deny_unknown_fields`): do not derive it again. Options: `crate = path`.
#[proc_macro_attribute]
pub fn settings(args: TokenStream, input: TokenStream) -> TokenStream {
    settings::expand(args.into(), input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
