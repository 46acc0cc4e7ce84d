//! `cargo mango startproject <name> [dir]`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::error::{Error, Result};
use crate::fsx::{create_dir_atomic, is_missing_or_empty};
use crate::names::check_project;
use crate::project::{MANAGE_DIR, render_manage};
use crate::template;

/// This checkout's mango-rt, when cargo-mango runs from a checkout.
fn checkout_runtime() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../mango-rt");
    path.join("Cargo.toml")
        .is_file()
        .then(|| path.canonicalize().ok())
        .flatten()
}

/// The `mango-rt = …` line of the project's `[workspace.dependencies]`, and the
/// checkout whose Cargo.lock seeds the project's (same versions, shared builds).
fn runtime_dependency(mango_path: Option<&Path>) -> Result<(String, Option<PathBuf>)> {
    let path = match mango_path {
        Some(p) => {
            let manifest = p.join("Cargo.toml");
            let is_runtime =
                std::fs::read_to_string(&manifest).is_ok_and(|t| t.contains("name = \"mango-rt\""));
            if !is_runtime {
                return Err(Error::Manifest {
                    path: manifest,
                    message: "--mango-path must be the folder of the mango-rt crate".into(),
                });
            }
            Some(p.canonicalize().map_err(Error::io(p))?)
        }
        None => checkout_runtime(),
    };
    Ok(match path {
        Some(path) => {
            let text = path.to_string_lossy().into_owned();
            let quoted = toml_edit::Value::from(text).to_string();
            let checkout = path.parent().map(Path::to_owned);
            (
                format!("mango-rt = {{ path = {} }}", quoted.trim()),
                checkout,
            )
        }
        None => (
            format!("mango-rt = \"{}\"", env!("CARGO_PKG_VERSION")),
            None,
        ),
    })
}

pub fn run(name: &str, dir: Option<&Path>, mango_path: Option<&Path>) -> Result<ExitCode> {
    check_project(name)?;
    let target = match dir {
        Some(d) => std::path::absolute(d).map_err(Error::io(d))?,
        None => std::env::current_dir().map_err(Error::io("."))?.join(name),
    };
    if !is_missing_or_empty(&target) {
        return Err(Error::NotEmpty { path: target });
    }
    let (dependency, checkout) = runtime_dependency(mango_path)?;
    let vars = [
        ("project_name", name),
        ("mango_rt_dependency", dependency.as_str()),
    ];
    let files = template::render_tree("project", &vars);
    let (manage_manifest, manage_main) = render_manage(name, &[]);
    create_dir_atomic(&target, |stage| {
        template::write_files(stage, &files)?;
        template::write_files(
            stage,
            &[
                (format!("{MANAGE_DIR}/Cargo.toml"), manage_manifest),
                (format!("{MANAGE_DIR}/main.rs"), manage_main),
            ],
        )?;
        if let Some(lock) = checkout
            .map(|c| c.join("Cargo.lock"))
            .filter(|l| l.is_file())
        {
            let dest = stage.join("Cargo.lock");
            std::fs::copy(&lock, &dest).map_err(Error::io(&dest))?;
        }
        Ok(())
    })?;
    let shown = dir.map_or_else(|| PathBuf::from(name), Path::to_owned);
    eprintln!(
        "Created the project `{name}` in {}.\nNext:\n  cd {}\n  cargo mango startapp <name>   # an app, with an example tool\n  cargo mango serve             # serve its tools at http://127.0.0.1:8000/mcp",
        shown.display(),
        shown.display()
    );
    Ok(ExitCode::SUCCESS)
}
