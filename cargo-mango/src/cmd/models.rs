//! Each app's `schema.rs` against its tables in the database, for `migrate` (write the
//! file), `makemigrations --diff` (write a migration) and `check` (compare them).

use std::path::{Path, PathBuf};

use super::runner;
use crate::error::{Error, Result};
use crate::fsx::write_atomic;
use crate::models::{self, DbTable, Inspected, Join, Table, Written};
use crate::project::{App, Project};

/// The database as the project's binary sees it (`inspectdb`).
pub fn inspect(project: &Project, exe: &Path) -> Result<Inspected> {
    let mut cmd = runner::binary(exe, project);
    cmd.args(["run", "inspectdb"]);
    let out = cmd.output().map_err(|source| Error::Spawn {
        program: exe.display().to_string(),
        source,
    })?;
    if !out.status.success() {
        return Err(Error::Models(format!(
            "the database's tables could not be read: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        Error::Models(format!(
            "`inspectdb` printed what cargo mango cannot read ({e}); are the project's mango-rt and cargo mango the same version?"
        ))
    })
}

/// One app's `schema.rs` and tables.
pub struct AppModels<'a> {
    pub app: &'a App,
    /// `apps/<app>/src/schema.rs`, relative to the project, for messages.
    pub shown: String,
    pub file: PathBuf,
    /// The tables its migrations create, in lower case.
    pub owned: std::collections::BTreeSet<String>,
}

/// The apps that keep a `schema.rs` beside migrations.
pub fn with_schema<'a>(project: &Project, apps: &'a [App]) -> Vec<AppModels<'a>> {
    apps.iter()
        .filter_map(|app| {
            let dir = project.root.join(&app.dir);
            let file = dir.join("src/schema.rs");
            let migrations = dir.join("migrations");
            (file.is_file() && migrations.is_dir()).then(|| AppModels {
                app,
                shown: format!("{}/src/schema.rs", app.dir),
                owned: models::owned_tables(&migrations),
                file,
            })
        })
        .collect()
}

impl AppModels<'_> {
    /// Whether the app compiles its `src/schema.rs`: its `src/lib.rs` declares
    /// `mod schema;` (not inline, not from another `#[path]`).
    pub fn compiled(&self) -> bool {
        let lib = self.file.with_file_name("lib.rs");
        std::fs::read_to_string(lib).is_ok_and(|text| declares_schema(&text))
    }

    /// Whether some of this app's migrations are not applied.
    pub fn pending(&self, db: &Inspected) -> bool {
        let prefix = format!("{} ", self.app.name);
        db.pending.iter().any(|p| p.starts_with(&prefix))
    }
}

/// Whether a crate root's `text` has `mod schema;` (with any visibility) outside
/// comments, not under a `#[path = …]` attribute: the module is then `src/schema.rs`.
fn declares_schema(text: &str) -> bool {
    let mut path_attribute = false;
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("").trim();
        if code.is_empty() {
            continue;
        }
        let tokens: Vec<&str> = code.split_whitespace().collect();
        let declared = tokens.windows(2).enumerate().any(|(i, w)| {
            w[0] == "mod"
                && (w[1] == "schema;" || (w[1] == "schema" && tokens.get(i + 2) == Some(&";")))
        });
        if declared && !path_attribute && !code.contains("#[path") {
            return true;
        }
        path_attribute = code.starts_with("#[path");
    }
    false
}

/// The database's tables among `names` (lower case), as `table!` sees them, and the
/// joins among them.
pub fn db_tables(
    db: &Inspected,
    names: &std::collections::BTreeSet<String>,
) -> Result<(Vec<Table>, Vec<Join>), String> {
    let present: Vec<&DbTable> = db
        .tables
        .iter()
        .filter(|t| names.contains(&t.name.to_ascii_lowercase()))
        .collect();
    let tables = present
        .iter()
        .map(|t| models::from_db(&db.backend, t))
        .collect::<Result<Vec<_>, String>>()?;
    Ok((tables, models::joins(&present)))
}

