//! The project binary's command line: `serve`, `migrate`, `run`, `apps`; one module
//! per subcommand, and the built-in commands.
//!
//! `cargo mango` generates the binary's `main.rs`, which calls [`manage`] with the
//! project's installed apps; the same binary runs without cargo once deployed
//! (`./mysite serve --transport stdio`). These clap definitions are the only ones:
//! `cargo mango serve|migrate|run|apps|tools|check` hand their arguments on.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::call::Output;
use crate::project::Project;
use crate::runtime::{Error, Runtime};
use crate::settings::{SETTINGS_FILE, Settings, Transport};

mod apps;
mod commands;
mod migrate;
mod run;
mod serve;

/// The exit codes of the project's binary (the same as `cargo mango`'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Success = 0,
    /// The command ran and failed (a bad setting, a port in use, a command's error …).
    Failure = 1,
    /// The command line was wrong.
    Usage = 2,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

#[derive(Parser)]
#[command(about = "A mango project: serve its MCP tools, list its apps", version)]
struct Cli {
    /// The settings file (default: Mango.toml in this directory or the nearest parent,
    /// else in the project the binary was built from).
    #[arg(long, env = "MANGO_SETTINGS", global = true)]
    settings: Option<PathBuf>,
    /// The settings profile.
    #[arg(long, env = "MANGO_PROFILE", global = true, default_value = "default")]
    profile: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every installed app's tools over MCP.
    Serve(ServeArgs),
    /// List the installed apps and their tools.
    Apps,
    /// Apply every app's pending migrations, or move one app to a version.
    Migrate(MigrateArgs),
    /// Run a management command (with none: list them all).
    Run(RunArgs),
}

#[derive(Args)]
pub(crate) struct RunArgs {
    /// List the commands of every app.
    #[arg(long)]
    pub list: bool,
    /// The command (`name`, or `app.name` when two apps have one of that name), then
    /// its own arguments (`<command> --help` shows them).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND [ARGS]"
    )]
    pub command: Vec<String>,
}

#[derive(Args)]
pub(crate) struct MigrateArgs {
    /// List every migration, applied ([X]) or not ([ ]), per app.
    #[arg(long, conflicts_with_all = ["app", "target"])]
    pub list: bool,
    /// Only this app.
    pub app: Option<String>,
    /// The version to move the app to (forward or back), or `zero` to undo them all.
    #[arg(requires = "app")]
    pub target: Option<String>,
}

#[derive(Args, Default)]
pub(crate) struct ServeArgs {
    /// stdio (for a client that starts the server, like Claude Desktop) or http.
    #[arg(long, value_enum)]
    pub transport: Option<Transport>,
    /// The address to listen on (http).
    #[arg(long)]
    pub host: Option<String>,
    /// The port to listen on (http); 0 picks a free one.
    #[arg(long)]
    pub port: Option<u16>,
    /// No sessions, plain JSON responses: the mode for several replicas (http).
    #[arg(long)]
    pub stateless: bool,
    /// Apply pending migrations before serving.
    #[arg(long)]
    pub migrate: bool,
}

/// Runs the project's binary: parses the command line and runs the subcommand.
pub fn manage(project: &Project) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            };
            let _ = e.print();
            return code.into();
        }
    };
    match try_manage(project, cli) {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Failure.into()
        }
    }
}

fn find_settings(explicit: Option<PathBuf>, root: &str) -> PathBuf {
    if let Some(path) = explicit {
        return path;
    }
    if let Ok(cwd) = std::env::current_dir() {
        for dir in cwd.ancestors() {
            let candidate = dir.join(SETTINGS_FILE);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    Path::new(root).join(SETTINGS_FILE)
}

fn init_logging(settings: &Settings) {
    use std::io::IsTerminal;

    let mut filter = std::env::var("MANGO_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| settings.log_level.clone());
    // rmcp reports every session at `info`; keep that for those who ask for it by name.
    if !filter.contains("rmcp") {
        filter.push_str(",rmcp=warn");
    }
    let filter = match tracing_subscriber::EnvFilter::try_new(&filter) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("warning: the log filter `{filter}` is not valid ({e}); logging at `info`");
            tracing_subscriber::EnvFilter::new("info,rmcp=warn")
        }
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

fn try_manage(project: &Project, cli: Cli) -> Result<Exit, Error> {
    let path = find_settings(cli.settings, project.root);
    let settings = Settings::load(&path, &cli.profile)?;
    init_logging(&settings);
    let runtime = Arc::new(Runtime::new(
        settings,
        project.apps,
        project.name,
        project.version,
    )?);
    crate::runtime::set_global(&runtime);
    match cli.command {
        Command::Serve(args) => serve::serve(runtime, args)?,
        Command::Apps => apps::print_apps(&runtime)?,
        Command::Migrate(args) => migrate::migrate(&runtime, args)?,
        Command::Run(args) => return run_command(runtime, project, args),
    }
    Ok(Exit::Success)
}

/// `run [<command> [args…]]`: lists the commands, or runs one.
fn run_command(runtime: Arc<Runtime>, project: &Project, args: RunArgs) -> Result<Exit, Error> {
    let via = if std::env::var_os("MANGO_VIA_CARGO").is_some() {
        "cargo mango run".to_owned()
    } else {
        format!("{} run", project.name)
    };
    let mut words = args.command.into_iter();
    let Some(name) = words.next().filter(|_| !args.list) else {
        write_stdout(&run::listing(&via))?;
        return Ok(Exit::Success);
    };
    let rest: Vec<String> = words.collect();
    let command = match run::find(&name, &via) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(Exit::Usage);
        }
    };
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = tokio.block_on(run::run(&runtime, command, &rest, &via));
    runtime.database().close();
    match outcome {
        run::RunOutcome::Help(text) => {
            write_stdout(&text)?;
            Ok(Exit::Success)
        }
        run::RunOutcome::Usage(text) => {
            eprint!("{text}");
            Ok(Exit::Usage)
        }
        run::RunOutcome::Ran(Output::Error(message)) => {
            eprintln!(
                "error: the command `{}` failed: {message}",
                command.meta().qualified()
            );
            Ok(Exit::Failure)
        }
        run::RunOutcome::Ran(output) => {
            if let Some(text) = run::render(&output) {
                write_stdout(&text)?;
            }
            Ok(Exit::Success)
        }
    }
}

fn write_stdout(text: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
