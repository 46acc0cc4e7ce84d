//! The command line: `cargo mango <command>`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo", bin_name = "cargo", styles = clap::builder::Styles::styled())]
pub enum Cargo {
    /// mango: Django's way of building a site, for MCP servers.
    Mango(Mango),
}

#[derive(Args)]
#[command(version, about = "mango: Django's way of building a site, for MCP servers", long_about = None)]
pub struct Mango {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a new project (a Cargo workspace with Mango.toml) in DIR (default: ./NAME).
    Startproject {
        /// The project's name: its binary's name (letters, digits, `_`, `-`).
        name: String,
        /// Where to create it; must not exist or be empty.
        dir: Option<PathBuf>,
        /// The mango-rt to depend on, as a path (default: this checkout's, else the
        /// crates.io release).
        #[arg(long, env = "MANGO_RT_PATH")]
        mango_path: Option<PathBuf>,
    },
    /// Create a new app in apps/NAME of the current project.
    Startapp {
        /// The app's name: a lower-case Rust identifier (also its tools' prefix).
        name: String,
        /// The project's Cargo.toml (default: found from the current directory).
        #[arg(long)]
        manifest_path: Option<PathBuf>,
    },
    /// Build the project and serve every installed app's tools over MCP (`--reload`:
    /// build and serve again on every change of the apps, Mango.toml or migrations;
    /// HTTP only).
    #[command(after_help = mango_cli::help("serve"))]
    Serve(Passthrough),
    /// List the installed apps and their tools.
    #[command(after_help = mango_cli::help("apps"))]
    Apps(Passthrough),
    /// Check the project (settings, tool names, middleware, pending migrations): the
    /// built-in `check` command.
    Check(Passthrough),
    /// Print every tool with its input and output schema, as JSON.
    Tools(Passthrough),
    /// Apply every app's pending migrations (`--list` shows them; `<app> <version>`
    /// moves one app forward or back; `<app> zero` undoes all of its migrations), then
    /// write each app's src/schema.rs from the tables they made (`--force`: also over a
    /// schema.rs edited by hand or one that does not parse).
    #[command(after_help = mango_cli::help("migrate"))]
    Migrate(Passthrough),
    /// Run a management command of an app (with none: list every command).
    #[command(after_help = mango_cli::help("run"))]
    Run(Passthrough),
    /// Create a migration (up.sql and down.sql) in apps/APP/migrations: empty, or with
    /// --diff the SQL that makes the database match the app's src/schema.rs.
    Makemigrations {
        /// The app.
        app: String,
        /// What the migration does, as a name (`create_notes`).
        name: String,
        /// Write the difference between the app's src/schema.rs and its tables in the
        /// database (builds the project to read them); the file is then what
        /// `cargo mango migrate` keeps writing.
        #[arg(long)]
        diff: bool,
        /// The project's Cargo.toml (default: found from the current directory).
        #[arg(long)]
        manifest_path: Option<PathBuf>,
    },
    /// Bring the generated manage/ crate in step with the installed apps (every other
    /// command does this first).
    Sync {
        /// The project's Cargo.toml (default: found from the current directory).
        #[arg(long)]
        manifest_path: Option<PathBuf>,
    },
    /// Add the project to an MCP client's configuration: builds the release binary and
    /// writes its entry (over stdio, `MANGO_SETTINGS` naming the project's Mango.toml),
    /// merged into the client's file (other servers untouched, the old file kept as
    /// `.json.bak`, the new one written atomically).
    #[command(
        after_help = "Files: claude-desktop: its claude_desktop_config.json (~/Library/Application Support/Claude on macOS, %APPDATA%\\Claude on Windows, ~/.config/Claude elsewhere); claude-code: .mcp.json at the project's root; cursor: ~/.cursor/mcp.json; vscode: .vscode/mcp.json at the project's root; mcp-json: printed, not written."
    )]
    Install {
        /// The client.
        client: Client,
        /// The server's name in the client (default: the project's).
        #[arg(long)]
        name: Option<String>,
        /// An environment variable for the server, NAME=value (repeatable), e.g. a
        /// secret: --env MANGO_AUTH__TOKENS__ME=…
        #[arg(long, value_name = "NAME=VALUE")]
        env: Vec<String>,
        /// Print the file as it would be, write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Print the completion script of `cargo mango` for a shell (bash, zsh, fish,
    /// elvish, powershell): e.g. `cargo mango completions bash >
    /// ~/.local/share/bash-completion/completions/cargo-mango`.
    #[command(
        after_help = "The script completes `cargo mango …`. bash and zsh know one completion per command name, `cargo`: load this one after rustup's (`rustup completions`) and it takes over `cargo`'s; fish adds it beside cargo's own."
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The MCP clients `install` knows.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Client {
    ClaudeDesktop,
    ClaudeCode,
    Cursor,
    Vscode,
    /// Print the `mcpServers` JSON, for any other client.
    McpJson,
}

/// A subcommand of the project's binary: cargo's build options and the binary's own
/// arguments, which are handed on as they are (its options are listed below the build
/// options).
#[derive(Args)]
pub struct Passthrough {
    #[command(flatten)]
    pub build: BuildArgs,
    /// The arguments of the project's binary.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

/// How to build the project's binary (passed on to `cargo build`).
#[derive(Args, Clone, Default, Debug)]
pub struct BuildArgs {
    /// The project's Cargo.toml (default: found from the current directory).
    #[arg(long)]
    pub manifest_path: Option<PathBuf>,
    /// Build with the release profile.
    #[arg(long, short = 'r')]
    pub release: bool,
    /// Build with this cargo profile.
    #[arg(long, value_name = "PROFILE-NAME", conflicts_with = "release")]
    pub profile: Option<String>,
    /// Cargo features to enable (e.g. `notes/search`).
    #[arg(long, short = 'F', value_delimiter = ',')]
    pub features: Vec<String>,
    /// Do not print cargo's progress.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl BuildArgs {
    /// These options and `more` (given later on the command line) together.
    pub fn merge(self, more: BuildArgs) -> BuildArgs {
        let mut features = self.features;
        features.extend(more.features);
        BuildArgs {
            manifest_path: more.manifest_path.or(self.manifest_path),
            release: self.release || more.release,
            profile: more.profile.or(self.profile),
            features,
            quiet: self.quiet || more.quiet,
        }
    }
}
