//! The built-in middleware, off until `Mango.toml` lists them: `mango.timing`,
//! `mango.auth`, `mango.rate_limit`, `mango.timeout`, `mango.audit`. Each applies to every kind of
//! item, over every transport.

pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod password;
mod rate_limit;
mod timeout;
mod timing;
pub(crate) mod users;

use crate::chain::Around;
use crate::registry::{BUILTIN_APP, EntryMeta, MiddlewareEntry};
use crate::settings::Settings;

/// The built-in middleware, by type: what the rest of the runtime asks about (is the
/// audit log on?) without spelling a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    Timing,
    Audit,
    Auth,
    RateLimit,
    Timeout,
}

impl Builtin {
    /// Its name in its app: `audit` (listed in `Mango.toml` as `mango.audit`).
    pub const fn name(self) -> &'static str {
        match self {
            Builtin::Timing => "timing",
            Builtin::Audit => "audit",
            Builtin::Auth => "auth",
            Builtin::RateLimit => "rate_limit",
            Builtin::Timeout => "timeout",
        }
    }

    /// Whether `Mango.toml` lists it (as `mango.<name>`).
    pub fn listed(self, settings: &Settings) -> bool {
        settings.middleware.iter().any(|m| {
            m.strip_prefix(BUILTIN_APP)
                .and_then(|rest| rest.strip_prefix('.'))
                == Some(self.name())
        })
    }

    const fn entry(self, around: Around, line: u32) -> MiddlewareEntry {
        MiddlewareEntry {
            meta: EntryMeta {
                app: BUILTIN_APP,
                name: self.name(),
                module_path: module_path!(),
                file: file!(),
                line,
            },
            around,
            list: None,
        }
    }
}

/// The built-in middleware (a plain array: mango-rt does not link into its own slices).
pub(crate) static MIDDLEWARE: [MiddlewareEntry; 5] = [
    Builtin::Timing.entry(timing::timing, line!()),
    Builtin::Audit.entry(audit::audit, line!()),
    Builtin::Auth.entry(auth::step, line!()),
    Builtin::RateLimit.entry(rate_limit::rate_limit, line!()),
    Builtin::Timeout.entry(timeout::timeout, line!()),
];

/// What the listed built-ins need from the settings, checked at start-up.
pub(crate) fn check_settings(settings: &Settings) -> Result<(), auth::SettingsError> {
    auth::check_settings(settings)
}
