//! `sync`: bring the generated manage/ crate in step with the installed apps.

use std::path::Path;
use std::process::ExitCode;

use crate::error::Result;
use crate::project::Project;

pub fn run(manifest_path: Option<&Path>) -> Result<ExitCode> {
    let project = Project::find(manifest_path)?;
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
