//! The entry point of a project's binary: `serve`, `migrate`, `run`, `apps`.
//!
//! `cargo mango` generates the binary's `main.rs`, which calls [`manage`] with the
//! project's installed apps; the same binary runs without cargo once deployed
//! (`./mysite serve --transport stdio`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use crate::command;
use crate::context::TransportKind;
use crate::error::Error;
use crate::migrate;
use crate::server::{MangoServer, Runtime};
use crate::settings::{SETTINGS_FILE, Settings, Transport};
use crate::transport::http;
use crate::transport::stdio::GuardedStdio;

/// An installed app, as the generated binary knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppInfo {
    /// The package name.
    pub name: &'static str,
    /// What its tools' names start with (`""` for nothing).
    pub prefix: &'static str,
    /// The installed apps it depends on (their migrations run first).
    pub depends_on: &'static [&'static str],
}

impl AppInfo {
    pub const fn new(name: &'static str, prefix: &'static str) -> Self {
        AppInfo {
            name,
            prefix,
            depends_on: &[],
        }
    }

    /// The installed apps this one depends on.
    pub const fn depends_on(self, apps: &'static [&'static str]) -> Self {
        AppInfo {
            depends_on: apps,
            ..self
        }
    }
}

/// The project, as the generated binary knows it.
#[derive(Debug, Clone, Copy)]
pub struct Project {
    pub name: &'static str,
    pub version: &'static str,
    /// The project's root at build time: where `Mango.toml` is looked for last.
    pub root: &'static str,
    pub apps: &'static [AppInfo],
}

/// Exit codes of the project's binary.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    /// The command ran and failed (a bad setting, a port in use …).
    pub const FAILURE: u8 = 1;
    /// The command line was wrong.
    pub const USAGE: u8 = 2;
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
struct RunArgs {
    /// List the commands of every app.
    #[arg(long)]
    list: bool,
    /// The command (`name`, or `app:name` when two apps have one of that name), then
    /// its own arguments (`<command> --help` shows them).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND [ARGS]"
    )]
    command: Vec<String>,
}

#[derive(Args)]
struct MigrateArgs {
    /// List every migration, applied ([X]) or not ([ ]), per app.
    #[arg(long, conflicts_with_all = ["app", "target"])]
    list: bool,
    /// Only this app.
    app: Option<String>,
    /// The version to move the app to (forward or back), or `zero` to undo them all.
    #[arg(requires = "app")]
    target: Option<String>,
}

#[derive(Args, Default)]
struct ServeArgs {
    /// stdio (for a client that starts the server, like Claude Desktop) or http.
    #[arg(long, value_enum)]
    transport: Option<Transport>,
    /// The address to listen on (http).
    #[arg(long)]
    host: Option<String>,
    /// The port to listen on (http); 0 picks a free one.
    #[arg(long)]
    port: Option<u16>,
    /// No sessions, plain JSON responses: the mode for several replicas (http).
    #[arg(long)]
    stateless: bool,
    /// Apply pending migrations before serving.
    #[arg(long)]
    migrate: bool,
}

/// Runs the project's binary: parses the command line and runs the subcommand.
pub fn manage(project: &Project) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match try_manage(project, cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit::FAILURE)
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

fn try_manage(project: &Project, cli: Cli) -> Result<u8, Error> {
    let path = find_settings(cli.settings, project.root);
    let settings = Settings::load(&path, &cli.profile)?;
    init_logging(&settings);
    let runtime = Arc::new(Runtime::new(
        settings,
        project.apps,
        project.name,
        project.version,
    )?);
    crate::settings::set_global(runtime.clone());
    let done = match cli.command {
        Command::Serve(args) => serve(runtime, args),
        Command::Apps => {
            print_apps(&runtime);
            Ok(())
        }
        Command::Migrate(args) => migrate(runtime, args),
        Command::Run(args) => return run_command(runtime, project, args),
    };
    done.map(|()| exit::SUCCESS)
}

