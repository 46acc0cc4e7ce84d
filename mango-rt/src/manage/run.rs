//! `run <command>`: the apps' `#[command]`s and the built-in ones, found by name and run
//! through the pipeline (with no middleware: `Mango.toml`'s chain is for MCP requests,
//! as Django's `MIDDLEWARE` is for HTTP requests, not for `manage.py` commands).

use std::sync::Arc;

use super::commands::{BUILTINS, Builtin};
use crate::call::{BoxFuture, Call, Caller, Channel, Kind, Output, Target, TransportKind};
use crate::chain::{Chain, Endpoint, Request};
use crate::db::DbMode;
use crate::registry::{BUILTIN_APP, COMMANDS, CommandEntry, EntryMeta, SEPARATOR};
use crate::runtime::Runtime;
use crate::util::did_you_mean;

/// A command as `run` knows it: an app's `#[command]`, or a built-in.
#[derive(Clone, Copy)]
pub(super) enum Command {
    App(&'static CommandEntry),
    Builtin(&'static Builtin),
}

impl Command {
    pub fn meta(&self) -> &'static EntryMeta {
        match self {
            Command::App(c) => &c.meta,
            Command::Builtin(b) => &b.meta,
        }
    }

    fn about(&self) -> &'static str {
        match self {
            Command::App(c) => c.about,
            Command::Builtin(b) => b.about,
        }
    }

    fn summary(&self) -> &'static str {
        self.about().lines().next().unwrap_or("")
    }

    fn args(&self) -> fn(clap::Command) -> clap::Command {
        match self {
            Command::App(c) => c.args,
            Command::Builtin(b) => b.args,
        }
    }
}

/// How `run <command>` went.
pub(super) enum RunOutcome {
    /// The command ran; its output (an `Error` output is a failure, exit 1).
    Ran(Output),
    /// `--help` or the like: text for stdout, exit 0.
    Help(String),
    /// A usage error (bad arguments): text for stderr, exit 2.
    Usage(String),
}

/// Every command, sorted: mango's built-ins first, then by app and name.
fn all() -> Vec<Command> {
    let mut all: Vec<Command> = BUILTINS
        .iter()
        .map(Command::Builtin)
        .chain(COMMANDS.iter().map(Command::App))
        .collect();
    all.sort_by_key(|c| {
        let m = c.meta();
        (m.app != BUILTIN_APP, m.app, m.name)
    });
    all
}

/// The list `run` prints with no command (like `manage.py help`).
pub(super) fn listing(via: &str) -> String {
    let mut text = format!(
        "Commands (run one with `{via} <command>`, and `{via} <command> --help` for its options):\n"
    );
    let mut app = "";
    let commands = all();
    let width = commands
        .iter()
        .map(|c| c.meta().name.len())
        .max()
        .unwrap_or(0);
    for c in &commands {
        let meta = c.meta();
        if meta.app != app {
            text.push_str(&format!("\n[{}]\n", meta.app));
            app = meta.app;
        }
        text.push_str(&format!("    {:<width$}  {}\n", meta.name, c.summary()));
    }
    text
}

/// The command `name` (`command`, or `app.command` when two apps have one of that name;
/// `app:command` is read too), or why there is none.
pub(super) fn find(name: &str, via: &str) -> Result<Command, NoSuchCommand> {
    let commands = all();
    let qualified = name.split_once(SEPARATOR).or_else(|| name.split_once(':'));
    if let Some((app, command)) = qualified {
        if let Some(c) = commands
            .iter()
            .find(|c| c.meta().app == app && c.meta().name == command)
        {
            return Ok(*c);
        }
    } else {
        let matching: Vec<&Command> = commands.iter().filter(|c| c.meta().name == name).collect();
        match matching.as_slice() {
            [one] => return Ok(**one),
            [] => {}
            many => {
                return Err(NoSuchCommand::Ambiguous {
                    name: name.to_owned(),
                    qualified: many.iter().map(|c| c.meta().qualified()).collect(),
                });
            }
        }
    }
    let suggestion = did_you_mean(
        name,
        commands
            .iter()
            .flat_map(|c| [c.meta().name.to_owned(), c.meta().qualified()]),
    );
    Err(NoSuchCommand::Unknown {
        name: name.to_owned(),
        suggestion,
        listing: listing(via),
    })
}

