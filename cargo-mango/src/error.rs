//! The one error type of `cargo mango`, printed once in `main`.

use std::path::PathBuf;

pub use mango_cli::Exit;

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

    /// An app's models (`schema.rs`) and its tables: the message says what to do.
    #[error("{0}")]
    Models(String),

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    pub fn exit_code(&self) -> Exit {
        match self {
            Error::InvalidName { .. } | Error::NotEmpty { .. } => Exit::Usage,
            _ => Exit::Failure,
        }
    }

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
