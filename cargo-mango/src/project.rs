//! A mango project on disk: finding it, reading its installed apps with
//! `cargo metadata`, and generating the `manage/` crate that links them.

use std::path::{Path, PathBuf};

use cargo_metadata::{MetadataCommand, TargetKind};
use toml_edit::DocumentMut;

use crate::error::{Error, Result};
use crate::fsx::write_atomic;
use crate::template;

/// The folder of the generated crate that builds the project's binary.
pub const MANAGE_DIR: &str = "manage";

/// A project: a Cargo workspace whose manifest has `[workspace.metadata.mango]`.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub manifest: PathBuf,
    /// The project's name: its binary's and the `manage` package's.
    pub name: String,
}

/// An installed app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// The package name.
    pub name: String,
    /// The library target's name (what `use … as _;` names).
    pub lib_name: String,
    /// What its tools' names start with.
    pub prefix: String,
    /// Its folder, relative to the project root, with `/`.
    pub dir: String,
    /// The installed apps it depends on (their migrations run first).
    pub depends_on: Vec<String>,
}

fn read_doc(path: &Path) -> Result<DocumentMut> {
    let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
    text.parse::<DocumentMut>().map_err(|e| Error::Manifest {
        path: path.to_owned(),
        message: format!("not valid TOML: {e}"),
    })
}

/// The project's name from `[workspace.metadata.mango] project`, if the manifest is a
/// project's.
fn project_name(manifest: &Path) -> Result<Option<String>> {
    let doc = read_doc(manifest)?;
    let Some(mango) = doc
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("mango"))
    else {
        return Ok(None);
    };
    match mango.get("project").and_then(|p| p.as_str()) {
        Some(name) => Ok(Some(name.to_owned())),
        None => Err(Error::Manifest {
            path: manifest.to_owned(),
            message: "[workspace.metadata.mango] needs `project = \"<name>\"`: the name of the project's binary".into(),
        }),
    }
}

impl Project {
    /// The binary the last successful build left, for `profile` (`debug`, `release` …).
    pub fn last_binary(&self, profile: &str) -> Option<PathBuf> {
        let metadata = MetadataCommand::new()
            .manifest_path(&self.manifest)
            .no_deps()
            .exec()
            .ok()?;
        let exe = metadata
            .target_directory
            .as_std_path()
            .join(profile)
            .join(format!("{}{}", self.name, std::env::consts::EXE_SUFFIX));
        exe.is_file().then_some(exe)
    }

    /// The project at `manifest_path`, or the nearest one above the current directory.
    pub fn find(manifest_path: Option<&Path>) -> Result<Project> {
        if let Some(manifest) = manifest_path {
            let manifest = std::path::absolute(manifest).map_err(Error::io(manifest))?;
            let manifest = if manifest.is_dir() {
                manifest.join("Cargo.toml")
            } else {
                manifest
            };
            return match project_name(&manifest)? {
                Some(name) => Ok(Project::at(manifest, name)),
                None => Err(Error::NoProject { start: manifest }),
            };
        }
        let cwd = std::env::current_dir().map_err(Error::io("."))?;
        for dir in cwd.ancestors() {
            let manifest = dir.join("Cargo.toml");
            if manifest.is_file()
                && let Some(name) = project_name(&manifest)?
            {
                return Ok(Project::at(manifest, name));
            }
        }
        Err(Error::NoProject { start: cwd })
    }

    fn at(manifest: PathBuf, name: String) -> Project {
        let root = manifest.parent().map(Path::to_owned).unwrap_or_default();
        Project {
            root,
            manifest,
            name,
        }
    }

    /// Whether the project builds mango-rt for PostgreSQL (its `postgres` feature).
    pub fn uses_postgres(&self) -> Result<bool> {
        let doc = read_doc(&self.manifest)?;
        let features = doc
            .get("workspace")
            .and_then(|w| w.get("dependencies"))
            .and_then(|d| d.get("mango-rt"))
            .and_then(|m| m.get("features"))
            .and_then(|f| f.as_array());
        Ok(features.is_some_and(|f| f.iter().any(|v| v.as_str() == Some("postgres"))))
    }

    fn manage_manifest(&self) -> PathBuf {
        self.root.join(MANAGE_DIR).join("Cargo.toml")
    }

    /// Reads the installed apps and brings `manage/` in step with them. Returns the apps,
    /// sorted by name.
    pub fn sync(&self) -> Result<Vec<App>> {
        self.prune_manage()?;
        let apps = self.apps()?;
        self.write_manage(&apps)?;
        Ok(apps)
    }

    /// Drops from `manage/Cargo.toml` the apps whose folder is gone, so that
    /// `cargo metadata` can read the workspace (a missing path dependency stops it).
    fn prune_manage(&self) -> Result<()> {
        let path = self.manage_manifest();
        if !path.is_file() {
            return self.write_manage(&[]);
        }
        let mut doc = read_doc(&path)?;
        let Some(deps) = doc
            .get_mut("dependencies")
            .and_then(|d| d.as_table_like_mut())
        else {
            return Ok(());
        };
        let gone: Vec<String> = deps
            .iter()
            .filter_map(|(name, dep)| {
                let rel = dep.get("path")?.as_str()?;
                let exists = self
                    .root
                    .join(MANAGE_DIR)
                    .join(rel)
                    .join("Cargo.toml")
                    .is_file();
                (!exists).then(|| name.to_owned())
            })
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        for name in &gone {
            deps.remove(name);
        }
        write_atomic(&path, &doc.to_string())?;
        Ok(())
    }

