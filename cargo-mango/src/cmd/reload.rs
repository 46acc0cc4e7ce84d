//! `cargo mango serve --reload`: Django's `runserver` reloader. Builds and serves the
//! project over HTTP, watches its apps, `Mango.toml` and migrations, and on a change
//! (debounced: an editor's burst of writes is one change) builds again; a good build
//! replaces the server on the same port, a failed one leaves the last good server
//! serving and its errors on the screen.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use notify_debouncer_mini::notify::RecursiveMode;
use notify_debouncer_mini::{DebounceEventResult, new_debouncer};

use super::runner;
use crate::cli::BuildArgs;
use crate::error::{Error, Result};
use crate::project::Project;

/// How long the files must be quiet before a rebuild.
const DEBOUNCE: Duration = Duration::from_millis(200);

fn say(text: &str) {
    eprintln!("reload: {text}");
}

/// Whether the binary's `serve` arguments ask for stdio.
pub fn wants_stdio(args: &[String]) -> bool {
    args.windows(2)
        .any(|w| w[0] == "--transport" && w[1] == "stdio")
        || args.iter().any(|a| a == "--transport=stdio")
}

/// Whether a changed path is one that changes the build or the settings (not the
/// target directory, a database file, an editor's swap file).
fn matters(path: &Path, root: &Path) -> bool {
    let inside = path.strip_prefix(root).unwrap_or(path);
    let in_target = inside.components().any(|c| c.as_os_str() == "target");
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    !in_target
        && !name.starts_with('.')
        && !name.ends_with('~')
        && !name.ends_with(".swp")
        && !name.contains("sqlite3")
        && (name.ends_with(".rs")
            || name.ends_with(".toml")
            || name.ends_with(".sql")
            || name == "Mango.toml")
}

/// What each watched file held when last seen (a hash of its bytes, `None` once it is
/// gone). The watcher reports a file being opened too (cargo reads every source when
/// it builds, the server reads `Mango.toml` when it starts), so an event is a change
/// only when the bytes differ from the last ones seen.
#[derive(Default)]
struct Seen(HashMap<PathBuf, Option<u64>>);

impl Seen {
    /// Every file that matters under the watched paths, as it is now.
    fn of(paths: &[PathBuf], root: &Path) -> Self {
        let mut seen = Seen::default();
        let mut stack: Vec<PathBuf> = paths.to_vec();
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == "target") {
                    continue;
                }
                for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                    stack.push(entry.path());
                }
            } else if matters(&path, root) {
                seen.0.insert(path.clone(), bytes_hash(&path));
            }
        }
        seen
    }

    /// Whether `path` now holds other bytes than when last seen (and remembers them).
    fn changed(&mut self, path: &Path) -> bool {
        let now = bytes_hash(path);
        self.0.insert(path.to_owned(), now) != Some(now)
    }
}

fn bytes_hash(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let mut hasher = std::hash::DefaultHasher::new();
    bytes.hash(&mut hasher);
    Some(hasher.finish())
}

/// Starts the server binary.
fn start(exe: &Path, args: &[String], project: &Project) -> Result<Child> {
    let mut cmd = runner::binary(exe, project);
    cmd.args(args).spawn().map_err(|source| Error::Spawn {
        program: exe.display().to_string(),
        source,
    })
}

