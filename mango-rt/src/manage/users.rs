//! The users' commands (`[auth] users`): `createsuperuser`, `createuser`,
//! `changepassword`, `changeuser`, `deleteuser`, `users`, `group`, `createtoken`,
//! `revoketoken`.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::commands::parse;
use crate::builtin::users::{self, NewUser, UserChange, UsersError};
use crate::call::{BoxFuture, Output};
use crate::runtime::Runtime;

/// The environment variable `createsuperuser --noinput` reads the password from.
const PASSWORD_VARIABLE: &str = "MANGO_SUPERUSER_PASSWORD";

fn off() -> Output {
    Output::Error(
        "users are off: set `users = true` under [auth] in Mango.toml (and list \"mango.auth\" in `middleware` for their tokens to be accepted over HTTP), then run `cargo mango migrate`".into(),
    )
}

fn failed(e: UsersError) -> Output {
    Output::Error(e.to_string())
}

/// One line of stdin (the password), prompting on a terminal.
fn read_password(prompt: &str) -> Result<String, Output> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let mut err = std::io::stderr();
        let _ = write!(err, "{prompt} (it shows as you type; or pipe it in): ");
        let _ = err.flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Output::Error(format!("the password could not be read from stdin: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// `createsuperuser`.
#[derive(Args)]
pub(super) struct CreateSuperuserArgs {
    /// The user's name (or MANGO_SUPERUSER_USERNAME).
    #[arg(long)]
    username: Option<String>,
    /// The user's email (or MANGO_SUPERUSER_EMAIL).
    #[arg(long)]
    email: Option<String>,
    /// Ask nothing: the password from MANGO_SUPERUSER_PASSWORD (unset: the user has
    /// no password and uses tokens only).
    #[arg(long)]
    noinput: bool,
}

pub(super) fn create_superuser(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: CreateSuperuserArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if !rt.settings().auth.users {
            return off();
        }
        let Some(name) = args
            .username
            .or_else(|| std::env::var("MANGO_SUPERUSER_USERNAME").ok())
        else {
            return Output::Error(
                "name the user: --username <name> (or MANGO_SUPERUSER_USERNAME)".into(),
            );
        };
        let email = args
            .email
            .or_else(|| std::env::var("MANGO_SUPERUSER_EMAIL").ok());
        let password = if args.noinput {
            std::env::var(PASSWORD_VARIABLE).ok()
        } else {
            match read_password(&format!("{name}'s password")) {
                Ok(p) => Some(p),
                Err(e) => return e,
            }
        };
        let made = users::create_user(
            rt.database(),
            NewUser {
                name: &name,
                email: email.as_deref(),
                password: password.as_deref(),
                staff: true,
                superuser: true,
                scopes: &[],
            },
        )
        .await;
        match made {
            Ok(_) if password.is_none() => Output::Text(format!(
                "superuser {name} made, without a password (set one with `cargo mango run changepassword {name}`)"
            )),
            Ok(_) => Output::Text(format!("superuser {name} made")),
            Err(e) => failed(e),
        }
    })
}

/// `createuser`.
#[derive(Args)]
pub(super) struct CreateUserArgs {
    /// The user's name.
    name: String,
    #[arg(long)]
    email: Option<String>,
    /// May log in to the admin.
    #[arg(long)]
    staff: bool,
    /// A scope the user is granted (repeat it for more).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Read a password from stdin (without it, the user has none: tokens only).
    #[arg(long)]
    password_stdin: bool,
}

pub(super) fn create_user(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: CreateUserArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if !rt.settings().auth.users {
            return off();
        }
        let password = if args.password_stdin {
            match read_password(&format!("{}'s password", args.name)) {
                Ok(p) => Some(p),
                Err(e) => return e,
            }
        } else {
            None
        };
        let made = users::create_user(
            rt.database(),
            NewUser {
                name: &args.name,
                email: args.email.as_deref(),
                password: password.as_deref(),
                staff: args.staff,
                superuser: false,
                scopes: &args.scopes,
            },
        )
        .await;
        match made {
            Ok(_) => Output::Text(format!("user {} made", args.name)),
            Err(e) => failed(e),
        }
    })
}

/// `changepassword`.
#[derive(Args)]
pub(super) struct ChangePasswordArgs {
    /// The user's name.
    name: String,
}