/// After `migrate`: writes each app's `schema.rs` from the tables its migrations
/// created, when the file is as `migrate` last wrote it (or with `force`). A file
/// edited by hand is left as it is, with a warning saying how it differs and what to
/// do; one that does not parse is an error (nothing written).
pub fn write_schemas(project: &Project, exe: &Path, force: bool) -> Result<bool> {
    let db = inspect(project, exe)?;
    let apps = project.apps()?;
    let mut ok = true;
    for m in with_schema(project, &apps) {
        if m.pending(&db) {
            // A schema.rs without the tables the code uses would not build, and then
            // nothing could migrate forward again.
            eprintln!(
                "  {} not written: some migrations of `{}` are not applied (it is written when they all are)",
                m.shown, m.app.name
            );
            continue;
        }
        if m.owned.is_empty() {
            // Its migrations create no table (they change other apps' or none).
            continue;
        }
        let (tables, joins) = match db_tables(&db, &m.owned) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("warning: {} not written: {e}", m.shown);
                continue;
            }
        };
        let new = models::stamp(&m.app.name, &models::render(&tables, &joins));
        let old = std::fs::read_to_string(&m.file).map_err(Error::io(&m.file))?;
        let write = force || models::written(&old) == Written::Generated;
        if write {
            if write_atomic(&m.file, &new)? {
                eprintln!("  Wrote {} from the database", m.shown);
            }
            continue;
        }
        match models::parse(&old) {
            Err(e) => {
                eprintln!(
                    "error: {} does not parse ({e}); it was left as it is. Fix it, or write it again from the database with `cargo mango migrate --force`",
                    m.shown
                );
                ok = false;
            }
            Ok(parsed) => {
                let differences = models::differences(&parsed, &tables);
                if !differences.is_empty() {
                    eprintln!(
                        "warning: {} was edited by hand and differs from the database ({}); it was left as it is. Turn the edit into a migration with `cargo mango makemigrations {} <name> --diff`, or write the file from the database with `cargo mango migrate --force`",
                        m.shown,
                        differences.join("; "),
                        m.app.name
                    );
                }
            }
        }
    }
    Ok(ok)
}

/// For `check`: a line per app with a `schema.rs`, `problem: …` where it and the
/// database disagree.
pub fn compare(project: &Project, exe: &Path) -> Vec<String> {
    let db = match inspect(project, exe) {
        Ok(db) => db,
        Err(e) => return vec![format!("models: not compared: {e}")],
    };
    let Ok(apps) = project.apps() else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for m in with_schema(project, &apps) {
        if m.pending(&db) {
            lines.push(format!(
                "models: {} not compared until the migrations of `{}` are applied",
                m.shown, m.app.name
            ));
            continue;
        }
        if !m.compiled() {
            lines.push(format!(
                "models: {} not compared: the app does not compile it (no `mod schema;` in {}/src/lib.rs); declare it there to use its tables, or delete the file",
                m.shown, m.app.dir
            ));
            continue;
        }
        let text = std::fs::read_to_string(&m.file).unwrap_or_default();
        let parsed = match models::parse(&text) {
            Ok(p) => p,
            Err(e) => {
                lines.push(format!(
                    "problem: {} does not parse ({e}); fix it, or write it from the database with `cargo mango migrate --force`",
                    m.shown
                ));
                continue;
            }
        };
        let mut names = m.owned.clone();
        names.extend(parsed.iter().map(|t| t.name.to_ascii_lowercase()));
        match db_tables(&db, &names) {
            Err(e) => lines.push(format!("models: {} not compared: {e}", m.shown)),
            Ok((tables, _)) => {
                let differences = models::differences(&parsed, &tables);
                if differences.is_empty() {
                    lines.push(format!(
                        "models: {} agrees with the database ({} table(s))",
                        m.shown,
                        tables.len()
                    ));
                } else {
                    lines.push(format!(
                        "problem: {} and the tables made by the migrations of `{app}` disagree: {}; write the file from the migrations with `cargo mango migrate --force`, or turn the edit into a migration with `cargo mango makemigrations {app} <name> --diff`",
                        m.shown,
                        differences.join("; "),
                        app = m.app.name
                    ));
                }
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::declares_schema;

    #[test]
    fn a_crate_root_declares_its_schema_module() {
        for yes in [
            "mod schema;",
            "pub mod schema;",
            "pub(crate) mod schema ;",
            "use x;\nmod schema; // the tables",
        ] {
            assert!(declares_schema(yes), "{yes}");
        }
        for no in [
            "",
            "// mod schema;",
            "mod schema {\n    diesel::table! {}\n}",
            "#[path = \"tables.rs\"]\nmod schema;",
            "#[path = \"tables.rs\"] mod schema;",
            "mod schemas;",
        ] {
            assert!(!declares_schema(no), "{no}");
        }
    }
}