/// Stops a server the way a deployment would (SIGTERM: calls in flight finish), then
/// for good if it is still there after its shutdown timeout.
fn stop(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(35);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Builds, serves, and rebuilds on every change until SIGINT or SIGTERM.
pub fn run(build: &BuildArgs, mut args: Vec<String>) -> Result<ExitCode> {
    if wants_stdio(&args) {
        eprintln!(
            "error: `serve --reload` serves over HTTP only: a stdio server belongs to the client that started it, which cannot be handed a new one (drop --reload, or serve with --transport http)"
        );
        return Ok(mango_cli::Exit::Usage.into());
    }
    if !args.iter().any(|a| a.starts_with("--transport")) {
        args.extend(["--transport".to_owned(), "http".to_owned()]);
    }
    let project = Project::find(build.manifest_path.as_deref())?;
    let stopping = Arc::new(AtomicBool::new(false));
    #[cfg(unix)]
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stopping.clone()).map_err(Error::io("signals"))?;
    }
    let (tx, rx) = channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(DEBOUNCE, tx).map_err(|e| Error::Manifest {
        path: project.root.clone(),
        message: format!("cannot watch the project's files: {e}"),
    })?;
    let watched: Vec<PathBuf> = [
        project.root.join("apps"),
        project.root.join("Mango.toml"),
        project.manifest.clone(),
    ]
    .into_iter()
    .filter(|p| p.exists())
    .collect();
    for path in &watched {
        let mode = if path.is_dir() {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        debouncer
            .watcher()
            .watch(path, mode)
            .map_err(|e| Error::Manifest {
                path: path.clone(),
                message: format!("cannot watch it: {e}"),
            })?;
    }
    let mut seen = Seen::of(&watched, &project.root);
    let mut server: Option<Child> = None;
    // The running server's binary, as it was when started (a build that changed
    // nothing leaves the server running, unless the settings changed).
    let mut serving: Option<std::time::SystemTime> = None;
    let mut change = Some(Change {
        at: Instant::now(),
        settings: true,
    });
    loop {
        if let Some(Change { at, settings }) = change.take() {
            project.sync()?;
            match runner::build(&project, build) {
                Ok(exe) => {
                    let built = std::fs::metadata(&exe).and_then(|m| m.modified()).ok();
                    if server.is_some() && !settings && built.is_some() && built == serving {
                        say("the build is unchanged; the server keeps serving");
                    } else {
                        if let Some(mut old) = server.take() {
                            stop(&mut old);
                        }
                        server = Some(start(&exe, &args, &project)?);
                        serving = built;
                        say(&format!(
                            "serving the new build ({:.1} s after the change); watching {} for changes",
                            at.elapsed().as_secs_f64(),
                            watched
                                .iter()
                                .map(|p| p
                                    .strip_prefix(&project.root)
                                    .unwrap_or(p)
                                    .display()
                                    .to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                }
                Err(Error::Build) => say(if server.is_some() {
                    "the build failed (cargo's errors are above); the last good build is still serving"
                } else {
                    "the build failed (cargo's errors are above); nothing to serve until it builds"
                }),
                Err(e) => return Err(e),
            }
        }
        if stopping.load(Ordering::SeqCst) {
            if let Some(mut child) = server.take() {
                stop(&mut child);
            }
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(child) = &mut server
            && let Ok(Some(status)) = child.try_wait()
        {
            say(&format!(
                "the server stopped ({status}); it starts again after the next change"
            ));
            server = None;
            serving = None;
        }
        let mut changed = match next_changes(&rx, &mut seen, &project.root, POLL) {
            Some(c) => c,
            None => return Ok(ExitCode::FAILURE),
        };
        if let Some(first) = changed.first().cloned() {
            let at = Instant::now();
            // The rest of a burst (an editor writing a file twice, a formatter after
            // it, a checkout of many files) is this change: wait for quiet first.
            while at.elapsed() < SETTLE_LIMIT {
                match next_changes(&rx, &mut seen, &project.root, DEBOUNCE) {
                    Some(more) if !more.is_empty() => changed.extend(more),
                    Some(_) => break,
                    None => return Ok(ExitCode::FAILURE),
                }
            }
            say(&format!(
                "{} changed; building",
                first
                    .strip_prefix(&project.root)
                    .unwrap_or(&first)
                    .display()
            ));
            change = Some(Change {
                at,
                settings: changed
                    .iter()
                    .any(|p| p.extension().is_none_or(|e| e != "rs")),
            });
        }
    }
}

/// What set off a build: when, and whether a file other than a Rust source changed
/// (settings and migrations need a new server even when the binary is the same).
struct Change {
    at: Instant,
    settings: bool,
}

/// How often the loop looks at the signals and the server between events.
const POLL: Duration = Duration::from_millis(200);
/// The longest a burst of changes delays a build.
const SETTLE_LIMIT: Duration = Duration::from_secs(2);

/// The files changed in the events that arrive within `wait` (empty for none); `None`
/// once the watcher is gone.
fn next_changes(
    rx: &std::sync::mpsc::Receiver<DebounceEventResult>,
    seen: &mut Seen,
    root: &Path,
    wait: Duration,
) -> Option<Vec<PathBuf>> {
    match rx.recv_timeout(wait) {
        // Every event is looked at (not only up to the first change), so that each
        // file's bytes are remembered.
        Ok(Ok(events)) => Some(
            events
                .into_iter()
                .map(|e| e.path)
                .filter(|p| matters(p, root) && seen.changed(p))
                .collect(),
        ),
        Ok(Err(e)) => {
            say(&format!("watching failed: {e}"));
            Some(Vec::new())
        }
        Err(RecvTimeoutError::Timeout) => Some(Vec::new()),
        Err(RecvTimeoutError::Disconnected) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_is_not_a_change_its_bytes_are() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path();
        let lib = root.join("apps/a/src/lib.rs");
        std::fs::create_dir_all(lib.parent().unwrap_or(root)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&lib, "fn a() {}").unwrap_or_else(|e| panic!("{e}"));
        let mut seen = Seen::of(&[root.join("apps")], root);
        assert!(!seen.changed(&lib), "opened, not changed");
        std::fs::write(&lib, "fn b() {}").unwrap_or_else(|e| panic!("{e}"));
        assert!(seen.changed(&lib));
        assert!(!seen.changed(&lib), "the same bytes again");
        let new = root.join("apps/a/src/new.rs");
        std::fs::write(&new, "").unwrap_or_else(|e| panic!("{e}"));
        assert!(seen.changed(&new), "a new file");
        std::fs::remove_file(&lib).unwrap_or_else(|e| panic!("{e}"));
        assert!(seen.changed(&lib), "a removed file");
    }

    #[test]
    fn only_sources_and_settings_trigger_a_build() {
        let root = Path::new("/work/target/p");
        assert!(matters(&root.join("apps/notes/src/lib.rs"), root));
        assert!(matters(&root.join("Mango.toml"), root));
        assert!(matters(&root.join("apps/notes/migrations/x/up.sql"), root));
        assert!(!matters(&root.join("target/debug/foo.rs"), root));
        assert!(!matters(&root.join("apps/notes/src/.lib.rs.swp"), root));
        assert!(!matters(&root.join("db.sqlite3"), root));
        assert!(wants_stdio(&[
            "serve".into(),
            "--transport".into(),
            "stdio".into()
        ]));
        assert!(!wants_stdio(&[
            "serve".into(),
            "--port".into(),
            "8000".into()
        ]));
    }
}
