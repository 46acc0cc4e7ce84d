//! `cargo mango makemigrations <app> <name>`: a new, empty, correctly named migration.

use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::fsx::create_dir_atomic;
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

pub fn run(app: &str, name: &str, manifest_path: Option<&Path>) -> Result<ExitCode> {
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
    let folder = format!("{}_{name}", version_at(secs));
    let target = dir.join(&folder);
    if target.exists() {
        return Err(Error::NotEmpty { path: target });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_diesel_timestamps() {
        assert_eq!(version_at(0), "1970-01-01-000000");
        assert_eq!(version_at(1_795_607_999), "2026-11-25-115959");
        assert_eq!(version_at(951_782_400), "2000-02-29-000000");
    }
}
