//! Who may use the admin: the login (an argon2 password hash from the settings), the
//! session cookie, CSRF tokens, the one-time development link, failed logins counted
//! per client address, and the `Origin`/`Host` checks of the MCP endpoint.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use base64::Engine as _;

use crate::builtin::password::verify_password;
use crate::settings::{AdminSettings, ServerSettings};

/// The session cookie's name.
pub(super) const COOKIE: &str = "mango_admin";
/// The cookie that carries the login form's CSRF token (there is no session yet).
pub(super) const LOGIN_COOKIE: &str = "mango_admin_login";
/// The window failed logins are counted in.
const WINDOW: Duration = Duration::from_secs(300);
/// How long the one-time development link works.
const LINK_LIFE: Duration = Duration::from_secs(3600);

/// A random token (32 bytes, base64url), or `None` when the system has no randomness.
pub(super) fn token() -> Option<String> {
    let mut buf = [0u8; 32];
    getrandom::fill(&mut buf).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// Constant-time comparison of two tokens.
fn same(a: &str, b: &str) -> bool {
    crate::util::same_secret(a.as_bytes(), b.as_bytes())
}

/// One logged-in browser.
#[derive(Clone)]
pub(super) struct Session {
    pub user: String,
    pub csrf: String,
    /// The user's scopes (`None`: every scope: the settings' admin, a superuser).
    pub scopes: Option<Vec<String>>,
    /// May manage users and tokens (the settings' admin, a superuser).
    pub superuser: bool,
    expires: Instant,
}

/// Who logs in: the settings' admin (every scope), or a user of the database.
pub(super) struct Who<'a> {
    pub user: &'a str,
    pub scopes: Option<Vec<String>>,
    pub superuser: bool,
}

impl<'a> Who<'a> {
    /// The settings' admin, or the development link's: every scope.
    pub fn settings_admin(user: &'a str) -> Who<'a> {
        Who {
            user,
            scopes: None,
            superuser: true,
        }
    }
}

/// Sessions, failed logins and the one-time link, in memory: a restart logs everyone
/// out.
pub(super) struct Access {
    settings: AdminSettings,
    sessions: Mutex<HashMap<String, Session>>,
    /// Logins from each address, and for each user name, in the last five minutes that
    /// did not succeed, counted when their check starts (so that a hundred sent at once
    /// count as a hundred, not as none until they finish).
    failures: Mutex<HashMap<Attempt, Vec<Instant>>>,
    link: Mutex<Option<(String, Instant)>>,
    /// Password checks running at once, at most: argon2 takes 19 MiB and tens of
    /// milliseconds of CPU each.
    pub verifications: tokio::sync::Semaphore,
}

/// What failed logins are counted by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Attempt {
    From(IpAddr),
    User(String),
}

/// Password checks at once, at most.
const VERIFICATIONS: usize = 2;

/// Why a login was refused.
pub(super) enum Refused {
    /// Wrong name or password (the same answer for both).
    Wrong,
    /// Too many failures from this address: wait this long.
    Wait(Duration),
    /// No password is configured.
    NoPassword,
}

impl Access {
    pub fn new(settings: AdminSettings) -> Access {
        Access {
            settings,
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            link: Mutex::new(None),
            verifications: tokio::sync::Semaphore::new(VERIFICATIONS),
        }
    }

    pub fn settings(&self) -> &AdminSettings {
        &self.settings
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new session for `who`: its cookie value.
    pub fn open(&self, who: Who<'_>) -> Option<String> {
        let id = token()?;
        let session = Session {
            user: who.user.to_owned(),
            scopes: who.scopes,
            superuser: who.superuser,
            csrf: token()?,
            expires: Instant::now()
                + Duration::from_secs(self.settings.session_hours.max(1) * 3600),
        };
        let mut sessions = Self::lock(&self.sessions);
        let now = Instant::now();
        sessions.retain(|_, s| s.expires > now);
        sessions.insert(id.clone(), session);
        Some(id)
    }

    /// The session the request's cookie names, if it is live.
    pub fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie(headers, COOKIE)?;
        let sessions = Self::lock(&self.sessions);
        sessions
            .get(&id)
            .filter(|s| s.expires > Instant::now())
            .cloned()
    }

