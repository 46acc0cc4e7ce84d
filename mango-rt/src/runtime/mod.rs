//! The runtime: the registry and the settings made into what a server serves (the
//! shared [`State`], the table of tools, the middleware chain, the migrations), and the
//! calls into the pipeline.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use rmcp::model::{
    CallToolResult, CompleteResult, ErrorData, GetPromptResult, ReadResourceResult, Reference,
};

use crate::call::{Caller, Channel, Output};
use crate::chain::{Chain, ListHooks, ListItem, ListRequest, Listed, Request};
use crate::db::{Database, Migrator};
use crate::project::AppInfo;
use crate::registry::{
    MIDDLEWARE, MIGRATIONS, MiddlewareEntry, PROMPTS, RESOURCES, SETTINGS, TOOLS, ToolEntry,
};
use crate::settings::{AppSettings, Settings, SettingsError};
use crate::state::State;
use crate::util::did_you_mean;

mod completions;
mod error;
mod hooks;
mod jobs;
mod pages;
mod prompts;
mod resources;
mod rounds;
mod tasks;
mod tools;

pub(crate) use error::Kind as ErrorKind;
pub use error::StartError;
pub(crate) use pages::page;
pub(crate) use prompts::Prompts;
pub(crate) use resources::Resources;
use rounds::RoundKeeper;
pub(crate) use rounds::RoundRequest;
pub(crate) use tools::{ServedTool, Tools};

/// A running project: what its calls share, what it serves, and how.
/// A `#[model]` whose tools are served.
pub(crate) struct ServedModel {
    pub entry: &'static crate::registry::ModelEntry,
    /// Its operations (`query`, `get`, …) and the served names of their tools.
    pub tools: Vec<(String, &'static str)>,
}

impl ServedModel {
    /// The served name of the tool of `op` (`query`, `create` …), when it has one.
    pub fn tool(&self, op: &str) -> Option<&'static str> {
        self.tools
            .iter()
            .find(|(o, _)| o == op)
            .map(|(_, name)| *name)
    }

    /// The name the admin's pages go by: the query tool's, less `_query`.
    pub fn slug(&self) -> &'static str {
        let query = self.tool("query").unwrap_or_default();
        query.strip_suffix("_query").unwrap_or(query)
    }
}

pub(crate) struct Runtime {
    pub state: Arc<State>,
    pub tools: Tools,
    pub resources: Resources,
    pub prompts: Prompts,
    /// The active middleware, in the order `Mango.toml` lists it.
    pub middleware: Vec<&'static MiddlewareEntry>,
    /// Their steps, as the pipeline runs them.
    chain: Chain,
    list_hooks: Vec<ListHooks>,
    pub migrator: Migrator,
    /// The signing keys of 2026-07-28's round states, and the calls in rounds.
    rounds: RoundKeeper,
    project_name: String,
    project_version: String,
}

/// Every middleware: mango's built-ins first, then the apps'.
fn all_middleware() -> impl Iterator<Item = &'static MiddlewareEntry> {
    crate::builtin::MIDDLEWARE.iter().chain(MIDDLEWARE.iter())
}

/// The middleware `Mango.toml` lists, in its order; a name no app registers stops
/// start-up with the known names.
fn resolve_middleware(settings: &Settings) -> Result<Vec<&'static MiddlewareEntry>, StartError> {
    let mut chain = Vec::new();
    for name in &settings.middleware {
        match all_middleware().find(|m| &m.meta.qualified() == name) {
            Some(entry) => chain.push(entry),
            None => {
                let mut known: Vec<String> = all_middleware().map(|m| m.meta.qualified()).collect();
                known.sort();
                return Err(ErrorKind::UnknownMiddleware {
                    path: settings.display_path().display().to_string(),
                    name: name.clone(),
                    known: known.join(", "),
                }
                .into());
            }
        }
    }
    crate::builtin::check_settings(settings).map_err(ErrorKind::Auth)?;
    Ok(chain)
}

