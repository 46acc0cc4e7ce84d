//! Building the project's binary (the generated `manage` crate) and handing it the
//! subcommand.

use std::io::BufReader;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use cargo_metadata::Message;
use mango_cli::Exit;

use crate::cli::{BuildArgs, Passthrough};
use crate::error::{Error, Result};
use crate::project::Project;

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Builds the project's binary and returns its path.
pub fn build(project: &Project, args: &BuildArgs) -> Result<PathBuf> {
    let mut cmd = Command::new(cargo());
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&project.manifest)
        .args(["-p", &project.name])
        .arg("--message-format=json-render-diagnostics")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if args.release {
        cmd.arg("--release");
    }
    if let Some(profile) = &args.profile {
        cmd.args(["--profile", profile]);
    }
    if !args.features.is_empty() {
        cmd.args(["--features", &args.features.join(",")]);
    }
    if args.quiet {
        cmd.arg("--quiet");
    }
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        program: cargo(),
        source,
    })?;
    let mut executable = None;
    if let Some(stdout) = child.stdout.take() {
        for message in Message::parse_stream(BufReader::new(stdout)) {
            let Ok(message) = message else { continue };
            if let Message::CompilerArtifact(artifact) = message
                && artifact.target.name == project.name
                && let Some(exe) = artifact.executable
            {
                executable = Some(PathBuf::from(exe));
            }
        }
    }
    let status = child.wait().map_err(|source| Error::Spawn {
        program: cargo(),
        source,
    })?;
    if !status.success() {
        return Err(Error::Build);
    }
    executable.ok_or_else(|| Error::NoBinary {
        binary: project.name.clone(),
        manifest: project.manifest.clone(),
    })
}

/// Runs the binary's subcommand `words` with the arguments given after the build
/// options. They are checked first with the binary's own definitions (`mango-cli`), so
/// that a bad flag is refused (exit 2) before anything is built, and `-- --help` shows
/// the binary's help.
pub fn hand_on(words: &[&str], given: Passthrough) -> Result<ExitCode> {
    let mut args: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    args.extend(given.args);
    if let Err(e) = mango_cli::check(&args) {
        let _ = e.print();
        return Ok(if e.use_stderr() {
            Exit::Usage
        } else {
            Exit::Success
        }
        .into());
    }
    build_and_run(&given.build, args)
}

/// Syncs the project, builds it, and runs its binary with `args`; the binary's exit
/// code is ours.
fn build_and_run(build_args: &BuildArgs, args: Vec<String>) -> Result<ExitCode> {
    let project = Project::find(build_args.manifest_path.as_deref())?;
    project.sync()?;
    let exe = build(&project, build_args)?;
    let mut cmd = Command::new(&exe);
    cmd.args(&args).env("MANGO_VIA_CARGO", "1");
    if std::env::var_os("MANGO_SETTINGS").is_none() {
        cmd.env("MANGO_SETTINGS", project.root.join("Mango.toml"));
    }
    exec(cmd, &exe)
}

#[cfg(unix)]
fn exec(mut cmd: Command, exe: &std::path::Path) -> Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    // Replaces this process: signals (Ctrl-C, SIGTERM) reach the server directly.
    let source = cmd.exec();
    Err(Error::Spawn {
        program: exe.display().to_string(),
        source,
    })
}

#[cfg(not(unix))]
fn exec(mut cmd: Command, exe: &std::path::Path) -> Result<ExitCode> {
    let status = cmd.status().map_err(|source| Error::Spawn {
        program: exe.display().to_string(),
        source,
    })?;
    Ok(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8
    ))
}
