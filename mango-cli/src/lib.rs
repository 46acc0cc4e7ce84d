//! The command line of a mango project's binary: its subcommands and flags, declared
//! once. The binary (`mango_rt::__private::manage`) parses its arguments with these definitions;
//! `cargo mango serve|migrate|run|apps|tools|check` checks the arguments it hands on
//! with the same ones (a bad flag is refused before anything is built) and shows them
//! in its help. Exit codes are here too, for both.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// The exit codes of the project's binary and of `cargo mango`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    /// The command ran and failed (a bad setting, a port in use, a build error, a
    /// command's error …).
    Failure = 1,
    /// The command line, or a name given on it, was wrong.
    Usage = 2,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// The transport `serve` uses (also `[server] transport` in `Mango.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ServeTransport {
    /// For a client that starts the server (Claude Desktop …).
    Stdio,
    /// Streamable HTTP.
    Http,
}

/// The project's binary.
#[derive(Parser)]
#[command(about = "A mango project: serve its MCP tools, list its apps", version)]
pub struct Cli {
    /// The settings file (default: Mango.toml in this directory or the nearest parent,
    /// else in the project the binary was built from).
    #[arg(long, env = "MANGO_SETTINGS", global = true)]
    pub settings: Option<PathBuf>,
    /// The settings profile.
    #[arg(long, env = "MANGO_PROFILE", global = true, default_value = "default")]
    pub profile: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve every installed app's tools over MCP.
    Serve(ServeArgs),
    /// List the installed apps and their tools.
    Apps(AppsArgs),
    /// Apply every app's pending migrations, or move one app to a version.
    Migrate(MigrateArgs),
    /// Run a management command (with none: list them all).
    Run(RunArgs),
}

#[derive(Args, Default)]
pub struct ServeArgs {
    /// stdio (for a client that starts the server, like Claude Desktop) or http.
    #[arg(long, value_enum)]
    pub transport: Option<ServeTransport>,
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

#[derive(Args, Default)]
pub struct AppsArgs {}

#[derive(Args, Default)]
pub struct MigrateArgs {
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
pub struct RunArgs {
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

/// Checks the arguments of one of the binary's subcommands (`["serve", "--port", "0"]`)
/// as the binary will parse them: `Err` carries clap's error, to print and exit with.
pub fn check(subcommand_and_args: &[String]) -> Result<(), clap::Error> {
    let argv = std::iter::once("cargo mango".to_owned()).chain(subcommand_and_args.iter().cloned());
    Cli::try_parse_from(argv).map(|_| ())
}

/// The help of one of the binary's subcommands, for `cargo mango <subcommand> --help`.
pub fn help(subcommand: &str) -> String {
    use clap::CommandFactory;
    let mut cli = Cli::command();
    match cli.find_subcommand_mut(subcommand) {
        Some(sub) => format!(
            "The project's binary takes these, after the build options:\n\n{}",
            sub.render_help()
        ),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn arguments_are_checked_as_the_binary_parses_them() {
        assert!(check(&args(&["serve", "--transport", "stdio", "--port", "0"])).is_ok());
        let e = check(&args(&["serve", "--transport", "carrier-pigeon"])).err();
        assert!(e.is_some_and(|e| e.to_string().contains("carrier-pigeon")));
        assert!(check(&args(&["migrate", "--list", "notes"])).is_err());
        assert!(check(&args(&["migrate", "notes", "zero"])).is_ok());
        assert!(check(&args(&["run", "export", "--since", "3"])).is_ok());
        assert!(help("serve").contains("--transport"));
        assert_eq!(Exit::Usage as u8, 2);
    }
}
