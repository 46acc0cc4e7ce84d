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
pub(super) fn print_apps(runtime: &Runtime) -> Result<(), crate::StartError> {
    let mut text = String::new();
    let models = runtime.models();
    for app in runtime.apps() {
        let tools: Vec<&ServedTool> = tools_of(runtime, app.name).collect();
        let prefix = if app.prefix.is_empty() {
            "no prefix".to_owned()
        } else {
            format!("prefix `{}`", app.prefix)
        };
        let counts = counts(runtime, Some(app.name));
        text.push_str(&format!("{} ({prefix}, {})\n", app.name, counts.join(", ")));
        for t in tools {
            let summary = t.entry.description.lines().next().unwrap_or("");
            text.push_str(&format!("  {:<32} {summary}\n", t.name()));
        }
        let line = |kind: &str, name: &str, description: &str| {
            let summary = description.lines().next().unwrap_or("");
            format!("  {kind:<9} {name:<22} {summary}\n")
        };
        for m in models.iter().filter(|m| m.entry.meta.app == app.name) {
            let ops: Vec<&str> = m.tools.iter().map(|(op, _)| op.as_str()).collect();
            let name = format!("{} ({})", m.entry.what, m.entry.table);
            let fields: Vec<&str> = m.entry.fields.iter().map(|f| f.name).collect();
            text.push_str(&line(
                "model",
                &name,
                &format!("{}; fields {}", ops.join(", "), fields.join(", ")),
            ));
        }
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

/// What `app` serves (every app's, for `None`), counted by kind: "3 tools", "1 model",
/// "2 resources", "1 template", "1 prompt" (tools always, the others when there are any).
fn counts(runtime: &Runtime, app: Option<&str>) -> Vec<String> {
    let ours = |owner: &str| app.is_none_or(|app| app == owner);
    let tools = runtime
        .tools
        .list
        .iter()
        .filter(|t| ours(t.target.app))
        .count();
    let (mut resources, mut templates) = (0, 0);
    for r in runtime.resources.all().filter(|r| ours(r.target.app)) {
        if r.is_template() {
            templates += 1;
        } else {
            resources += 1;
        }
    }
    let prompts = runtime
        .prompts
        .list
        .iter()
        .filter(|p| ours(p.target.app))
        .count();
    let models = runtime
        .models()
        .iter()
        .filter(|m| ours(m.entry.meta.app))
        .count();
    let mut counts = vec![plural(tools, "tool")];
    for (n, kind) in [
        (models, "model"),
        (resources, "resource"),
        (templates, "template"),
        (prompts, "prompt"),
    ] {
        if n > 0 {
            counts.push(plural(n, kind));
        }
    }
    counts
}

/// "6 tools, 2 resources, 1 template, 1 prompt from 2 apps (notes: 3 tools, 2
/// resources, 1 template, 1 prompt; calc: 3 tools)".
pub(super) fn summary(runtime: &Runtime) -> String {
    let per_app: Vec<String> = runtime
        .apps()
        .iter()
        .map(|a| format!("{}: {}", a.name, counts(runtime, Some(a.name)).join(", ")))
        .collect();
    format!(
        "{} from {} ({})",
        counts(runtime, None).join(", "),
        plural(runtime.apps().len(), "app"),
        per_app.join("; ")
    )
}
