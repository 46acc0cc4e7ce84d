//! One module per subcommand.

use std::process::ExitCode;

use crate::cli::{Cargo, Command};
use crate::error::Result;

pub mod makemigrations;
mod runner;
mod startapp;
mod startproject;

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
        Command::Sync { manifest_path } => {
            let project = crate::project::Project::find(manifest_path.as_deref())?;
            let apps = project.sync()?;
            let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
            eprintln!(
                "{}: {} installed apps ({})",
                project.name,
                apps.len(),
                names.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            build,
            transport,
            host,
            port,
            stateless,
            migrate,
        } => {
            let mut args = vec!["serve".to_owned()];
            if let Some(t) = transport {
                args.extend(["--transport".to_owned(), t]);
            }
            if let Some(h) = host {
                args.extend(["--host".to_owned(), h]);
            }
            if let Some(p) = port {
                args.extend(["--port".to_owned(), p.to_string()]);
            }
            if stateless {
                args.push("--stateless".to_owned());
            }
            if migrate {
                args.push("--migrate".to_owned());
            }
            runner::build_and_run(&build, args)
        }
        Command::Migrate {
            build,
            list,
            app,
            target,
        } => {
            let mut args = vec!["migrate".to_owned()];
            if list {
                args.push("--list".to_owned());
            }
            args.extend(app);
            args.extend(target);
            runner::build_and_run(&build, args)
        }
        Command::Run {
            build,
            list,
            command,
        } => {
            let mut args = vec!["run".to_owned()];
            if list {
                args.push("--list".to_owned());
            }
            args.extend(command);
            runner::build_and_run(&build, args)
        }
        Command::Makemigrations {
            app,
            name,
            manifest_path,
        } => makemigrations::run(&app, &name, manifest_path.as_deref()),
        Command::Apps { build } => runner::build_and_run(&build, vec!["apps".to_owned()]),
        Command::Check { build } => {
            runner::build_and_run(&build, ["run", "check"].map(str::to_owned).to_vec())
        }
        Command::Tools { build } => runner::build_and_run(
            &build,
            ["run", "tools", "--json"].map(str::to_owned).to_vec(),
        ),
    }
}
