//! Writing files so that a failure never leaves one half-written.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `contents` to `path` through a temporary file in the same directory, renamed
/// into place. Does nothing when the file already holds exactly `contents` (so that
/// cargo sees no change and rebuilds nothing).
pub fn write_atomic(path: &Path, contents: &str) -> Result<bool> {
    if std::fs::read(path).is_ok_and(|old| old == contents.as_bytes()) {
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(Error::io(dir))?;
    tmp.write_all(contents.as_bytes())
        .map_err(Error::io(path))?;
    tmp.as_file().sync_all().map_err(Error::io(path))?;
    tmp.persist(path).map_err(|e| Error::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(true)
}

/// Fills a directory that does not exist yet: `fill` writes into a temporary directory
/// beside it, which is renamed to `target` only when `fill` succeeded. An empty
/// directory at `target` is replaced.
pub fn create_dir_atomic(target: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::env::current_dir().map_err(Error::io("."))?,
    };
    std::fs::create_dir_all(&parent).map_err(Error::io(&parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".mango-new-")
        .tempdir_in(&parent)
        .map_err(Error::io(&parent))?;
    fill(staging.path())?;
    if target.is_dir() {
        // Only an empty directory gets here (callers refuse non-empty ones).
        std::fs::remove_dir(target).map_err(Error::io(target))?;
    }
    let staging = staging.keep();
    std::fs::rename(&staging, target).map_err(|source| {
        let _ = std::fs::remove_dir_all(&staging);
        Error::Io {
            path: target.to_owned(),
            source,
        }
    })
}

/// Whether `path` is missing or an empty directory.
pub fn is_missing_or_empty(path: &Path) -> bool {
    match std::fs::read_dir(path) {
        Ok(mut entries) => entries.next().is_none(),
        Err(_) => !path.exists(),
    }
}
