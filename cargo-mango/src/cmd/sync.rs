//! `sync`: bring the generated manage/ crate in step with the installed apps.

use std::path::Path;
use std::process::ExitCode;

use crate::error::Result;
use crate::project::Project;

pub fn run(manifest_path: Option<&Path>) -> Result<ExitCode> {
    let project = Project::find(manifest_path)?;
    let apps = project.sync()?;
    let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
    match apps.len() {
        0 => eprintln!("{}: no installed app", project.name),
        1 => eprintln!("{}: 1 installed app ({})", project.name, names[0]),
        n => eprintln!(
            "{}: {n} installed apps ({})",
            project.name,
            names.join(", ")
        ),
    }
    Ok(ExitCode::SUCCESS)
}