    /// The workspace members tagged `[package.metadata.mango]`.
    pub fn apps(&self) -> Result<Vec<App>> {
        let metadata = MetadataCommand::new()
            .manifest_path(&self.manifest)
            .no_deps()
            .exec()
            .map_err(|e| Error::Metadata {
                manifest: self.manifest.clone(),
                message: match e {
                    cargo_metadata::Error::CargoMetadata { stderr } => stderr.trim().to_owned(),
                    other => other.to_string(),
                },
            })?;
        let mut apps = Vec::new();
        for package in metadata.workspace_packages() {
            let Some(config) = package.metadata.get("mango") else {
                continue;
            };
            let manifest: PathBuf = package.manifest_path.clone().into();
            let bad = |message: String| Error::Manifest {
                path: manifest.clone(),
                message,
            };
            let Some(config) = config.as_object() else {
                return Err(bad("[package.metadata.mango] must be a table".into()));
            };
            for key in config.keys() {
                if key != "prefix" {
                    return Err(bad(format!(
                        "unknown key `{key}` in [package.metadata.mango]; the keys are: prefix"
                    )));
                }
            }
            let prefix = match config.get("prefix") {
                None => package.name.to_string(),
                Some(serde_json::Value::String(p)) => p.clone(),
                Some(other) => {
                    return Err(bad(format!(
                        "[package.metadata.mango] prefix must be a string, not {other}"
                    )));
                }
            };
            if let Some(c) = prefix
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            {
                return Err(bad(format!(
                    "[package.metadata.mango] prefix `{prefix}` has `{c}`; tool names may hold only A-Z a-z 0-9 _ - ."
                )));
            }
            let Some(lib) = package.targets.iter().find(|t| {
                t.kind
                    .iter()
                    .any(|k| matches!(k, TargetKind::Lib | TargetKind::RLib))
            }) else {
                return Err(bad(format!(
                    "the app `{}` has no library target: an app is a library crate (src/lib.rs)",
                    package.name
                )));
            };
            let dir = manifest.parent().unwrap_or(&self.root);
            let rel = dir
                .strip_prefix(&self.root)
                .unwrap_or(dir)
                .to_string_lossy()
                .replace('\\', "/");
            apps.push(App {
                name: package.name.to_string(),
                lib_name: lib.name.replace('-', "_"),
                prefix,
                dir: rel,
                depends_on: package
                    .dependencies
                    .iter()
                    .filter(|d| d.path.is_some())
                    .map(|d| d.name.clone())
                    .collect(),
            });
        }
        apps.sort_by(|a, b| a.name.cmp(&b.name));
        // Keep only dependencies that are installed apps.
        let names: Vec<String> = apps.iter().map(|a| a.name.clone()).collect();
        for app in &mut apps {
            app.depends_on.retain(|d| names.contains(d));
            app.depends_on.sort();
        }
        Ok(apps)
    }

    /// Writes `manage/Cargo.toml` and `manage/main.rs` for these apps (only files whose
    /// text changes are written, so an unchanged project rebuilds nothing).
    pub fn write_manage(&self, apps: &[App]) -> Result<()> {
        let (manifest, main) = render_manage(&self.name, apps);
        write_atomic(&self.manage_manifest(), &manifest)?;
        write_atomic(&self.root.join(MANAGE_DIR).join("main.rs"), &main)?;
        Ok(())
    }
}

/// The text of `manage/Cargo.toml` and `manage/main.rs`.
pub fn render_manage(project: &str, apps: &[App]) -> (String, String) {
    let deps: String = apps
        .iter()
        .map(|a| format!("{} = {{ path = \"../{}\" }}\n", a.name, a.dir))
        .collect();
    let uses: String = apps
        .iter()
        .map(|a| format!("use {} as _;\n", a.lib_name))
        .collect();
    let infos: Vec<String> = apps
        .iter()
        .map(|a| {
            let deps = if a.depends_on.is_empty() {
                String::new()
            } else {
                format!(".depends_on(&{:?})", a.depends_on)
            };
            format!("AppInfo::new({:?}, {:?}){deps}", a.name, a.prefix)
        })
        .collect();
    // As rustfmt lays it out: on one line when the array is short (its `array_width`,
    // 60), else one app a line; so `cargo fmt --check` passes on a project.
    let one_line = infos.join(", ");
    let infos = if infos.is_empty() || one_line.len() + 2 <= 60 {
        one_line
    } else {
        let lines: String = infos.iter().map(|i| format!("\n    {i},")).collect();
        format!("{lines}\n")
    };
    let vars = [
        ("project_name", project),
        ("app_dependencies", deps.trim_end()),
        ("app_uses", uses.as_str()),
        ("app_infos", infos.as_str()),
    ];
    (
        template::render(template::file("manage/Cargo.toml"), &vars),
        template::render(template::file("manage/main.rs"), &vars),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, prefix: &str) -> App {
        App {
            name: name.into(),
            lib_name: name.replace('-', "_"),
            prefix: prefix.into(),
            dir: format!("apps/{name}"),
            depends_on: Vec::new(),
        }
    }

    /// The generated crate that links the apps: with none, and with two.
    #[test]
    fn rendered_manage() {
        let (manifest, main) = render_manage("mysite", &[]);
        insta::assert_snapshot!("manage_no_apps_cargo_toml", manifest);
        insta::assert_snapshot!("manage_no_apps_main_rs", main);
        let mut hooks = app("web-hooks", "");
        hooks.depends_on = vec!["notes".into()];
        let (manifest, main) = render_manage("mysite", &[app("notes", "notes"), hooks]);
        insta::assert_snapshot!("manage_two_apps_cargo_toml", manifest);
        insta::assert_snapshot!("manage_two_apps_main_rs", main);
    }
}