pub(super) fn change_password(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: ChangePasswordArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if !rt.settings().auth.users {
            return off();
        }
        let password = match read_password(&format!("{}'s new password", args.name)) {
            Ok(p) => p,
            Err(e) => return e,
        };
        match users::set_password(rt.database(), &args.name, &password).await {
            Ok(()) => Output::Text(format!("{}'s password changed", args.name)),
            Err(e) => failed(e),
        }
    })
}

/// `changeuser`.
#[derive(Args)]
pub(super) struct ChangeUserArgs {
    /// The user's name.
    name: String,
    /// `false`: the user can no longer log in, and its tokens stop working.
    #[arg(long)]
    active: Option<bool>,
    #[arg(long)]
    staff: Option<bool>,
    #[arg(long)]
    superuser: Option<bool>,
    /// The user's scopes, instead of those it has (repeat it; `--scope ""` for none).
    #[arg(long = "scope")]
    scopes: Option<Vec<String>>,
}

pub(super) fn change_user(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: ChangeUserArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if !rt.settings().auth.users {
            return off();
        }
        let change = UserChange {
            active: args.active,
            staff: args.staff,
            superuser: args.superuser,
            scopes: args
                .scopes
                .map(|s| s.into_iter().filter(|s| !s.is_empty()).collect()),
        };
        match users::change_user(rt.database(), &args.name, change).await {
            Ok(()) => Output::Text(format!("user {} changed", args.name)),
            Err(e) => failed(e),
        }
    })
}

/// `deleteuser`.
#[derive(Args)]
pub(super) struct DeleteUserArgs {
    /// The user's name.
    name: String,
}

pub(super) fn delete_user(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: DeleteUserArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if !rt.settings().auth.users {
            return off();
        }
        match users::delete_user(rt.database(), &args.name).await {
            Ok(()) => Output::Text(format!("user {} deleted, with its tokens", args.name)),
            Err(e) => failed(e),
        }
    })
}

/// `users`.
#[derive(Args)]
pub(super) struct UsersArgs {
    /// As JSON (tokens by prefix; never a token or a hash).
    #[arg(long)]
    json: bool,
}

fn when(ms: Option<i64>) -> String {
    ms.map_or_else(|| "never".to_owned(), crate::builtin::audit::when)
}

pub(super) fn list_users(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: UsersArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if !rt.settings().auth.users {
            return off();
        }
        let all = match users::users(rt.database(), None).await {
            Ok(all) => all,
            Err(e) => return failed(e),
        };
        if args.json {
            return Output::json(&all);
        }
        let mut text = String::new();
        for u in &all {
            let mut flags = Vec::new();
            if u.superuser {
                flags.push("superuser");
            } else if u.staff {
                flags.push("staff");
            }
            if !u.active {
                flags.push("inactive");
            }
            text.push_str(&format!(
                "{}{}  scopes: {}  groups: {}  last login: {}\n",
                u.name,
                if flags.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", flags.join(", "))
                },
                if u.superuser {
                    "every scope".to_owned()
                } else if u.scopes.is_empty() {
                    "none of its own".to_owned()
                } else {
                    u.scopes.join(" ")
                },
                if u.groups.is_empty() {
                    "none".to_owned()
                } else {
                    u.groups.join(", ")
                },
                when(u.last_login_ms),
            ));
            for t in &u.tokens {
                let state = match (t.revoked_ms, t.expires_ms) {
                    (Some(at), _) => format!("revoked {}", when(Some(at))),
                    (None, Some(at)) if at <= users::now_ms() => {
                        format!("expired {}", when(Some(at)))
                    }
                    (None, Some(at)) => format!("expires {}", when(Some(at))),
                    (None, None) => "does not expire".to_owned(),
                };
                text.push_str(&format!(
                    "  token mango_{}_…  {}  scopes: {}  {state}  last used: {}\n",
                    t.prefix,
                    t.name,
                    t.scopes
                        .as_ref()
                        .map_or_else(|| "the user's".to_owned(), |s| s.join(" ")),
                    when(t.last_used_ms),
                ));
            }
        }
        if all.is_empty() {
            text.push_str("no users yet: make one with `cargo mango run createsuperuser`\n");
        }
        Output::Text(text.trim_end().to_owned())
    })
}

