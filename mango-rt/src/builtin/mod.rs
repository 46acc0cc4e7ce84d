//! The built-in middleware, off until `Mango.toml` lists them: `mango.timing`,
//! `mango.auth`, `mango.rate_limit`, `mango.timeout`, `mango.audit`. Each applies to every kind of
//! item, over every transport.

pub(crate) mod audit;
pub(crate) mod auth;
mod rate_limit;
mod timeout;
mod timing;

use crate::chain::Around;
use crate::registry::{BUILTIN_APP, EntryMeta, MiddlewareEntry};
use crate::settings::Settings;

const fn builtin(name: &'static str, around: Around, line: u32) -> MiddlewareEntry {
    MiddlewareEntry {
        meta: EntryMeta {
            app: BUILTIN_APP,
            name,
            module_path: module_path!(),
            file: file!(),
            line,
        },
        around,
        list: None,
    }
}

/// The built-in middleware (a plain array: mango-rt does not link into its own slices).
pub(crate) static MIDDLEWARE: [MiddlewareEntry; 5] = [
    builtin("timing", timing::timing, line!()),
    builtin("audit", audit::audit, line!()),
    builtin("auth", auth::step, line!()),
    builtin("rate_limit", rate_limit::rate_limit, line!()),
    builtin("timeout", timeout::timeout, line!()),
];

/// What the listed built-ins need from the settings, checked at start-up.
pub(crate) fn check_settings(settings: &Settings) -> Result<(), String> {
    auth::check_settings(settings)
}
