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

/// cargo's build options, as `cargo mango` takes them wherever they stand among the
/// binary's arguments.
#[derive(clap::Parser)]
#[command(no_binary_name = true)]
struct BuildOptions {
    #[command(flatten)]
    build: BuildArgs,
}

/// The build options `cargo mango` knows, and whether each takes a value.
const BUILD_OPTIONS: &[(&str, bool)] = &[
    ("--manifest-path", true),
    ("--release", false),
    ("-r", false),
    ("--profile", true),
    ("--features", true),
    ("-F", true),
    ("--quiet", false),
    ("-q", false),
];

/// Takes cargo's build options out of `args` (up to a `--`), so that
/// `cargo mango serve --migrate --manifest-path x/Cargo.toml` builds `x` and serves
/// with `--migrate`: the build options are `cargo mango`'s, the rest the binary's.
fn take_build_options(
    build: BuildArgs,
    args: Vec<String>,
) -> Result<(BuildArgs, Vec<String>), clap::Error> {
    let mut taken = Vec::new();
    let mut rest = Vec::new();
    let mut words = args.into_iter();
    while let Some(word) = words.next() {
        if word == "--" {
            rest.push(word);
            rest.extend(words.by_ref());
            break;
        }
        let (name, inline) = match word.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_owned(), Some(value)),
            _ => (word.clone(), None),
        };
        match BUILD_OPTIONS.iter().find(|(option, _)| *option == name) {
            Some((_, takes_value)) => {
                taken.push(word.clone());
                if *takes_value && inline.is_none() {
                    taken.extend(words.next());
                }
            }
            None => rest.push(word),
        }
    }
    if taken.is_empty() {
        return Ok((build, rest));
    }
    let more = <BuildOptions as clap::Parser>::try_parse_from(taken)?.build;
    Ok((build.merge(more), rest))
}

/// Runs the binary's subcommand `words` with the arguments `cargo mango` was given
/// (cargo's build options taken out, anywhere before a `--`; for `run`, only before the
/// command's name, as what follows it is the command's own). The arguments are checked
/// with the binary's own definitions (`mango-cli`) first, so that a bad flag is refused
/// (exit 2) before anything is built, and `-- --help` shows the binary's help.
pub fn hand_on(words: &[&str], given: Passthrough) -> Result<ExitCode> {
    checked(words, given, build_and_run)
}

/// [`hand_on`]'s checks, then `then` with the build options and the binary's arguments
/// instead of building and running it once.
pub fn checked(
    words: &[&str],
    given: Passthrough,
    then: impl FnOnce(&BuildArgs, Vec<String>) -> Result<ExitCode>,
) -> Result<ExitCode> {
    let (build, rest) = if words == ["run"] {
        (given.build, given.args)
    } else {
        match take_build_options(given.build, given.args) {
            Ok(split) => split,
            Err(e) => return Ok(refuse(&e)),
        }
    };
    let mut args: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    args.extend(rest);
    if let Err(e) = mango_cli::check(&args) {
        return Ok(refuse(&e));
    }
    then(&build, args)
}

/// Prints clap's error (or help) and gives its exit code.
fn refuse(e: &clap::Error) -> ExitCode {
    let _ = e.print();
    if e.use_stderr() {
        Exit::Usage
    } else {
        Exit::Success
    }
    .into()
}

/// Syncs the project, builds it, and runs its binary with `args`; the binary's exit
/// code is ours.
fn build_and_run(build_args: &BuildArgs, args: Vec<String>) -> Result<ExitCode> {
    let (project, exe) = built(build_args)?;
    let mut cmd = binary(&exe, &project);
    cmd.args(&args);
    exec(cmd, &exe)
}

/// The project, in step and built: its binary.
pub fn built(build_args: &BuildArgs) -> Result<(Project, PathBuf)> {
    let project = Project::find(build_args.manifest_path.as_deref())?;
    project.sync()?;
    let exe = build(&project, build_args)?;
    Ok((project, exe))
}

/// The project's binary, with the project's settings.
pub fn binary(exe: &std::path::Path, project: &Project) -> Command {
    let mut cmd = Command::new(exe);
    cmd.env("MANGO_VIA_CARGO", "1");
    if std::env::var_os("MANGO_SETTINGS").is_none() {
        cmd.env("MANGO_SETTINGS", project.root.join("Mango.toml"));
    }
    cmd
}

/// Runs `cmd` to its end (this process stays): its exit code.
pub fn status(mut cmd: Command, exe: &std::path::Path) -> Result<ExitCode> {
    let status = cmd.status().map_err(|source| Error::Spawn {
        program: exe.display().to_string(),
        source,
    })?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    })
}

/// Takes `flag` (one of `cargo mango`'s own, not the binary's) out of `args`, up to a
/// `--`: whether it was there.
pub fn take_flag(args: &mut Vec<String>, flag: &str) -> bool {
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let before = args.len();
    let mut i = 0;
    args.retain(|a| {
        i += 1;
        !(i <= end && a == flag)
    });
    args.len() != before
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
fn exec(cmd: Command, exe: &std::path::Path) -> Result<ExitCode> {
    status(cmd, exe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn cargo_mangos_own_flags_are_taken_before_a_double_dash_only() {
        let mut args = words("--reload --port 1 -- --reload");
        assert!(take_flag(&mut args, "--reload"));
        assert_eq!(args, words("--port 1 -- --reload"));
        assert!(!take_flag(&mut args, "--force"));
    }

    #[test]
    fn build_options_are_taken_wherever_they_stand() {
        let (build, rest) = take_build_options(
            BuildArgs::default(),
            words("--migrate --manifest-path x/Cargo.toml --port 0 -r --features=a,b"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rest, words("--migrate --port 0"));
        assert_eq!(build.manifest_path, Some(PathBuf::from("x/Cargo.toml")));
        assert!(build.release);
        assert_eq!(build.features, ["a", "b"]);
        let (build, rest) =
            take_build_options(BuildArgs::default(), words("--stateless -- --release"))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            rest,
            words("--stateless -- --release"),
            "after `--`: the binary's"
        );
        assert!(!build.release);
        assert!(
            take_build_options(BuildArgs::default(), words("--release --profile dev")).is_err(),
            "clap's own rules still hold"
        );
    }
}
