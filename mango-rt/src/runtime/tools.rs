//! The table of tools: every `#[tool]` entry with its exposed name, its MCP description
//! and its endpoint.

use std::collections::HashMap;
use std::sync::Arc;

use rmcp::model::{Tool, ToolAnnotations};

use super::error::{Kind, StartError};
use crate::call::{BoxFuture, Call, Kind as ItemKind, Output, Target};
use crate::chain::{Endpoint, Request};
use crate::db::DbMode;
use crate::project::AppInfo;
use crate::registry::{EntryMeta, ToolEntry};
use crate::schema::{is_object_schema, wrap_schema};

/// A tool as served.
pub(crate) struct ServedTool {
    pub entry: &'static ToolEntry,
    pub target: Target,
    /// Its MCP description, as `tools/list` gives it.
    pub tool: Tool,
    /// Whether JSON results are wrapped as `{"result": …}`.
    pub wrap: bool,
    pub db_mode: DbMode,
    pub endpoint: Arc<dyn Endpoint>,
}

impl ServedTool {
    /// `<prefix>_<name>`.
    pub fn name(&self) -> &'static str {
        self.target.name
    }
}

/// The end of a tool's chain: its generated call, given the request's arguments,
/// context and database slot.
struct ToolEndpoint(fn(Call) -> BoxFuture<Output>);

impl Endpoint for ToolEndpoint {
    fn start(&self, req: &mut Request) -> BoxFuture<Output> {
        (self.0)(req.take_call())
    }

    fn what(&self) -> &'static str {
        "tool"
    }
}

/// Every tool, sorted by exposed name.
pub(crate) struct Tools {
    pub list: Vec<ServedTool>,
    by_name: HashMap<&'static str, usize>,
    /// What `tools/list` gives when no middleware changes it.
    pub listed: Vec<Tool>,
    /// The scopes each of `listed` needs.
    pub listed_scopes: Vec<&'static [&'static str]>,
    /// Whether a tool may run as a task (`#[tool(task)]`): known once, so that a call
    /// of a project without task tools looks for no task mode.
    any_task: bool,
}

impl Tools {
    pub fn get(&self, name: &str) -> Option<&ServedTool> {
        self.by_name.get(name).map(|&i| &self.list[i])
    }

    /// Whether a tool may run as a task (`#[tool(task)]`).
    pub fn has_task_tools(&self) -> bool {
        self.any_task
    }

    /// Builds the table; `apps` gains an entry (its package name as prefix) for the app
    /// of a linked tool that is not installed.
    pub fn new(
        entries: impl Iterator<Item = &'static ToolEntry>,
        apps: &mut Vec<AppInfo>,
    ) -> Result<Tools, StartError> {
        let mut list: Vec<ServedTool> = Vec::new();
        for entry in entries {
            let name = exposed_name("tool", &entry.meta, apps)?;
            let (tool, wrap) = describe(entry, name);
            list.push(ServedTool {
                entry,
                target: Target {
                    kind: ItemKind::Tool,
                    name,
                    app: entry.meta.app,
                },
                tool,
                wrap,
                db_mode: DbMode {
                    atomic: entry.atomic,
                    read_only: entry.annotations.read_only == Some(true),
                    enforce_read_only: false,
                },
                endpoint: Arc::new(ToolEndpoint(entry.call)),
            });
        }
        list.sort_by(|a, b| {
            a.name()
                .cmp(b.name())
                .then(a.entry.meta.file.cmp(b.entry.meta.file))
        });
        for pair in list.windows(2) {
            if pair[0].name() == pair[1].name() {
                return Err(Kind::DuplicateName {
                    what: "tool",
                    name: pair[0].name().into(),
                    first: pair[0].entry.meta.site(),
                    second: pair[1].entry.meta.site(),
                }
                .into());
            }
        }
        let by_name = list
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name(), i))
            .collect();
        let listed = list.iter().map(|t| t.tool.clone()).collect();
        let listed_scopes = list.iter().map(|t| t.entry.scopes).collect();
        let any_task = list
            .iter()
            .any(|t| t.entry.task != crate::registry::TaskMode::Forbidden);
        Ok(Tools {
            list,
            by_name,
            listed,
            listed_scopes,
            any_task,
        })
    }
}

/// The tool's MCP description, and whether its JSON results are wrapped.
fn describe(entry: &ToolEntry, name: &'static str) -> (Tool, bool) {
    let (output_schema, wrap) = match (entry.output_schema)() {
        Some(schema) if is_object_schema(&schema) => (Some(schema), false),
        Some(schema) => (Some(Arc::new(wrap_schema(&schema))), true),
        None => (None, false),
    };
    let mut tool = Tool::new(name, entry.description, (entry.input_schema)());
    if let Some(schema) = output_schema {
        tool = tool.with_raw_output_schema(schema);
    }
    if let Some(title) = entry.title {
        tool = tool.with_title(title);
    }
    let a = entry.annotations;
    if a != Default::default() {
        tool = tool.with_annotations(ToolAnnotations::from_raw(
            entry.title.map(str::to_owned),
            a.read_only,
            a.destructive,
            a.idempotent,
            a.open_world,
        ));
    }
    (tool, wrap)
}

/// The name a client sees for an item of an app: `<prefix>_<name>` (the prefix is the
/// app's, or its package name for an app of a linked item that is not installed,
/// which `apps` then gains), checked against MCP's rules.
pub(crate) fn exposed_name(
    what: &'static str,
    meta: &EntryMeta,
    apps: &mut Vec<AppInfo>,
) -> Result<&'static str, StartError> {
    let app = match apps.iter().find(|a| a.name == meta.app) {
        Some(app) => *app,
        None => {
            let app = AppInfo::new(meta.app, meta.app);
            apps.push(app);
            app
        }
    };
    let name: &'static str = if app.prefix.is_empty() {
        meta.name
    } else {
        Box::leak(format!("{}_{}", app.prefix, meta.name).into_boxed_str())
    };
    if let Some(problem) = name_problem(name) {
        return Err(Kind::InvalidName {
            what,
            name: name.into(),
            fn_name: format!("{}::{}", meta.module_path, meta.name),
            at: meta.location(),
            problem,
        }
        .into());
    }
    Ok(name)
}

/// Checks an exposed name against MCP's rules: 1 to 64 of `A-Z a-z 0-9 _ - .`.
pub(crate) fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    if name.len() > 64 {
        return Some(format!("is {} characters long", name.len()));
    }
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .map(|c| format!("contains `{c}`"))
}
