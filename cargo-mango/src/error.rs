//! The one error type of `cargo mango`, printed once in `main`.

use std::path::PathBuf;

/// Exit codes.
pub mod exit {
    pub const SUCCESS: u8 = 0;
    /// The command failed (a build error, a bad project …).
    pub const FAILURE: u8 = 1;
    /// The command line or a name given on it was wrong.
    pub const USAGE: u8 = 2;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{name}` is not a valid {what} name: {why}")]
    InvalidName {
        name: String,
        what: &'static str,
        why: String,
    },

    #[error(
        "{path} already exists and is not empty; pick another name or directory (nothing was written)"
    )]
    NotEmpty { path: PathBuf },

    #[error(
        "no mango project here: no Cargo.toml with a [workspace.metadata.mango] table in {start} or its parents; run `cargo mango startproject <name>` to make one, or pass --manifest-path"
    )]
    NoProject { start: PathBuf },

    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },

    #[error("`cargo metadata` failed for {manifest}:\n{message}")]
    Metadata { manifest: PathBuf, message: String },

    #[error("the build failed (cargo's messages are above)")]
    Build,

    #[error("the build produced no `{binary}` binary; is {manifest} the project's workspace?")]
    NoBinary { binary: String, manifest: PathBuf },

    #[error("could not run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::InvalidName { .. } | Error::NotEmpty { .. } => exit::USAGE,
            _ => exit::FAILURE,
        }
    }

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
