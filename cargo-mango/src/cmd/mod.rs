//! One module per subcommand.

use std::process::ExitCode;

use crate::cli::{Cargo, Command};
use crate::error::Result;

mod apps;
mod check;
mod install;
pub mod makemigrations;
mod migrate;
mod models;
mod reload;
mod run;
mod runner;
mod serve;
mod startapp;
mod startproject;
mod sync;
mod tools;

pub fn run(cli: Cargo) -> Result<ExitCode> {
    let Cargo::Mango(mango) = cli;
    match mango.command {
        Command::Startproject {
            name,
            dir,
            mango_path,
        } => startproject::run(&name, dir.as_deref(), mango_path.as_deref()),
        Command::Startapp {
            name,
            manifest_path,
        } => startapp::run(&name, manifest_path.as_deref()),
        Command::Sync { manifest_path } => sync::run(manifest_path.as_deref()),
        Command::Makemigrations {
            app,
            name,
            diff,
            manifest_path,
        } => makemigrations::run(&app, &name, diff, manifest_path.as_deref()),
        Command::Serve(args) => serve::run(args),
        Command::Apps(args) => apps::run(args),
        Command::Check(args) => check::run(args),
        Command::Tools(args) => tools::run(args),
        Command::Migrate(args) => migrate::run(args),
        Command::Run(args) => run::run(args),
        Command::Install {
            client,
            name,
            env,
            dry_run,
            build,
        } => install::run(install::InstallArgs {
            client,
            name,
            env,
            dry_run,
            build,
        }),
        Command::Completions { shell } => {
            let mut command = <Cargo as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "cargo", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
    }
}
