//! `apps`: the installed apps and what they serve; the summary `serve` logs.

use super::write_stdout;
use crate::runtime::{Runtime, ServedTool};
use crate::util::plural;

fn tools_of<'a>(runtime: &'a Runtime, app: &'a str) -> impl Iterator<Item = &'a ServedTool> {
    runtime
        .tools
        .list
        .iter()
        .filter(move |t| t.target.app == app)
}

/// Prints each installed app with its prefix and tools.
pub(super) fn print_apps(runtime: &Runtime) -> Result<(), crate::Error> {
    let mut text = String::new();
    for app in runtime.apps() {
        let tools: Vec<&ServedTool> = tools_of(runtime, app.name).collect();
        let prefix = if app.prefix.is_empty() {
            "no prefix".to_owned()
        } else {
            format!("prefix `{}`", app.prefix)
        };
        let resources = runtime
            .resources
            .all()
            .filter(|r| r.target.app == app.name)
            .count();
        let prompts = runtime
            .prompts
            .list
            .iter()
            .filter(|p| p.target.app == app.name)
            .count();
        let mut counts = vec![plural(tools.len(), "tool")];
        if resources > 0 {
            counts.push(plural(resources, "resource"));
        }
        if prompts > 0 {
            counts.push(plural(prompts, "prompt"));
        }
        text.push_str(&format!("{} ({prefix}, {})\n", app.name, counts.join(", ")));
        for t in tools {
            let summary = t.entry.description.lines().next().unwrap_or("");
            text.push_str(&format!("  {:<32} {summary}\n", t.name()));
        }
        let line = |kind: &str, name: &str, description: &str| {
            let summary = description.lines().next().unwrap_or("");
            format!("  {kind:<9} {name:<22} {summary}\n")
        };
        for r in runtime.resources.all().filter(|r| r.target.app == app.name) {
            let kind = if r.is_template() {
                "template"
            } else {
                "resource"
            };
            text.push_str(&line(kind, r.entry.uri, r.entry.description));
        }
        for p in runtime
            .prompts
            .list
            .iter()
            .filter(|p| p.target.app == app.name)
        {
            text.push_str(&line("prompt", p.target.name, p.entry.description));
        }
    }
    if runtime.apps().is_empty() {
        text.push_str("no installed apps: add one with `cargo mango startapp <name>`\n");
    }
    write_stdout(&text)
}

/// "4 tools from 2 apps (notes: 3, tasks: 1)".
pub(super) fn summary(runtime: &Runtime) -> String {
    let per_app: Vec<String> = runtime
        .apps()
        .iter()
        .map(|a| format!("{}: {}", a.name, tools_of(runtime, a.name).count()))
        .collect();
    format!(
        "{} from {} ({})",
        plural(runtime.tools.list.len(), "tool"),
        plural(runtime.apps().len(), "app"),
        per_app.join(", ")
    )
}
