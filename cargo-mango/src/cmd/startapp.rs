//! `cargo mango startapp <name>`.

use std::path::Path;
use std::process::ExitCode;

use toml_edit::DocumentMut;

use crate::error::{Error, Result};
use crate::fsx::{create_dir_atomic, write_atomic};
use crate::names::{check_app, same_crate};
use crate::project::Project;
use crate::template;

/// Every crate name in the project's build: its packages and, from Cargo.lock, its
/// dependencies.
fn taken_names(project: &Project) -> Result<Vec<(String, &'static str)>> {
    let mut names = vec![(project.name.clone(), "the project's binary")];
    let lock = project.root.join("Cargo.lock");
    if let Ok(text) = std::fs::read_to_string(&lock)
        && let Ok(doc) = text.parse::<DocumentMut>()
        && let Some(packages) = doc.get("package").and_then(|p| p.as_array_of_tables())
    {
        for package in packages.iter() {
            if let Some(name) = package.get("name").and_then(|n| n.as_str()) {
                names.push((
                    name.to_owned(),
                    "a crate in this project's build (Cargo.lock)",
                ));
            }
        }
    }
    for app in project.apps()? {
        names.push((app.name, "an app of this project"));
    }
    Ok(names)
}

/// Adds `apps/<name>` to `[workspace] members` unless a glob there covers it already;
/// formatting and comments are kept.
fn ensure_member(project: &Project, name: &str) -> Result<()> {
    let text = std::fs::read_to_string(&project.manifest).map_err(Error::io(&project.manifest))?;
    let mut doc: DocumentMut = text.parse().map_err(|e| Error::Manifest {
        path: project.manifest.clone(),
        message: format!("not valid TOML: {e}"),
    })?;
    let member = format!("apps/{name}");
    let Some(members) = doc
        .get_mut("workspace")
        .and_then(|w| w.get_mut("members"))
        .and_then(|m| m.as_array_mut())
    else {
        return Err(Error::Manifest {
            path: project.manifest.clone(),
            message: "[workspace] has no `members` list; add `members = [\"apps/*\", \"manage\"]`"
                .into(),
        });
    };
    let covered = members
        .iter()
        .filter_map(|m| m.as_str())
        .any(|m| m == "apps/*" || m == member);
    let mut changed = false;
    if !covered {
        members.push(member);
        changed = true;
    }
    // Apps use Diesel's derives, so the workspace lists `diesel` (projects made before
    // the database layer did not).
    if let Some(deps) = doc
        .get_mut("workspace")
        .and_then(|w| w.get_mut("dependencies"))
        .and_then(|d| d.as_table_like_mut())
        && !deps.contains_key("diesel")
    {
        let mut diesel = toml_edit::InlineTable::new();
        diesel.insert("version", "2.3".into());
        diesel.insert("default-features", false.into());
        deps.insert("diesel", toml_edit::Item::Value(diesel.into()));
        changed = true;
    }
    if changed {
        write_atomic(&project.manifest, &doc.to_string())?;
    }
    Ok(())
}

pub fn run(name: &str, manifest_path: Option<&Path>) -> Result<ExitCode> {
    check_app(name)?;
    let project = Project::find(manifest_path)?;
    let target = project.root.join("apps").join(name);
    if target.exists() {
        return Err(Error::InvalidName {
            name: name.to_owned(),
            what: "app",
            why: format!("{} already exists", target.display()),
        });
    }
    if let Some((taken, what)) = taken_names(&project)?
        .into_iter()
        .find(|(t, _)| same_crate(t, name))
    {
        return Err(Error::InvalidName {
            name: name.to_owned(),
            what: "app",
            why: format!("`{taken}` is already {what}; crate names must differ within a build"),
        });
    }
    let version = crate::cmd::makemigrations::version_at(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
    );
    let id_column = if project.uses_postgres()? {
        "id BIGSERIAL PRIMARY KEY"
    } else {
        "id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"
    };
    // The app's URIs start with its name as their scheme (`_` is not allowed there).
    let scheme = name.replace('_', "-");
    let mut files = template::render_tree(
        "app",
        &[
            ("app_name", name),
            ("app_scheme", &scheme),
            ("version", &version),
            ("id_column", id_column),
        ],
    );
    // The tables as `cargo mango migrate` writes them, stamped as generated, so that
    // `migrate` keeps the file in step with the migrations.
    for (path, text) in &mut files {
        if path == "src/schema.rs" {
            *text = crate::models::stamp(name, text);
        }
    }
    ensure_member(&project, name)?;
    create_dir_atomic(&target, |stage| template::write_files(stage, &files))?;
    let apps = project.sync()?;
    let prefix = apps
        .iter()
        .find(|a| a.name == name)
        .map_or(name, |a| a.prefix.as_str());
    eprintln!(
        "Created the app `{name}` in apps/{name}: its tools are served as {prefix}_<fn name>.\nAdd tools to apps/{name}/src/lib.rs, then `cargo mango serve`."
    );
    Ok(ExitCode::SUCCESS)
}
