//! `migrate`: build the project, run its binary's `migrate`, then write each app's
//! `schema.rs` from the tables its migrations made (`--force`: also over a file edited
//! by hand, or one that does not parse).

use std::process::ExitCode;

use super::{models, runner};
use crate::cli::Passthrough;
use crate::error::{Error, Result};
use crate::project::Project;

pub fn run(mut args: Passthrough) -> Result<ExitCode> {
    let force = runner::take_flag(&mut args.args, "--force");
    runner::checked(&["migrate"], args, |build, rest| {
        let project = Project::find(build.manifest_path.as_deref())?;
        let apps = project.apps()?;
        // A schema.rs that does not parse stops the build with rustc's errors: said
        // here first, in words. With --force it is written again from the database by
        // the last build of the project.
        let broken: Vec<String> = models::with_schema(&project, &apps)
            .iter()
            .filter_map(|m| {
                let text = std::fs::read_to_string(&m.file).ok()?;
                crate::models::parse(&text)
                    .err()
                    .map(|e| format!("{} does not parse ({e})", m.shown))
            })
            .collect();
        if !broken.is_empty() && !force {
            return Err(Error::Models(format!(
                "{}: nothing was migrated or written. Fix it, or write it again from the database with `cargo mango migrate --force`",
                broken.join("; ")
            )));
        }
        let exe = match runner::built(build) {
            Ok((_, exe)) => exe,
            Err(Error::Build) if !broken.is_empty() => {
                let profile = if build.release {
                    "release"
                } else {
                    build.profile.as_deref().unwrap_or("debug")
                };
                let Some(exe) = project.last_binary(profile) else {
                    return Err(Error::Models(format!(
                        "{}, and the project has never been built: there is no binary to read the database with; fix the file by hand",
                        broken.join("; ")
                    )));
                };
                eprintln!(
                    "The build failed; writing schema.rs from the database with the last build ({}), then run `cargo mango migrate` again.",
                    exe.display()
                );
                models::write_schemas(&project, &exe, true)?;
                return Ok(ExitCode::FAILURE);
            }
            Err(e) => return Err(e),
        };
        let listing = rest.iter().any(|a| a == "--list");
        let mut cmd = runner::binary(&exe, &project);
        cmd.args(&rest);
        let code = runner::status(cmd, &exe)?;
        if code != ExitCode::SUCCESS || listing {
            return Ok(code);
        }
        Ok(if models::write_schemas(&project, &exe, force)? {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}