/// Reads every registered app settings type from its section, and checks that every
/// section belongs to an installed app that declares settings.
fn read_app_settings(
    settings: &Settings,
    installed: &[&str],
) -> Result<HashMap<TypeId, Arc<dyn Any + Send + Sync>>, SettingsError> {
    let path = settings.display_path();
    for app in settings.apps.keys() {
        if !installed.contains(&app.as_str()) {
            return Err(SettingsError::UnknownApp {
                path,
                profile: settings.profile.clone(),
                app: app.clone(),
                known: installed.join(", "),
            });
        }
        if !SETTINGS.iter().any(|e| e.meta.app == app) {
            return Err(SettingsError::AppHasNoSettings {
                path,
                profile: settings.profile.clone(),
                app: app.clone(),
            });
        }
    }
    let mut out = HashMap::new();
    for (i, entry) in SETTINGS.iter().enumerate() {
        let site = |e: &crate::registry::SettingsEntry| {
            format!("{} at {}", e.meta.name, e.meta.location())
        };
        if let Some(other) = SETTINGS
            .iter()
            .skip(i + 1)
            .find(|o| o.meta.app == entry.meta.app)
        {
            return Err(SettingsError::TwoSettingsTypes {
                app: entry.meta.app.to_owned(),
                first: site(entry),
                second: site(other),
            });
        }
        let section = settings
            .apps
            .get(entry.meta.app)
            .cloned()
            .unwrap_or_else(|| serde_json::Value::Object(Default::default()));
        let value = (entry.parse)(section).map_err(|e| {
            let key = e.path().to_string();
            let field = if key == "." {
                String::new()
            } else {
                format!(".{key}")
            };
            SettingsError::InvalidApp {
                path: path.clone(),
                key: format!("{}.apps.{}{field}", settings.profile, entry.meta.app),
                message: e.into_inner().to_string(),
                read_into: format!("`{}` at {}", entry.meta.name, entry.meta.location()),
            }
        })?;
        out.insert((entry.type_id)(), value);
    }
    Ok(out)
}

impl Runtime {
    /// Builds the runtime from the linked registry. `apps` are the installed apps (from
    /// the generated binary); apps of linked tools missing from it get their package
    /// name as prefix.
    pub fn new(
        settings: Settings,
        apps: &[AppInfo],
        project_name: &str,
        project_version: &str,
    ) -> Result<Runtime, StartError> {
        Self::with_tools(settings, apps, project_name, project_version, TOOLS.iter())
    }