/// `run [<command> [args…]]`: lists the commands, or runs one. Returns the exit code:
/// 0, 1 when the command failed, 2 for a usage error.
fn run_command(runtime: Arc<Runtime>, project: &Project, args: RunArgs) -> Result<u8, Error> {
    let via = if std::env::var_os("MANGO_VIA_CARGO").is_some() {
        "cargo mango run".to_owned()
    } else {
        format!("{} run", project.name)
    };
    let mut words = args.command.into_iter();
    let Some(name) = words.next().filter(|_| !args.list) else {
        write_stdout(&command::listing(&via))?;
        return Ok(exit::SUCCESS);
    };
    let rest: Vec<String> = words.collect();
    let entry = match command::find(&name, &via) {
        Ok(entry) => entry,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(exit::USAGE);
        }
    };
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = tokio.block_on(command::run(&runtime, entry, &rest, &via));
    if let Some(database) = &runtime.database {
        database.close();
    }
    match outcome {
        command::RunOutcome::Help(text) => {
            write_stdout(&text)?;
            Ok(exit::SUCCESS)
        }
        command::RunOutcome::Usage(text) => {
            eprint!("{text}");
            Ok(exit::USAGE)
        }
        command::RunOutcome::Ran(crate::output::ToolOutput::Error(message)) => {
            eprintln!(
                "error: the command `{}` failed: {message}",
                entry.qualified()
            );
            Ok(exit::FAILURE)
        }
        command::RunOutcome::Ran(output) => {
            if let Some(text) = command::render(&output) {
                write_stdout(&text)?;
            }
            Ok(exit::SUCCESS)
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

fn print_apps(runtime: &Runtime) {
    let mut text = String::new();
    for app in &runtime.apps {
        let tools: Vec<_> = runtime
            .tools
            .iter()
            .filter(|t| t.entry.app == app.name)
            .collect();
        let prefix = if app.prefix.is_empty() {
            "no prefix".to_owned()
        } else {
            format!("prefix `{}`", app.prefix)
        };
        text.push_str(&format!(
            "{} ({prefix}, {})\n",
            app.name,
            plural(tools.len(), "tool")
        ));
        for t in tools {
            let summary = t.entry.description.lines().next().unwrap_or("");
            text.push_str(&format!("  {:<32} {summary}\n", t.name));
        }
    }
    if runtime.apps.is_empty() {
        text.push_str("no installed apps: add one with `cargo mango startapp <name>`\n");
    }
    if let Err(e) = write_stdout(&text) {
        tracing::error!(error = %e, "could not write to stdout");
    }
}

fn migrate(runtime: Arc<Runtime>, args: MigrateArgs) -> Result<(), Error> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let apps = runtime.apps.clone();
    tokio.block_on(async move {
        let url = runtime
            .database
            .as_ref()
            .map(|d| d.url.clone())
            .unwrap_or_default();
        if args.list {
            let listed =
                migrate::with_sync_db(&runtime, move |c| Ok(migrate::list(c, &apps)?)).await?;
            let mut text = String::new();
            let mut current = "";
            for m in &listed {
                if m.app != current {
                    text.push_str(&format!("{}\n", m.app));
                    current = m.app;
                }
                text.push_str(&format!(
                    " [{}] {}\n",
                    if m.applied { "X" } else { " " },
                    m.name
                ));
            }
            if listed.is_empty() {
                text.push_str("no app has migrations\n");
            }
            return write_stdout(&text);
        }
        let done = migrate::with_sync_db(&runtime, move |c| {
            Ok(match (&args.app, &args.target) {
                (Some(app), Some(target)) => migrate::migrate_app(c, &apps, app, target)?,
                (Some(app), None) => {
                    let last = migrate::all(&apps)?
                        .into_iter()
                        .filter(|m| m.app == app)
                        .last()
                        .map(|m| m.version);
                    match last {
                        Some(v) => migrate::migrate_app(c, &apps, app, &v)?,
                        None => migrate::migrate_app(c, &apps, app, "zero")?,
                    }
                }
                _ => migrate::migrate_all(c, &apps)?,
            })
        })
        .await?;
        let mut text = format!("Database: {url}\n");
        if done.is_empty() {
            text.push_str("No migrations to apply.\n");
        }
        for (app, name, forward) in &done {
            let verb = if *forward { "Applied" } else { "Reverted" };
            text.push_str(&format!("  {verb} {app} {name}\n"));
        }
        write_stdout(&text)
    })
}

/// Connects once (start-up fails here, with the reason, if the database cannot be
/// reached) and warns about migrations not applied yet. Skipped when no app has
/// migrations, so a project without a database never creates one.
async fn check_database(runtime: &Arc<Runtime>, apply: bool) -> Result<(), Error> {
    if migrate::MIGRATIONS.is_empty() {
        return Ok(());
    }
    if apply {
        let apps = runtime.apps.clone();
        let done =
            migrate::with_sync_db(runtime, move |c| Ok(migrate::migrate_all(c, &apps)?)).await?;
        for (app, name, _) in done {
            tracing::info!("applied the migration {app} {name}");
        }
    }
    let names = migrate::pending_names(runtime).await?;
    if !names.is_empty() {
        tracing::warn!(
            "{} migration(s) not applied: {}; run `cargo mango migrate`",
            names.len(),
            names.join(", ")
        );
    }
    Ok(())
}

fn serve(runtime: Arc<Runtime>, args: ServeArgs) -> Result<(), Error> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    tokio.block_on(async move {
        check_database(&runtime, args.migrate).await?;
        let s = &runtime.settings.server;
        let transport = args.transport.unwrap_or(s.transport);
        let summary = summary(&runtime);
        match transport {
            Transport::Stdio => {
                tracing::info!("serving {summary} over stdio");
                serve_stdio(runtime).await
            }
            Transport::Http => {
                let host = args.host.unwrap_or_else(|| s.host.clone());
                let port = args.port.unwrap_or(s.port);
                let stateless = args.stateless || s.stateless;
                serve_http(runtime, &host, port, stateless, &summary).await
            }
        }
    })
}

