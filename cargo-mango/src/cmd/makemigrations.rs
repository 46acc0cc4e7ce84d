//! `cargo mango makemigrations <app> <name>`: a new, empty, correctly named migration.

use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use super::{models as app_models, runner};
use crate::cli::BuildArgs;
use crate::error::{Error, Result};
use crate::fsx::{create_dir_atomic, write_atomic};
use crate::models;
use crate::project::Project;

/// `YYYY-MM-DD-HHMMSS` (UTC), Diesel's version format, for a time in seconds since 1970.
pub fn version_at(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The seconds since 1970 of a `YYYY-MM-DD-HHMMSS` version (the inverse of
/// [`version_at`]); `None` for anything else.
pub fn secs_of(version: &str) -> Option<u64> {
    let b = version.as_bytes();
    if b.len() != 17 || b[4] != b'-' || b[7] != b'-' || b[10] != b'-' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| version.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, m, sec) = (num(11..13)?, num(13..15)?, num(15..17)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 59 {
        return None;
    }
    // Howard Hinnant's days-from-civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + m * 60 + sec).ok()
}

/// The version for a new migration in `dir`: now, or one second after the latest one
/// there when that is not earlier (two in one second, or a clock set back), so that
/// versions stay unique and in order within an app.
pub fn next_version(dir: &Path, now_secs: u64) -> String {
    let latest = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            secs_of(name.split('_').next()?)
        })
        .max();
    match latest {
        Some(latest) if latest >= now_secs => version_at(latest + 1),
        _ => version_at(now_secs),
    }
}

pub fn run(app: &str, name: &str, diff: bool, manifest_path: Option<&Path>) -> Result<ExitCode> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(Error::InvalidName {
            name: name.to_owned(),
            what: "migration",
            why: "use lower-case letters, digits and `_` (`create_notes`)".into(),
        });
    }
    let project = Project::find(manifest_path)?;
    let apps = project.apps()?;
    let Some(found) = apps.iter().find(|a| a.name == app) else {
        let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
        return Err(Error::InvalidName {
            name: app.to_owned(),
            what: "app",
            why: format!("no installed app has it (installed: {})", names.join(", ")),
        });
    };
    let dir = project.root.join(&found.dir).join("migrations");
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let folder = format!("{}_{name}", next_version(&dir, secs));
    let target = dir.join(&folder);
    if target.exists() {
        return Err(Error::NotEmpty { path: target });
    }
    if diff {
        return from_schema(&project, found, &target, &folder, manifest_path);
    }
    create_dir_atomic(&target, |stage| {
        for (file, what) in [("up.sql", "the change"), ("down.sql", "how to undo it")] {
            let path = stage.join(file);
            std::fs::write(&path, format!("-- {folder}: {what}\n")).map_err(Error::io(&path))?;
        }
        Ok(())
    })?;
    eprintln!(
        "Created {}/migrations/{folder}/up.sql and down.sql.\nWrite the SQL, then `cargo mango migrate`.",
        found.dir
    );
    Ok(ExitCode::SUCCESS)
}

/// `--diff`: the migration that makes the app's tables what its `schema.rs` says; the
/// file is stamped as generated afterwards (the migrations now make it).
fn from_schema(
    project: &Project,
    app: &crate::project::App,
    target: &Path,
    folder: &str,
    manifest_path: Option<&Path>,
) -> Result<ExitCode> {
    let file = project.root.join(&app.dir).join("src/schema.rs");
    let shown = format!("{}/src/schema.rs", app.dir);
    let text = std::fs::read_to_string(&file).map_err(|_| {
        Error::Models(format!(
            "{shown} does not exist: --diff compares an app's schema.rs (Diesel's `table!`) with its tables"
        ))
    })?;
    let schema = models::parse(&text)
        .map_err(|e| Error::Models(format!("{shown} does not parse ({e}); fix it first")))?;
    let build = BuildArgs {
        manifest_path: manifest_path.map(Path::to_path_buf),
        ..BuildArgs::default()
    };
    let (project, exe) = runner::built(&build)?;
    let db = app_models::inspect(&project, &exe)?;
    if !db.pending.is_empty() {
        return Err(Error::Models(format!(
            "{} migration(s) not applied ({}): run `cargo mango migrate` first, so that the difference is only {shown}'s",
            db.pending.len(),
            db.pending.join(", ")
        )));
    }
    let mut names = models::owned_tables(&project.root.join(&app.dir).join("migrations"));
    names.extend(schema.iter().map(|t| t.name.to_ascii_lowercase()));
    let (tables, _) = app_models::db_tables(&db, &names).map_err(Error::Models)?;
    let differences = models::differences(&schema, &tables);
    if differences.is_empty() {
        eprintln!("No changes: {shown} and the database agree; nothing was written.");
        return Ok(ExitCode::SUCCESS);
    }
    let (up, down) = models::migration(&db.backend, &schema, &tables)
        .map_err(|e| Error::Models(format!("{shown}: {e}")))?;
    create_dir_atomic(target, |stage| {
        for (name, sql) in [("up.sql", &up), ("down.sql", &down)] {
            let path = stage.join(name);
            std::fs::write(&path, sql).map_err(Error::io(&path))?;
        }
        Ok(())
    })?;
    write_atomic(&file, &models::restamp(&app.name, &text))?;
    eprintln!(
        "Created {}/migrations/{folder}/up.sql and down.sql from {shown}:\n{}\nRead them, then `cargo mango migrate`.",
        app.dir,
        differences
            .iter()
            .map(|d| format!("  - {d}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_back_and_never_repeat_within_an_app() {
        for secs in [0, 951_782_400, 1_795_607_999, 4_102_444_800] {
            assert_eq!(secs_of(&version_at(secs)), Some(secs));
        }
        assert_eq!(secs_of("2024-13-01-000000"), None);
        assert_eq!(secs_of("20240101000000"), None);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let now = 1_795_607_999;
        assert_eq!(next_version(dir.path(), now), version_at(now));
        std::fs::create_dir(dir.path().join(format!("{}_create_items", version_at(now))))
            .unwrap_or_else(|e| panic!("{e}"));
        // The same second: the next one. A clock set back: still after the latest.
        assert_eq!(next_version(dir.path(), now), version_at(now + 1));
        assert_eq!(next_version(dir.path(), now - 3600), version_at(now + 1));
        assert_eq!(next_version(dir.path(), now + 60), version_at(now + 60));
    }

    #[test]
    fn versions_are_diesel_timestamps() {
        assert_eq!(version_at(0), "1970-01-01-000000");
        assert_eq!(version_at(1_795_607_999), "2026-11-25-115959");
        assert_eq!(version_at(951_782_400), "2000-02-29-000000");
    }
}