    /// Ends the request's session.
    pub fn close(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE) {
            Self::lock(&self.sessions).remove(&id);
        }
    }

    /// Checks a login from `from`: the name and password, after the failures from that
    /// address in the last five minutes. The attempt counts as a failure from the
    /// moment its check starts, until it succeeds.
    /// `users`: the database's users may log in too (a missing settings hash is then
    /// a wrong password, for the caller to check the database's).
    pub fn login(
        &self,
        from: IpAddr,
        user: &str,
        password: &str,
        users: bool,
    ) -> Result<(), Refused> {
        let now = Instant::now();
        if self.settings.password_hash.is_none() && !users {
            return Err(Refused::NoPassword);
        }
        {
            let mut failures = Self::lock(&self.failures);
            failures.retain(|_, times| {
                times.retain(|t| now.duration_since(*t) < WINDOW);
                !times.is_empty()
            });
            let most = self.settings.login_attempts.max(1) as usize;
            for key in [Attempt::From(from), Attempt::User(user.to_owned())] {
                let times = failures.entry(key).or_default();
                if times.len() >= most {
                    let oldest = times.iter().min().copied().unwrap_or(now);
                    return Err(Refused::Wait(
                        WINDOW.saturating_sub(now.duration_since(oldest)),
                    ));
                }
            }
            for key in [Attempt::From(from), Attempt::User(user.to_owned())] {
                failures.entry(key).or_default().push(now);
            }
        }
        let Some(hash) = &self.settings.password_hash else {
            return Err(Refused::Wrong);
        };
        // The hash is checked whatever the name, so that a wrong name takes as long.
        let good_password = verify_password(hash.expose(), password);
        if good_password && same(user, &self.settings.user) {
            self.forgive(from, user);
            return Ok(());
        }
        Err(Refused::Wrong)
    }

    /// A login from `from` as `user` succeeded: its failures are forgotten.
    pub fn forgive(&self, from: IpAddr, user: &str) {
        let mut failures = Self::lock(&self.failures);
        failures.remove(&Attempt::From(from));
        failures.remove(&Attempt::User(user.to_owned()));
    }

    /// Makes the one-time development link's token (replacing any earlier one).
    pub fn make_link(&self) -> Option<String> {
        let t = token()?;
        *Self::lock(&self.link) = Some((t.clone(), Instant::now() + LINK_LIFE));
        Some(t)
    }

    /// Uses the one-time link's token: true once, for the token made last.
    pub fn use_link(&self, given: &str) -> bool {
        let mut link = Self::lock(&self.link);
        match link.as_ref() {
            Some((t, until)) if same(t, given) && *until > Instant::now() => {
                *link = None;
                true
            }
            _ => false,
        }
    }
}

/// The value of the cookie `name` in the request.
pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Whether the browser reached the server over TLS (through a proxy that says so).
pub(super) fn over_tls(headers: &HeaderMap, server: &ServerSettings) -> bool {
    server.behind_proxy
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Strict`, on the admin's path; `Secure`
/// behind TLS. `max_age` 0 deletes it.
pub(super) fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    secure: bool,
    max_age: u64,
) -> String {
    format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Host` and `Origin` checks of the MCP endpoint, for the admin: the host must be
/// one of `[server] allowed_hosts` (when the list is not empty), and a request with an
/// `Origin` must come from this same host or an allowed origin.
pub(super) fn origin_problem(headers: &HeaderMap, server: &ServerSettings) -> Option<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let hostname = host_name(host);
    if !server.allowed_hosts.is_empty()
        && !server
            .allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(hostname))
    {
        return Some(format!(
            "the Host `{host}` is not in [server] allowed_hosts"
        ));
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())?;
    let same_origin = origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host));
    if same_origin
        || server
            .allowed_origins
            .iter()
            .any(|o| origin_matches(o, origin))
    {
        None
    } else {
        Some(format!(
            "the Origin `{origin}` is neither this server nor in [server] allowed_origins"
        ))
    }
}

/// `example.com` of `example.com:8000`, `::1` of `[::1]:8000`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// `http://localhost:*` matches `http://localhost:8000`.
fn origin_matches(pattern: &str, origin: &str) -> bool {
    match pattern.strip_suffix(":*") {
        Some(base) => {
            origin.eq_ignore_ascii_case(base)
                || origin
                    .get(..base.len() + 1)
                    .is_some_and(|head| head.eq_ignore_ascii_case(&format!("{base}:")))
        }
        None => pattern.eq_ignore_ascii_case(origin),
    }
}