/// `group`.
#[derive(Args)]
pub(super) struct GroupArgs {
    /// The group's name (made when it does not exist).
    name: String,
    /// A scope the group grants its members (repeat it); the group's scopes become
    /// these.
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// A member (repeat it); given, the group's members become these.
    #[arg(long = "member")]
    members: Vec<String>,
}

pub(super) fn group(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: GroupArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if !rt.settings().auth.users {
            return off();
        }
        let members = (!args.members.is_empty()).then_some(args.members.as_slice());
        match users::set_group(rt.database(), &args.name, &args.scopes, members).await {
            Ok(()) => Output::Text(format!("group {} set", args.name)),
            Err(e) => failed(e),
        }
    })
}

/// `createtoken`.
#[derive(Args)]
pub(super) struct CreateTokenArgs {
    /// The user whose token it is.
    user: String,
    /// What the token is for (shown beside its prefix).
    #[arg(long, default_value = "token")]
    name: String,
    /// A scope the token keeps of its user's (repeat it; none given: all of the user's).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// How long it works: `30d`, `12h`, `90m`, `3600s` (none: until revoked).
    #[arg(long)]
    expires: Option<String>,
}

/// Why `--expires` was not read.
#[derive(Debug, PartialEq, thiserror::Error)]
enum LifetimeError {
    #[error("--expires `{0}` is not a duration: write 30d, 12h, 90m or 3600s")]
    NotADuration(String),

    #[error("--expires `{0}`: the unit is d, h, m or s")]
    Unit(String),

    #[error("--expires must be more than nothing")]
    Zero,
}

/// `30d`, `12h`, `90m`, `45s`, or a number of seconds.
fn lifetime(text: &str) -> Result<Duration, LifetimeError> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() => (&text[..at], c),
        _ => (text, 's'),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| LifetimeError::NotADuration(text.to_owned()))?;
    let seconds = match unit {
        'd' => n.saturating_mul(86_400),
        'h' => n.saturating_mul(3600),
        'm' => n.saturating_mul(60),
        's' => n,
        _ => return Err(LifetimeError::Unit(text.to_owned())),
    };
    if seconds == 0 {
        return Err(LifetimeError::Zero);
    }
    Ok(Duration::from_secs(seconds))
}

pub(super) fn create_token(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: CreateTokenArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if !rt.settings().auth.users {
            return off();
        }
        let expires = match args.expires.as_deref().map(lifetime).transpose() {
            Ok(e) => e,
            Err(why) => return Output::Error(why.to_string()),
        };
        let scopes = (!args.scopes.is_empty()).then_some(args.scopes.as_slice());
        match users::create_token(rt.database(), &args.user, &args.name, scopes, expires).await {
            Ok((token, prefix)) => {
                // The token alone on stdout (for scripts); what it is on stderr.
                eprintln!(
                    "token mango_{prefix}_… for {}: shown this once, keep it now (only its SHA-256 is stored); revoke it with `cargo mango run revoketoken {prefix}`",
                    args.user
                );
                Output::Text(token)
            }
            Err(e) => failed(e),
        }
    })
}

/// `revoketoken`.
#[derive(Args)]
pub(super) struct RevokeTokenArgs {
    /// The token's prefix (`users` lists it: the 8 characters after `mango_`).
    prefix: String,
}

pub(super) fn revoke_token(rt: Arc<Runtime>, matches: clap::ArgMatches) -> BoxFuture<Output> {
    Box::pin(async move {
        let args: RevokeTokenArgs = match parse(&matches) {
            Ok(a) => a,
            Err(e) => return e,
        };
        if !rt.settings().auth.users {
            return off();
        }
        let ttl = rt.settings().auth.token_cache;
        match users::revoke_token(rt.database(), &args.prefix).await {
            Ok(true) => Output::Text(format!(
                "token {} revoked: refused from now on (by a server that looked it up in the last {ttl} s, within {ttl} s)",
                args.prefix
            )),
            Ok(false) => Output::Text(format!("token {} was revoked already", args.prefix)),
            Err(e) => failed(e),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_as_written() {
        assert_eq!(lifetime("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(lifetime("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(lifetime("90m"), Ok(Duration::from_secs(90 * 60)));
        assert_eq!(lifetime("2"), Ok(Duration::from_secs(2)));
        assert!(lifetime("soon").is_err());
        assert!(lifetime("3w").is_err());
        assert!(lifetime("0s").is_err());
    }
}
