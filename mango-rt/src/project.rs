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

/// The names of `apps` in dependency order: an app after every installed app it depends
/// on; otherwise by name.
/// The app name mango's own middleware, commands and migrations are listed under.
pub(crate) const BUILTIN_APP: &str = "mango";

pub(crate) fn dependency_order(apps: &[AppInfo]) -> Vec<&'static str> {
    fn visit(
        app: &AppInfo,
        apps: &[AppInfo],
        seen: &mut std::collections::BTreeSet<&'static str>,
        order: &mut Vec<&'static str>,
    ) {
        if !seen.insert(app.name) {
            return;
        }
        let mut deps: Vec<&AppInfo> = apps
            .iter()
            .filter(|a| app.depends_on.contains(&a.name))
            .collect();
        deps.sort_by_key(|a| a.name);
        for dep in deps {
            visit(dep, apps, seen, order);
        }
        order.push(app.name);
    }
    let mut sorted: Vec<&AppInfo> = apps.iter().collect();
    sorted.sort_by_key(|a| a.name);
    let (mut seen, mut order) = (Default::default(), Vec::new());
    for app in sorted {
        visit(app, apps, &mut seen, &mut order);
    }
    order
}