/// Whether the CSRF token sent with a form is the expected one.
pub(super) fn csrf_ok(expected: &str, sent: Option<&str>) -> bool {
    sent.is_some_and(|sent| same(expected, sent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::password::{hash_password, hash_problem};

    #[test]
    fn a_password_checks_against_its_hash_and_failures_are_limited() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(hash_problem(&hash).is_none());
        assert!(hash_problem("plain").is_some());
        let access = Access::new(AdminSettings {
            enabled: true,
            password_hash: Some(hash.into()),
            login_attempts: 2,
            ..AdminSettings::default()
        });
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        assert!(access.login(ip, "admin", "correct horse", false).is_ok());
        assert!(matches!(
            access.login(ip, "admin", "wrong", false),
            Err(Refused::Wrong)
        ));
        assert!(matches!(
            access.login(ip, "root", "correct horse", false),
            Err(Refused::Wrong)
        ));
        // Two failures: even the right password waits now.
        assert!(matches!(
            access.login(ip, "admin", "correct horse", false),
            Err(Refused::Wait(_))
        ));
        let other: IpAddr = "10.0.0.2".parse().expect("ip");
        assert!(access.login(other, "admin", "correct horse", false).is_ok());
        // Failures count per user name too: two wrong passwords for `eve`, from two
        // addresses, and a third address waits for `eve` (not for `admin`).
        let (a, b, c): (IpAddr, IpAddr, IpAddr) = (
            "10.0.0.3".parse().expect("ip"),
            "10.0.0.4".parse().expect("ip"),
            "10.0.0.5".parse().expect("ip"),
        );
        assert!(matches!(
            access.login(a, "eve", "x", false),
            Err(Refused::Wrong)
        ));
        assert!(matches!(
            access.login(b, "eve", "x", false),
            Err(Refused::Wrong)
        ));
        assert!(matches!(
            access.login(c, "eve", "x", false),
            Err(Refused::Wait(_))
        ));
        assert!(access.login(c, "admin", "correct horse", false).is_ok());
        // Without a settings hash: refused as "no password", unless the database's
        // users may log in (then a wrong password, for them to check).
        let none = Access::new(AdminSettings::default());
        assert!(matches!(
            none.login(a, "admin", "x", false),
            Err(Refused::NoPassword)
        ));
        assert!(matches!(
            none.login(a, "admin", "x", true),
            Err(Refused::Wrong)
        ));
    }

    /// Ten wrong logins at once from one address, with two allowed: two are checked,
    /// the others wait (a login counts from the moment its check starts).
    #[test]
    fn logins_at_once_count_when_they_start() {
        let access = std::sync::Arc::new(Access::new(AdminSettings {
            password_hash: Some(hash_password("correct horse").expect("hash").into()),
            login_attempts: 2,
            ..AdminSettings::default()
        }));
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        let at_once: Vec<_> = (0..10)
            .map(|_| {
                let access = access.clone();
                std::thread::spawn(move || access.login(ip, "admin", "wrong", false))
            })
            .collect();
        let checked = at_once
            .into_iter()
            .filter_map(|t| t.join().ok())
            .filter(|r| matches!(r, Err(Refused::Wrong)))
            .count();
        assert_eq!(checked, 2, "{checked} of 10 logins at once were checked");
    }

    #[test]
    fn the_link_works_once() {
        let access = Access::new(AdminSettings::default());
        let t = access.make_link().expect("token");
        assert!(!access.use_link("forged"));
        assert!(access.use_link(&t));
        assert!(!access.use_link(&t));
    }

    #[test]
    fn origins_and_hosts() {
        let server = ServerSettings::default();
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8000".parse().expect("v"));
        assert_eq!(origin_problem(&h, &server), None);
        h.insert(header::ORIGIN, "http://127.0.0.1:8000".parse().expect("v"));
        assert_eq!(origin_problem(&h, &server), None);
        h.insert(header::ORIGIN, "https://evil.example".parse().expect("v"));
        assert!(origin_problem(&h, &server).is_some());
        h.remove(header::ORIGIN);
        h.insert(header::HOST, "evil.example".parse().expect("v"));
        assert!(origin_problem(&h, &server).is_some());
        assert_eq!(host_name("[::1]:8000"), "::1");
        assert!(origin_matches(
            "http://localhost:*",
            "http://localhost:3000"
        ));
        assert!(!origin_matches(
            "http://localhost:*",
            "http://localhost.evil:3000"
        ));
    }
}