/// "4 tools from 2 apps (notes: 3, tasks: 1)".
fn summary(runtime: &Runtime) -> String {
    let per_app: Vec<String> = runtime
        .apps
        .iter()
        .map(|a| {
            let n = runtime
                .tools
                .iter()
                .filter(|t| t.entry.app == a.name)
                .count();
            format!("{}: {n}", a.name)
        })
        .collect();
    format!(
        "{} from {} ({})",
        plural(runtime.tools.len(), "tool"),
        plural(runtime.apps.len(), "app"),
        per_app.join(", ")
    )
}

/// "1 tool", "2 tools".
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(term) => term,
            Err(e) => {
                tracing::warn!(error = %e, "SIGTERM cannot be caught; only Ctrl-C stops the server gracefully");
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Waits (at most the shutdown timeout) for the calls in flight, then closes the
/// database pool.
async fn drain(runtime: &Runtime) {
    let in_flight = runtime.in_flight.len();
    runtime.in_flight.close();
    if in_flight > 0 {
        tracing::info!(in_flight, "shutting down: finishing the calls in flight");
    }
    let limit = Duration::from_secs(runtime.settings.server.shutdown_timeout);
    if tokio::time::timeout(limit, runtime.in_flight.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            still_running = runtime.in_flight.len(),
            "shutdown timeout reached; stopping with calls still running"
        );
    }
    if let Some(database) = &runtime.database {
        database.close();
    }
}

async fn serve_stdio(runtime: Arc<Runtime>) -> Result<(), Error> {
    let transport = GuardedStdio::new(tokio::io::stdin(), tokio::io::stdout());
    let server = MangoServer::new(runtime.clone(), TransportKind::Stdio);
    let running = match server.serve(transport).await {
        Ok(running) => running,
        // The client left before `initialize`: nothing to serve, nothing went wrong.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => {
            tracing::info!("stdin closed before `initialize`; stopping");
            return Ok(());
        }
        Err(e) => return Err(Error::Serve(e.to_string())),
    };
    let cancel = running.cancellation_token();
    let waiting = running.waiting();
    tokio::pin!(waiting);
    tokio::select! {
        result = &mut waiting => {
            result.map_err(|e| Error::Serve(e.to_string()))?;
            tracing::info!("stdin closed; stopping");
            Ok(())
        }
        _ = shutdown_signal() => {
            drain(&runtime).await;
            cancel.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(2), waiting).await;
            Ok(())
        }
    }
}

async fn serve_http(
    runtime: Arc<Runtime>,
    host: &str,
    port: u16,
    stateless: bool,
    summary: &str,
) -> Result<(), Error> {
    use axum::serve::ListenerExt;

    let addr = format!("{host}:{port}");
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|source| Error::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local: SocketAddr = listener.local_addr()?;
    let cancel = CancellationToken::new();
    let app = http::router(runtime.clone(), stateless, cancel.clone());
    let url = format!(
        "http://{}{}",
        if local.is_ipv6() {
            format!("[{}]:{}", local.ip(), local.port())
        } else {
            local.to_string()
        },
        runtime.settings.server.path
    );
    tracing::info!(
        mode = if stateless { "stateless" } else { "sessions" },
        "serving {summary} over Streamable HTTP at {url}"
    );
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await
    });
    let server_failed = tokio::select! {
        result = server => Some(result),
        _ = shutdown_signal() => None,
    };
    if let Some(result) = server_failed {
        return match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::Serve(e.to_string())),
            Err(e) => Err(Error::Serve(e.to_string())),
        };
    }
    drain(&runtime).await;
    cancel.cancel();
    let _ = stop_tx.send(());
    tracing::info!("stopped");
    Ok(())
}
