//! The files under `template/` (in this crate, so that it packages), embedded at build
//! time, and their placeholders.

use std::path::Path;

use include_dir::{Dir, DirEntry, include_dir};

use crate::error::{Error, Result};

static TEMPLATE: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/template");

/// Replaces every `{{key}}` by its value.
pub fn render(text: &str, vars: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (key, value) in vars {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

/// The name a file has in the template folder: `Cargo.toml` is kept as `Cargo.toml.in`
/// (a folder with a `Cargo.toml` would be another package, left out of this one's).
fn stored(path: &str) -> String {
    match path.strip_suffix("Cargo.toml") {
        Some(dir) => format!("{dir}Cargo.toml.in"),
        None => path.to_owned(),
    }
}

/// One template file's text (`path` as it is written, `manage/Cargo.toml`).
pub fn file(path: &str) -> &'static str {
    TEMPLATE
        .get_file(stored(path))
        .and_then(|f| f.contents_utf8())
        .unwrap_or_default()
}

/// The files of a template folder, as (path inside it, rendered text). `gitignore`
/// becomes `.gitignore` (packaging tools drop dotfiles), `Cargo.toml.in` `Cargo.toml`.
pub fn render_tree(folder: &str, vars: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(dir) = TEMPLATE.get_dir(folder) {
        collect(dir, folder, vars, &mut out);
    }
    out.sort();
    out
}

fn collect(dir: &Dir<'_>, folder: &str, vars: &[(&str, &str)], out: &mut Vec<(String, String)>) {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(d) => collect(d, folder, vars, out),
            DirEntry::File(f) => {
                let rel = f
                    .path()
                    .strip_prefix(folder)
                    .unwrap_or(f.path())
                    .to_string_lossy()
                    .replace('\\', "/");
                let rel = if rel == "gitignore" {
                    ".gitignore".to_owned()
                } else if let Some(dir) = rel.strip_suffix("Cargo.toml.in") {
                    format!("{}Cargo.toml", render(dir, vars))
                } else {
                    render(&rel, vars)
                };
                out.push((rel, render(f.contents_utf8().unwrap_or_default(), vars)));
            }
        }
    }
}

/// Writes rendered files under `dest`.
pub fn write_files(dest: &Path, files: &[(String, String)]) -> Result<()> {
    for (rel, text) in files {
        let path = dest.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        }
        std::fs::write(&path, text).map_err(Error::io(&path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced() {
        assert_eq!(render("a {{x}} b {{x}}", &[("x", "1")]), "a 1 b 1");
    }

    #[test]
    fn templates_are_embedded() {
        assert!(file("project/Mango.toml").contains("[default.server]"));
        let app = render_tree(
            "app",
            &[("app_name", "notes"), ("version", "2026-01-02-030405")],
        );
        let names: Vec<&str> = app.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "Cargo.toml",
                "build.rs",
                "migrations/2026-01-02-030405_create_notes_items/down.sql",
                "migrations/2026-01-02-030405_create_notes_items/up.sql",
                "src/lib.rs",
                "src/schema.rs"
            ]
        );
    }

    /// What `startproject` writes, file by file.
    #[test]
    fn rendered_project() {
        let files = render_tree(
            "project",
            &[
                ("project_name", "mysite"),
                ("mango_rt_dependency", "mango-rt = \"0.1.0\""),
            ],
        );
        for (path, text) in &files {
            assert!(!text.contains("{{"), "{path} keeps a placeholder");
            insta::assert_snapshot!(format!("project__{}", path.replace(['/', '.'], "_")), text);
        }
    }

    /// What `startapp` writes, file by file.
    #[test]
    fn rendered_app() {
        let vars = [
            ("app_name", "notes"),
            ("app_scheme", "notes"),
            ("version", "2026-01-02-030405"),
            ("id_column", "id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"),
        ];
        for (path, text) in render_tree("app", &vars) {
            assert!(!text.contains("{{"), "{path} keeps a placeholder");
            insta::assert_snapshot!(format!("app__{}", path.replace(['/', '.'], "_")), text);
        }
    }
}