    /// [`Runtime::new`] with the given tools instead of the linked ones.
    pub fn with_tools(
        settings: Settings,
        apps: &[AppInfo],
        project_name: &str,
        project_version: &str,
        tools: impl Iterator<Item = &'static ToolEntry>,
    ) -> Result<Runtime, StartError> {
        let mut apps: Vec<AppInfo> = apps.to_vec();
        let tools = Tools::new(tools, &mut apps)?;
        let resources = Resources::new(RESOURCES.iter())?;
        let prompts = Prompts::new(PROMPTS.iter(), &mut apps)?;
        apps.sort_by(|a, b| a.name.cmp(b.name));
        let installed: Vec<&str> = apps.iter().map(|a| a.name).collect();
        let app_settings = read_app_settings(&settings, &installed)?;
        let database = Database::new(&settings.database, &settings.root())?;
        let middleware = resolve_middleware(&settings)?;
        let rounds = RoundKeeper::new(
            &settings.input,
            &settings.display_path().display().to_string(),
            &database,
        )?;
        let chain: Chain = middleware.iter().map(|m| m.around).collect();
        let list_hooks = middleware.iter().filter_map(|m| m.list).collect();
        let mut sources: Vec<(&'static str, &'static diesel_migrations::EmbeddedMigrations)> =
            MIGRATIONS
                .iter()
                .map(|m| (m.meta.app, m.migrations))
                .collect();
        // mango's own tables: on PostgreSQL the rounds' ledger replicas share; the
        // audit log, when it is on.
        #[cfg(feature = "postgres")]
        sources.push((crate::registry::BUILTIN_APP, &self::rounds::MIGRATIONS));
        if settings.auth.users {
            sources.push((
                crate::registry::BUILTIN_APP,
                &crate::builtin::users::MIGRATIONS,
            ));
        }
        if Runtime::has_jobs() {
            sources.push((crate::registry::BUILTIN_APP, &crate::jobs::MIGRATIONS));
        }
        if tools.has_task_tools() {
            sources.push((crate::registry::BUILTIN_APP, &crate::tasks::MIGRATIONS));
        }
        if crate::builtin::Builtin::Audit.listed(&settings) {
            sources.push((
                crate::registry::BUILTIN_APP,
                &crate::builtin::audit::MIGRATIONS,
            ));
        }
        let migrator = Migrator {
            apps: apps.clone(),
            sources,
        };
        let mut state = State::new(settings, apps, app_settings, database);
        if state.settings.metrics.enabled {
            state.metrics = Some(Arc::new(metrics_for(
                &tools,
                &resources,
                &prompts,
                project_name,
                project_version,
            )));
        }
        Ok(Runtime {
            state: Arc::new(state),
            tools,
            resources,
            prompts,
            middleware,
            chain,
            list_hooks,
            migrator,
            rounds,
            project_name: project_name.into(),
            project_version: project_version.into(),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    pub fn apps(&self) -> &[AppInfo] {
        &self.state.apps
    }

    pub fn database(&self) -> &Database {
        &self.state.database
    }

    /// The `#[model]`s whose tools are served (their apps' installed), with the served
    /// names of their tools, in the order of the apps, then of their tables.
    pub(crate) fn models(&self) -> Vec<ServedModel> {
        let mut models: Vec<ServedModel> = crate::registry::MODELS
            .iter()
            .filter_map(|entry| {
                let tools: Vec<(String, &'static str)> = entry
                    .tools()
                    .into_iter()
                    .filter_map(|own| {
                        let served =
                            self.tools.list.iter().find(|t| {
                                t.target.app == entry.meta.app && t.entry.meta.name == own
                            })?;
                        let op = own.rsplit('_').next().unwrap_or_default().to_owned();
                        Some((op, served.name()))
                    })
                    .collect();
                tools
                    .iter()
                    .any(|(op, _)| op == "query")
                    .then_some(ServedModel { entry, tools })
            })
            .collect();
        let rank = |app: &str| self.apps().iter().position(|a| a.name == app);
        models.sort_by(|a, b| {
            (rank(a.entry.meta.app), a.entry.table).cmp(&(rank(b.entry.meta.app), b.entry.table))
        });
        models
    }

    /// Whether a middleware of an app is listed: only those read the caller's client and
    /// headers (the built-ins read its transport, identity and address), so without one
    /// the MCP handler does not copy them.
    pub fn reads_whole_caller(&self) -> bool {
        self.middleware
            .iter()
            .any(|m| m.meta.app != crate::registry::BUILTIN_APP)
    }

    /// The server's name and version as `initialize` reports them.
    pub fn server_info(&self) -> (String, String) {
        let s = &self.settings().server;
        (
            s.name.clone().unwrap_or_else(|| self.project_name.clone()),
            s.version
                .clone()
                .unwrap_or_else(|| self.project_version.clone()),
        )
    }

    /// A call of an item through the pipeline: the settings' middleware, `endpoint`, the
    /// end of the call's transaction.
    async fn through_chain(
        &self,
        target: crate::call::Target,
        endpoint: &Arc<dyn crate::chain::Endpoint>,
        arguments: serde_json::Map<String, serde_json::Value>,
        caller: Caller,
        channel: Channel,
        mode: crate::db::DbMode,
    ) -> Output {
        let req = Request::new(self.state.clone(), target, arguments, caller, channel, mode);
        let Some(metrics) = &self.state.metrics else {
            let output = crate::chain::run(&self.chain, endpoint, req).await;
            self.state.stats.count(matches!(output, Output::Error(_)));
            return output;
        };
        let started = metrics.start(target.kind.as_str(), target.app, target.name);
        let output = crate::chain::run(&self.chain, endpoint, req).await;
        started.end(output.is_error());
        self.state.stats.count(matches!(output, Output::Error(_)));
        output
    }

    /// Calls a tool by its exposed name through the pipeline; `None` when there is no
    /// such tool.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
        caller: Caller,
        channel: Channel,
    ) -> Option<CallToolResult> {
        let served = self.tools.get(name)?;
        if let Some(why) = self.refusal(&caller, served.entry.scopes) {
            return Some(Output::Error(format!("`{name}`: {why}")).into_call_tool_result(false));
        }
        let output = self.run_tool(served, arguments, caller, channel).await;
        Some(output.into_call_tool_result(served.wrap))
    }

    /// One run of a tool through the pipeline (a failure is logged).
    async fn run_tool(
        &self,
        served: &ServedTool,
        arguments: serde_json::Map<String, serde_json::Value>,
        caller: Caller,
        channel: Channel,
    ) -> Output {
        let output = self
            .through_chain(
                served.target,
                &served.endpoint,
                arguments,
                caller,
                channel,
                served.db_mode,
            )
            .await;
        if let Output::Error(message) = &output {
            let error = crate::util::clip(message, self.settings().log_max_bytes);
            tracing::info!(tool = served.name(), %error, "tool call failed");
        }
        output
    }

    /// Reads the resource `uri` names through the pipeline. An unknown URI, a template
    /// variable that does not parse, and a failed read are protocol errors (resources
    /// have no error results): -32602 for the first two, -32603 for the last.
    pub async fn read_resource(
        &self,
        uri: &str,
        caller: Caller,
        channel: Channel,
    ) -> Result<ReadResourceResult, ErrorData> {
        let Some((served, vars)) = self.resources.find(uri) else {
            let suggestion = did_you_mean(uri, self.resources.uris().map(str::to_owned));
            return Err(ErrorData::invalid_params(
                format!(
                    "no resource has the URI `{uri}`{suggestion} (resources/list and resources/templates/list give them)"
                ),
                None,
            ));
        };
        if let Some(why) = self.refusal(&caller, served.entry.scopes) {
            return Err(ErrorData::invalid_request(format!("`{uri}`: {why}"), None));
        }
        let arguments = vars
            .into_iter()
            .map(|(name, value)| (name, serde_json::Value::String(value)))
            .collect();
        let output = self
            .through_chain(
                served.target,
                &served.endpoint,
                arguments,
                caller,
                channel,
                served.db_mode(),
            )
            .await;
        served
            .contents(uri, output)
            .map(ReadResourceResult::new)
            .map_err(|failed| {
                failure(
                    &format!("reading {uri}"),
                    failed,
                    self.settings().log_max_bytes,
                )
            })
    }

    /// Gets the prompt `name` with `arguments` through the pipeline. An unknown prompt,
    /// a missing or unknown argument, or one that does not parse are -32602; a failed
    /// get is -32603.
    pub async fn get_prompt(
        &self,
        name: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
        caller: Caller,
        channel: Channel,
    ) -> Result<GetPromptResult, ErrorData> {
        let Some(served) = self.prompts.get(name) else {
            let suggestion = did_you_mean(
                name,
                self.prompts.list.iter().map(|p| p.target.name.to_owned()),
            );
            return Err(ErrorData::invalid_params(
                format!("unknown prompt `{name}`{suggestion} (prompts/list gives every prompt)"),
                None,
            ));
        };
        if let Some(why) = self.refusal(&caller, served.entry.scopes) {
            return Err(ErrorData::invalid_request(
                format!("the prompt `{name}`: {why}"),
                None,
            ));
        }
        served
            .check(&arguments)
            .map_err(|why| ErrorData::invalid_params(why.to_string(), None))?;
        let output = self
            .through_chain(
                served.target,
                &served.endpoint,
                arguments,
                caller,
                channel,
                served.db_mode(),
            )
            .await;
        let mut result = GetPromptResult::new(served.messages(output).map_err(|failed| {
            failure(
                &format!("the prompt `{name}`"),
                failed,
                self.settings().log_max_bytes,
            )
        })?);
        if !served.entry.description.is_empty() {
            result = result.with_description(served.entry.description);
        }
        Ok(result)
    }

    /// Completes an argument of a prompt or a variable of a resource template with the
    /// `#[completion]` fn the item names for it (none: no values). An unknown item or
    /// argument is -32602.
    pub async fn complete(
        &self,
        reference: &Reference,
        argument: &str,
        value: &str,
        context: std::collections::HashMap<String, String>,
        caller: Caller,
        channel: Channel,
    ) -> Result<CompleteResult, ErrorData> {
        let refuse = |message: String| Err(ErrorData::invalid_params(message, None));
        let (target, endpoint) = match reference {
            Reference::Prompt(p) => {
                let Some(served) = self.prompts.get(&p.name) else {
                    return refuse(format!(
                        "unknown prompt `{}` (prompts/list gives every prompt)",
                        p.name
                    ));
                };
                if !served.entry.arguments.iter().any(|a| a.name == argument) {
                    let known: Vec<&str> = served.entry.arguments.iter().map(|a| a.name).collect();
                    return refuse(format!(
                        "the prompt `{}` has no argument `{argument}`; it takes: {}",
                        p.name,
                        known.join(", ")
                    ));
                }
                if let Some(why) = self.refusal(&caller, served.entry.scopes) {
                    return Err(ErrorData::invalid_request(
                        format!("the prompt `{}`: {why}", p.name),
                        None,
                    ));
                }
                (served.target, served.completions.get(argument))
            }
            Reference::Resource(r) => {
                let Some(served) = self.resources.template(&r.uri) else {
                    return refuse(format!(
                        "no resource template `{}` (resources/templates/list gives them)",
                        r.uri
                    ));
                };
                if !Resources::has_variable(served, argument) {
                    return refuse(format!(
                        "the resource template `{}` has no variable `{argument}`",
                        r.uri
                    ));
                }
                if let Some(why) = self.refusal(&caller, served.entry.scopes) {
                    return Err(ErrorData::invalid_request(
                        format!("`{}`: {why}", r.uri),
                        None,
                    ));
                }
                (served.target, served.completions.get(argument))
            }
            other => {
                return refuse(format!(
                    "completions are for prompts and resource templates, not `{}`",
                    other.reference_type()
                ));
            }
        };
        let Some(endpoint) = endpoint else {
            return Ok(completions::none());
        };
        let target = crate::call::Target {
            kind: crate::call::Kind::Completion,
            ..target
        };
        let arguments = completions::arguments(argument, value, context);
        let output = self
            .through_chain(
                target,
                endpoint,
                arguments,
                caller,
                channel,
                crate::db::DbMode::READS,
            )
            .await;
        completions::result(output).map_err(|failed| {
            failure(
                &format!("completing `{argument}` of `{}`", target.name),
                failed,
                self.settings().log_max_bytes,
            )
        })
    }

    /// Whether any prompt or template completes an argument.
    pub fn completes(&self) -> bool {
        self.prompts.complete_any() || self.resources.complete_any()
    }

    /// `items` as a client is given them: as the middleware's `pick`ed list hooks
    /// change them, in the settings' order (none: as they are).
    ///
    /// Items whose scopes (`scopes`, one per item) the caller lacks are left out first.
    pub async fn listed<T: ListItem>(
        &self,
        items: &[T],
        scopes: &[&'static [&'static str]],
        req: Option<&ListRequest>,
        pick: fn(&ListHooks) -> crate::chain::ListHook,
    ) -> Vec<T> {
        let items: Vec<T> = match req {
            Some(req) if self.any_scoped() => items
                .iter()
                .zip(scopes)
                .filter(|(_, needed)| self.refusal(&req.caller, needed).is_none())
                .map(|(item, _)| item.clone())
                .collect(),
            _ => items.to_vec(),
        };
        let Some(req) = req.filter(|_| !self.list_hooks.is_empty()) else {
            return items;
        };
        let mut listed: Vec<Listed> = items.into_iter().map(T::listed).collect();
        for hooks in &self.list_hooks {
            pick(hooks)(req, &mut listed).await;
        }
        listed.into_iter().filter_map(T::unlisted).collect()
    }

    /// Whether any middleware changes the lists.
    pub fn has_list_hooks(&self) -> bool {
        !self.list_hooks.is_empty()
    }

    /// Whether any item needs a scope (lists then depend on the caller).
    pub fn any_scoped(&self) -> bool {
        self.tools
            .listed_scopes
            .iter()
            .chain(&self.prompts.listed_scopes)
            .chain(&self.resources.listed_scopes)
            .chain(&self.resources.listed_template_scopes)
            .any(|s| !s.is_empty())
    }

    /// Every scope an item declares, sorted, once each: `scopes_supported`.
    pub fn declared_scopes(&self) -> Vec<&'static str> {
        let mut all: Vec<&'static str> = self
            .tools
            .listed_scopes
            .iter()
            .chain(&self.prompts.listed_scopes)
            .chain(&self.resources.listed_scopes)
            .chain(&self.resources.listed_template_scopes)
            .flat_map(|s| s.iter().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The scopes the JSON-RPC request `method` of the item `name` (a tool's or prompt's
    /// name, a resource's URI) needs; none for other methods and unknown items (those
    /// fail on their own).
    pub fn needed_scopes(&self, method: &str, name: &str) -> &'static [&'static str] {
        match method {
            "tools/call" => self.tools.get(name).map(|t| t.entry.scopes),
            "prompts/get" => self.prompts.get(name).map(|p| p.entry.scopes),
            "resources/read" | "resources/subscribe" => {
                self.resources.find(name).map(|(r, _)| r.entry.scopes)
            }
            _ => None,
        }
        .unwrap_or(&[])
    }

    /// Why `caller` may not use an item that needs `needed` (none: it may).
    pub fn refusal(&self, caller: &Caller, needed: &[&str]) -> Option<String> {
        caller.refusal(needed, self.settings().auth.stdio)
    }

    /// The error for a name no tool has, with the closest names.
    pub fn unknown_tool(&self, name: &str) -> String {
        let suggestion = did_you_mean(name, self.tools.list.iter().map(|t| t.name().to_owned()));
        format!("unknown tool `{name}`{suggestion} (tools/list gives every tool)")
    }
}

/// The protocol error for an item (`what`: a URI, "the prompt `x`") whose call failed:
/// -32602 when the request was not valid, -32603 otherwise (resources and prompts have
/// no error results).
fn failure(what: &str, failed: Output, log_max_bytes: usize) -> ErrorData {
    match failed {
        Output::Invalid(message) => ErrorData::invalid_params(format!("{what}: {message}"), None),
        other => {
            let message = match other {
                Output::Error(message) => message,
                other => format!("{other:?}"),
            };
            let error = crate::util::clip(&message, log_max_bytes);
            tracing::info!(item = what, %error, "call failed");
            ErrorData::internal_error(format!("{what} failed: {message}"), None)
        }
    }
}

/// The servers running in this process (usually one; tests may run several), for the
/// code outside calls that has no `Context` to name its own. Each is held weakly: a
/// server that stopped drops out.
static SERVERS: std::sync::Mutex<Vec<std::sync::Weak<State>>> = std::sync::Mutex::new(Vec::new());

/// The running servers, newest last.
fn servers() -> Vec<Arc<State>> {
    let mut servers = SERVERS.lock().unwrap_or_else(|p| p.into_inner());
    servers.retain(|s| s.strong_count() > 0);
    servers
        .iter()
        .filter_map(std::sync::Weak::upgrade)
        .collect()
}

/// Counts `runtime`'s server among the process's running servers (those that
/// [`resource_changed`] and [`app_settings`] reach), until its state is dropped.
pub(crate) fn register(runtime: &Runtime) {
    let mut servers = SERVERS.lock().unwrap_or_else(|p| p.into_inner());
    servers.retain(|s| s.strong_count() > 0);
    servers.push(Arc::downgrade(&runtime.state));
}

/// Says that the resource at `uri` changed, for code outside calls (a background task,
/// a start-up hook, a management command): every client subscribed to it hears of it
/// now (`notifications/resources/updated`), on every server this process runs, and on
/// PostgreSQL on every replica of the project (through `NOTIFY`). A tool says it with
/// [`Context::resource_changed`](crate::Context::resource_changed), which waits for the
/// call's work to be committed. On SQLite a process that serves nothing (a management
/// command) has nobody to tell: it does nothing.
pub async fn resource_changed(uri: impl Into<String>) {
    let uri = uri.into();
    for state in servers() {
        state.resources_changed(vec![uri.clone()]).await;
    }
}

/// An app's typed settings, for code outside calls (a tool takes them from its
/// [`Context`](crate::Context), or as a `&T` parameter; a hook as a `&T` parameter).
/// With several servers in one process (tests), the newest one's.
pub fn app_settings<T: AppSettings>() -> Result<Arc<T>, StartError> {
    match servers().pop() {
        Some(state) => Ok(state.app_settings::<T>()?),
        None => Err(SettingsError::NotRegistered(std::any::type_name::<T>()).into()),
    }
}

/// `[metrics]`' counters for every item a call may reach: the tools, resources and
/// prompts, the completions of those that have them, and the jobs.
fn metrics_for(
    tools: &Tools,
    resources: &Resources,
    prompts: &Prompts,
    project: &str,
    version: &str,
) -> crate::metrics::Metrics {
    use crate::call::{Kind, Target};
    let completion = |t: Target| (Kind::Completion.as_str(), t.name, t.app);
    let of = |t: Target| (t.kind.as_str(), t.name, t.app);
    let mut items: Vec<(&'static str, &'static str, &'static str)> = Vec::new();
    items.extend(tools.list.iter().map(|t| of(t.target)));
    for r in resources.served() {
        items.push(of(r.target));
        if !r.completions.is_empty() {
            items.push(completion(r.target));
        }
    }
    for p in &prompts.list {
        items.push(of(p.target));
        if !p.completions.is_empty() {
            items.push(completion(p.target));
        }
    }
    items.extend(jobs::targets().map(of));
    crate::metrics::Metrics::new(
        items,
        crate::metrics::Build {
            project: project.to_owned(),
            version: version.to_owned(),
        },
    )
}
