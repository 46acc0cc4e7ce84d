//! What the project's generated binary says about the project and its installed apps.

/// An installed app, as the generated binary knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppInfo {
    /// The package name.
    pub name: &'static str,
    /// What its tools' names start with (`""` for nothing).
    pub prefix: &'static str,
    /// The installed apps it depends on (their migrations run first).
    pub depends_on: &'static [&'static str],
}

impl AppInfo {
    pub const fn new(name: &'static str, prefix: &'static str) -> Self {
        AppInfo {
            name,
            prefix,
            depends_on: &[],
        }
    }

    /// The installed apps this one depends on.
    pub const fn depends_on(self, apps: &'static [&'static str]) -> Self {
        AppInfo {
            depends_on: apps,
            ..self
        }
    }
}

/// The project, as the generated binary knows it.
#[derive(Debug, Clone, Copy)]
pub struct Project {
    pub name: &'static str,
    pub version: &'static str,
    /// The project's root at build time: where `Mango.toml` is looked for last.
    pub root: &'static str,
    pub apps: &'static [AppInfo],
}
