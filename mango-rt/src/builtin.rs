//! The commands every project has, listed with the apps' own under `[mango]`:
//! `check`, `tools` and `call`.

use crate::command::CommandEntry;
use crate::inject::Call;
use crate::output::{BoxFuture, ToolOutput};
use crate::server::RequestParts;
use clap::{Args, FromArgMatches};

/// The app name the built-in commands are listed under.
pub const BUILTIN_APP: &str = "mango";

/// The built-in commands (in mango-rt itself: a plain array, not the link-time list).
pub static BUILTINS: [CommandEntry; 3] = [
    CommandEntry {
        app: BUILTIN_APP,
        name: "check",
        about: "Check the project: settings, apps, tool names (for MCP and for common clients), pending migrations.\n\nExits 1 when something needs fixing.",
        args: |cmd| cmd,
        run: check,
        atomic: None,
        file: file!(),
        line: line!(),
    },
    CommandEntry {
        app: BUILTIN_APP,
        name: "tools",
        about: "List every tool, as clients see it (`--json`: with its input and output schema).",
        args: ToolsArgs::augment_args,
        run: tools,
        atomic: None,
        file: file!(),
        line: line!(),
    },
    CommandEntry {
        app: BUILTIN_APP,
        name: "call",
        about: "Call one tool in-process and print its result, like `fastmcp call`: call <tool> '{\"arg\": 1}'.",
        args: CallArgs::augment_args,
        run: call_tool,
        atomic: None,
        file: file!(),
        line: line!(),
    },
];

fn parse<T: FromArgMatches>(matches: &clap::ArgMatches) -> Result<T, ToolOutput> {
    T::from_arg_matches(matches).map_err(|e| ToolOutput::Error(e.to_string()))
}

/// Characters that MCP allows in a tool name but the function-calling APIs of common
/// model providers do not (their names are `^[a-zA-Z0-9_-]{1,64}$`).
fn client_problem(name: &str) -> Option<&'static str> {
    name.contains('.')
        .then_some("has `.`, which some clients' model APIs refuse in tool names")
}

fn check(_: clap::ArgMatches, call: Call) -> BoxFuture<ToolOutput> {
    Box::pin(async move {
        let rt = call.context().runtime().clone();
        let mut report = String::new();
        let mut problems = Vec::new();
        let s = &rt.settings;
        report.push_str(&format!(
            "settings: {} (profile `{}`) read and checked\n",
            s.display_path().display(),
            s.profile
        ));
        report.push_str(&format!(
            "apps: {}\n",
            rt.apps
                .iter()
                .map(|a| a.name)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        report.push_str(&format!(
            "tools: {}, every name unique, 1 to 64 characters of A-Z a-z 0-9 _ - .\n",
            rt.tools.len()
        ));
        for t in &rt.tools {
            if let Some(problem) = client_problem(t.name) {
                problems.push(format!(
                    "the tool `{}` ({}) {problem}; rename it with #[tool(name = \"…\")]",
                    t.name,
                    t.entry.location()
                ));
            }
        }
        if !crate::migrate::MIGRATIONS.is_empty() {
            match crate::migrate::pending_names(&rt).await {
                Ok(pending) if pending.is_empty() => {
                    report.push_str("migrations: all applied\n");
                }
                Ok(pending) => problems.push(format!(
                    "{} migration(s) not applied: {}; run `cargo mango migrate`",
                    pending.len(),
                    pending.join(", ")
                )),
                Err(e) => problems.push(format!("the database could not be checked: {e}")),
            }
        }
        if problems.is_empty() {
            report.push_str("no problems found\n");
            ToolOutput::Text(report)
        } else {
            for p in &problems {
                report.push_str(&format!("problem: {p}\n"));
            }
            report.push_str(&format!("{} problem(s) found", problems.len()));
            ToolOutput::Error(report)
        }
    })
}

/// `tools [--json]`.
#[derive(Args)]
struct ToolsArgs {
    /// Every tool with its input and output schema, as JSON.
    #[arg(long)]
    json: bool,
}

fn tools(matches: clap::ArgMatches, call: Call) -> BoxFuture<ToolOutput> {
    Box::pin(async move {
        let args: ToolsArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        let rt = call.context().runtime().clone();
        if args.json {
            let tools: Vec<&rmcp::model::Tool> = rt.tools.iter().map(|t| &t.tool).collect();
            return ToolOutput::json(&tools);
        }
        let width = rt.tools.iter().map(|t| t.name.len()).max().unwrap_or(0);
        let mut text = String::new();
        for t in &rt.tools {
            let summary = t.entry.description.lines().next().unwrap_or("");
            text.push_str(&format!("{:<width$}  {summary}\n", t.name));
        }
        ToolOutput::Text(text)
    })
}

/// `call <tool> [<json>]`.
#[derive(Args)]
struct CallArgs {
    /// The tool's exposed name.
    tool: String,
    /// Its arguments, as a JSON object.
    #[arg(default_value = "{}")]
    arguments: String,
}

fn call_tool(matches: clap::ArgMatches, call: Call) -> BoxFuture<ToolOutput> {
    Box::pin(async move {
        let args: CallArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        let arguments = match serde_json::from_str::<serde_json::Value>(&args.arguments) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(other) => {
                return ToolOutput::Error(format!(
                    "the arguments must be a JSON object, like '{{\"a\": 1}}', not {other}"
                ));
            }
            Err(e) => {
                return ToolOutput::Error(format!("the arguments are not valid JSON: {e}"));
            }
        };
        let rt = call.context().runtime().clone();
        match rt
            .call(&args.tool, arguments, RequestParts::in_process())
            .await
        {
            Some(result) => {
                let failed = result.is_error == Some(true);
                let json = serde_json::to_string_pretty(&result).unwrap_or_default();
                if failed {
                    ToolOutput::Error(json)
                } else {
                    ToolOutput::Text(json)
                }
            }
            None => ToolOutput::Error(rt.unknown_tool(&args.tool)),
        }
    })
}