/// Why `run <name>` names no one command.
#[derive(Debug, thiserror::Error)]
pub(super) enum NoSuchCommand {
    #[error(
        "`{name}` is a command of more than one app: say which, as {}",
        qualified.iter().map(|q| format!("`{q}`")).collect::<Vec<_>>().join(" or ")
    )]
    Ambiguous {
        name: String,
        qualified: Vec<String>,
    },

    /// `suggestion` is ` (did you mean …?)` or empty; `listing` the commands there are.
    #[error("no command `{name}`{suggestion}\n\n{listing}")]
    Unknown {
        name: String,
        suggestion: String,
        listing: String,
    },
}

/// The end of an app command's pipeline: its generated run, with the parsed arguments.
struct AppCommand {
    run: fn(clap::ArgMatches, Call) -> BoxFuture<Output>,
    matches: clap::ArgMatches,
}

impl Endpoint for AppCommand {
    fn start(&self, req: &mut Request) -> BoxFuture<Output> {
        (self.run)(self.matches.clone(), req.take_call())
    }

    fn what(&self) -> &'static str {
        "command"
    }
}

/// The end of a built-in command's pipeline: it works on the runtime itself.
struct BuiltinCommand {
    runtime: Arc<Runtime>,
    run: fn(Arc<Runtime>, clap::ArgMatches) -> BoxFuture<Output>,
    matches: clap::ArgMatches,
}

impl Endpoint for BuiltinCommand {
    fn start(&self, _req: &mut Request) -> BoxFuture<Output> {
        (self.run)(self.runtime.clone(), self.matches.clone())
    }

    fn what(&self) -> &'static str {
        "command"
    }
}

/// Parses the arguments and runs the command through the pipeline: in its
/// transaction, catching panics.
pub(super) async fn run(
    runtime: &Arc<Runtime>,
    command: Command,
    args: &[String],
    via: &str,
) -> RunOutcome {
    let meta = command.meta();
    let clap_command = (command.args())(
        clap::Command::new(meta.name)
            .bin_name(format!("{via} {}", meta.name))
            .about(command.about())
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
    let (endpoint, atomic): (Arc<dyn Endpoint>, Option<bool>) = match command {
        Command::App(entry) => (
            Arc::new(AppCommand {
                run: entry.run,
                matches,
            }),
            entry.atomic,
        ),
        Command::Builtin(builtin) => (
            Arc::new(BuiltinCommand {
                runtime: runtime.clone(),
                run: builtin.run,
                matches,
            }),
            None,
        ),
    };
    let req = Request::new(
        runtime.state.clone(),
        Target {
            kind: Kind::Command,
            name: meta.name,
            app: meta.app,
        },
        Default::default(),
        Caller::new(TransportKind::Command),
        Channel::default(),
        DbMode {
            atomic,
            ..DbMode::default()
        },
    );
    let no_middleware: Chain = Arc::new([]);
    RunOutcome::Ran(crate::chain::run(&no_middleware, &endpoint, req).await)
}

/// A command's output for stdout: text as it is, values as pretty JSON.
pub(super) fn render(output: &Output) -> Option<String> {
    match output {
        Output::Empty | Output::Error(_) | Output::Invalid(_) | Output::InputRequired => None,
        Output::Blob(bytes) => Some(format!("({} bytes)\n", bytes.len())),
        Output::Text(text) => Some(if text.ends_with('\n') {
            text.clone()
        } else {
            format!("{text}\n")
        }),
        Output::Json(value) | Output::Rich { value, .. } => Some(format!(
            "{}\n",
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
        )),
        Output::Messages(messages) => Some(
            messages
                .iter()
                .map(|m| {
                    format!(
                        "{}\n",
                        serde_json::to_string(&m.clone().into_rmcp()).unwrap_or_default()
                    )
                })
                .collect(),
        ),
        Output::Content(content) => Some(
            content
                .iter()
                .map(|c| match c.clone().into_rmcp().as_text() {
                    Some(t) => format!("{}\n", t.text),
                    None => format!(
                        "{}\n",
                        serde_json::to_string(&c.clone().into_rmcp()).unwrap_or_default()
                    ),
                })
                .collect(),
        ),
    }
}
