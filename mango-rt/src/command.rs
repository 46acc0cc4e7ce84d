//! Management commands: `#[command]` functions of every app, plus the built-in ones
//! (`check`, `tools`, `call`), run by `cargo mango run <command>` or, in a deployed
//! project, `./<binary> run <command>`.

use std::sync::Arc;

use linkme::distributed_slice;

use crate::context::{Context, ContextParts, TransportKind};
use crate::inject::Call;
use crate::output::{BoxFuture, ToolOutput, catching_panics, did_you_mean};
use crate::server::Runtime;

/// Every `#[command]` of every linked app (and mango's built-ins), in link order.
#[distributed_slice]
pub static COMMANDS: [CommandEntry];

/// One command, as `#[command]` writes it.
pub struct CommandEntry {
    /// The package name of the app (`mango` for the built-ins).
    pub app: &'static str,
    pub name: &'static str,
    /// The doc comment: its first line is the summary in the list.
    pub about: &'static str,
    /// Adds the command's arguments to a clap command.
    pub args: fn(clap::Command) -> clap::Command,
    pub run: fn(clap::ArgMatches, Call) -> BoxFuture<ToolOutput>,
    /// `#[command(atomic = …)]`, as for tools.
    pub atomic: Option<bool>,
    pub file: &'static str,
    pub line: u32,
}

impl CommandEntry {
    /// `app:name`.
    pub fn qualified(&self) -> String {
        format!("{}:{}", self.app, self.name)
    }

    fn summary(&self) -> &'static str {
        self.about.lines().next().unwrap_or("")
    }
}

/// How `run <command>` went.
pub enum RunOutcome {
    /// The command ran; its output (an `Error` output is a failure, exit 1).
    Ran(ToolOutput),
    /// `--help` or the like: text for stdout, exit 0.
    Help(String),
    /// A usage error (unknown or ambiguous command, bad arguments): text for stderr,
    /// exit 2.
    Usage(String),
}

/// Every command, sorted: mango's built-ins first, then by app and name.
pub fn all() -> Vec<&'static CommandEntry> {
    let mut all: Vec<&'static CommandEntry> = crate::builtin::BUILTINS
        .iter()
        .chain(COMMANDS.iter())
        .collect();
    all.sort_by(|a, b| {
        (a.app != crate::BUILTIN_APP, a.app, a.name).cmp(&(
            b.app != crate::BUILTIN_APP,
            b.app,
            b.name,
        ))
    });
    all
}

/// The list `run` prints with no command (like `manage.py help`).
pub fn listing(via: &str) -> String {
    let mut text = format!(
        "Commands (run one with `{via} <command>`, and `{via} <command> --help` for its options):\n"
    );
    let mut app = "";
    let commands = all();
    let width = commands.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &commands {
        if c.app != app {
            text.push_str(&format!("\n[{}]\n", c.app));
            app = c.app;
        }
        text.push_str(&format!("    {:<width$}  {}\n", c.name, c.summary()));
    }
    text
}

/// The command `name` (`command` or `app:command`), or why there is none.
pub fn find(name: &str, via: &str) -> Result<&'static CommandEntry, String> {
    let commands = all();
    if let Some((app, command)) = name.split_once(':') {
        if let Some(c) = commands.iter().find(|c| c.app == app && c.name == command) {
            return Ok(c);
        }
    } else {
        let matching: Vec<_> = commands.iter().filter(|c| c.name == name).collect();
        match matching.as_slice() {
            [one] => return Ok(one),
            [] => {}
            many => {
                let names: Vec<String> = many
                    .iter()
                    .map(|c| format!("`{}`", c.qualified()))
                    .collect();
                return Err(format!(
                    "`{name}` is a command of more than one app: say which, as {}",
                    names.join(" or ")
                ));
            }
        }
    }
    let suggestion = did_you_mean(
        name,
        commands
            .iter()
            .flat_map(|c| [c.name.to_owned(), c.qualified()]),
    );
    let mut message = format!("no command `{name}`{suggestion}\n\n");
    message.push_str(&listing(via));
    Err(message)
}

/// Parses the arguments and runs the command, in its transaction, catching panics.
pub async fn run(
    runtime: &Arc<Runtime>,
    entry: &'static CommandEntry,
    args: &[String],
    via: &str,
) -> RunOutcome {
    let clap_command = (entry.args)(
        clap::Command::new(entry.name)
            .bin_name(format!("{via} {}", entry.name))
            .about(entry.about)
            .no_binary_name(true),
    );
    let matches = match clap_command.try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            let text = e.render().to_string();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    RunOutcome::Help(text)
                }
                _ => RunOutcome::Usage(text),
            };
        }
    };
    let context = Context::new(ContextParts {
        runtime: runtime.clone(),
        tool: entry.name,
        app: entry.app,
        request_id: None,
        meta: Default::default(),
        progress_token: None,
        peer: None,
        transport: TransportKind::Command,
        identity: None,
        extensions: Default::default(),
    });
    let call = Call::new(Default::default(), context, entry.atomic, false);
    let _token = runtime.in_flight.token();
    let db = call.db_slot().clone();
    let output = catching_panics((entry.run)(matches, call), "command").await;
    let output = crate::server::finish_transaction(&db, output).await;
    RunOutcome::Ran(output)
}

/// Prints a command's output on stdout: text as it is, values as pretty JSON.
pub fn render(output: &ToolOutput) -> Option<String> {
    match output {
        ToolOutput::Empty | ToolOutput::Error(_) => None,
        ToolOutput::Text(text) => Some(if text.ends_with('\n') {
            text.clone()
        } else {
            format!("{text}\n")
        }),
        ToolOutput::Json(value) => Some(format!(
            "{}\n",
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
        )),
    }
}
