//! The project binary's command line: `serve`, `migrate`, `run`, `apps`; one module
//! per subcommand, and the built-in commands.
//!
//! `cargo mango` generates the binary's `main.rs`, which calls [`manage`] with the
//! project's installed apps; the same binary runs without cargo once deployed
//! (`./mysite serve --transport stdio`). Its flags are declared once, in `mango-cli`:
//! `cargo mango serve|migrate|run|apps|tools|check` check their arguments with the
//! same definitions and hand them on.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mango_cli::{Cli, Command, Exit, RunArgs};

use crate::call::Output;
use crate::project::Project;
use crate::runtime::{Runtime, StartError};
use crate::settings::{SETTINGS_FILE, Settings};

mod apps;
mod balancer;
mod commands;
mod jobs;
mod metrics;
mod migrate;
mod run;
mod serve;
mod users;

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

/// The console log, and `[telemetry]`'s trace layer beside it; what it returns keeps
/// the exporter running until the command ends.
fn init_logging(
    settings: &Settings,
    project: &str,
) -> Result<Option<crate::telemetry::Installed>, crate::telemetry::Problem> {
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
    crate::telemetry::install(settings, project, filter)
}

fn try_manage(project: &Project, cli: Cli) -> Result<Exit, StartError> {
    let path = find_settings(cli.settings, project.root);
    let settings = Settings::load(&path, &cli.profile)?;
    // Dropped last (after the command, outside its async runtime): sends the spans
    // still queued.
    let _telemetry = init_logging(&settings, project.name)?;
    let runtime = Arc::new(Runtime::new(
        settings,
        project.apps,
        project.name,
        project.version,
    )?);
    crate::runtime::register(&runtime);
    match cli.command {
        Command::Serve(args) => serve::serve(runtime, args)?,
        Command::Apps(_) => apps::print_apps(&runtime)?,
        Command::Migrate(args) => migrate::migrate(&runtime, args)?,
        Command::Run(args) => return run_command(runtime, project, args),
    }
    Ok(Exit::Success)
}

/// `run [<command> [args…]]`: lists the commands, or runs one.
fn run_command(
    runtime: Arc<Runtime>,
    project: &Project,
    args: RunArgs,
) -> Result<Exit, StartError> {
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
    // The apps' start-up hooks run before the command, their shutdown hooks after it.
    let outcome = tokio.block_on(async {
        runtime.start_up().await?;
        let outcome = run::run(&runtime, command, &rest, &via).await;
        runtime.shut_down().await;
        Ok::<_, StartError>(outcome)
    });
    runtime.database().close();
    let outcome = outcome?;
    match outcome {
        run::RunOutcome::Help(text) => {
            write_stdout(&text)?;
            Ok(Exit::Success)
        }
        run::RunOutcome::Usage(text) => {
            eprint!("{text}");
            Ok(Exit::Usage)
        }
        run::RunOutcome::Ran(Output::Error(message) | Output::Invalid(message)) => {
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

fn write_stdout(text: &str) -> Result<(), StartError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
