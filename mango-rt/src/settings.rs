//! `Mango.toml`: the one settings file of a project.
//!
//! The file holds profiles, like this:
//!
//! ```toml
//! [default.server]
//! port = 8000
//!
//! [default.apps.notes]      # the typed section of the app `notes`
//! page_size = 20
//!
//! [prod.server]
//! host = "0.0.0.0"
//! ```
//!
//! `MANGO_PROFILE` picks the profile (`default` when unset); its keys are laid over
//! `[default]`, and `[global]` over both. Any key can then be overridden from the
//! environment: `MANGO_SERVER__PORT=9000`, `MANGO_APPS__NOTES__PAGE_SIZE=50` (`__`
//! separates the levels).

use std::any::Any;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

/// The file name of a project's settings.
pub const SETTINGS_FILE: &str = "Mango.toml";

/// Why the settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "no settings file at {path}: a mango project keeps its settings in Mango.toml at its root; run the command inside a project (cargo mango startproject makes one), or point MANGO_SETTINGS at the file"
    )]
    Missing { path: PathBuf },

    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },

    #[error(
        "{path}: the profile `{profile}` chosen by {chosen_by} has no table in the file (it has: {known}); add a [{profile}] table or fix {chosen_by}"
    )]
    UnknownProfile {
        path: PathBuf,
        profile: String,
        known: String,
        /// What chose it: `MANGO_PROFILE`, or the command line's `--profile`.
        chosen_by: &'static str,
    },

    #[error(
        "{path}: [{profile}.apps.{app}] is set but no installed app is named `{app}` (installed: {known}); fix the name, or remove the section"
    )]
    UnknownApp {
        path: PathBuf,
        profile: String,
        app: String,
        known: String,
    },

    #[error(
        "{path}: [{profile}.apps.{app}] is set, but the app `{app}` declares no settings; add a `#[mango_rt::settings] struct Settings {{ … }}` to the app, or remove the section"
    )]
    AppHasNoSettings {
        path: PathBuf,
        profile: String,
        app: String,
    },

    #[error("{path}: key `{key}`: {message} (read into {read_into})")]
    InvalidApp {
        path: PathBuf,
        /// The full key: `<profile>.apps.<app>.<field>`.
        key: String,
        message: String,
        /// The settings type and where it is defined.
        read_into: String,
    },

    #[error(
        "the app `{app}` has two #[settings] types, {first} and {second}; an app has one section in Mango.toml, so keep one"
    )]
    TwoSettingsTypes {
        app: String,
        first: String,
        second: String,
    },

    #[error(
        "the settings type `{0}` is not known to this server: is its app linked into the project's binary?"
    )]
    NotRegistered(&'static str),
}

pub use mango_cli::ServeTransport;

/// The project's settings (the framework's and the server's; the apps' sections are read
/// through [`AppSettings`]). Its `Debug` hides secrets: tokens, passwords, keys, and the
/// values of the apps' sections (which may hold theirs).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Settings {
    /// `log_level`: a tracing filter such as `info` or `notes=debug,info`.
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// `log_max_bytes`: the most of a call's arguments, or of an error's text, that the
    /// server's log and the audit table keep; a longer one is cut there, its whole
    /// size noted.
    #[serde(default = "default_log_max_bytes")]
    pub log_max_bytes: usize,
    #[serde(default)]
    pub server: ServerSettings,
    #[serde(default)]
    pub database: DatabaseSettings,
    /// `middleware`: the active middleware, in order (`app.name`): the request phase
    /// runs top-down, the response phase bottom-up.
    #[serde(default)]
    pub middleware: Vec<String>,
    /// `[auth]`, for the `mango.auth` middleware.
    #[serde(default)]
    pub auth: AuthSettings,
    /// `[rate_limit]`, for the `mango.rate_limit` middleware.
    #[serde(default)]
    pub rate_limit: RateLimitSettings,
    /// `[timeout]`, for the `mango.timeout` middleware.
    #[serde(default)]
    pub timeout: TimeoutSettings,
    /// `[audit]`, for the `mango.audit` middleware.
    #[serde(default)]
    pub audit: AuditSettings,
    /// `[input]`: asking the client mid-call (`ctx.elicit`, `ctx.sample`).
    #[serde(default)]
    pub input: InputSettings,
    /// `[admin]`: the admin pages on the HTTP server.
    #[serde(default)]
    pub admin: AdminSettings,
    /// `[models]`: the tools of the apps' `#[model]`s.
    #[serde(default)]
    pub models: ModelSettings,
    /// `[jobs]`: the workers that run the apps' `#[job]`s.
    #[serde(default)]
    pub jobs: JobSettings,
    /// `[tasks]`: tool calls run as tasks (`#[tool(task)]`).
    #[serde(default)]
    pub tasks: TaskSettings,
    /// `[metrics]`: Prometheus' `/metrics`, on a port of its own.
    #[serde(default)]
    pub metrics: MetricsSettings,
    /// `[telemetry]`: OpenTelemetry traces (mango-rt's `telemetry` feature).
    #[serde(default)]
    pub telemetry: TelemetrySettings,
    /// `startup_timeout`: seconds the apps' `#[startup]` hooks may take, together
    /// (likewise their `#[shutdown]` hooks).
    #[serde(default = "default_startup_timeout")]
    pub startup_timeout: f64,
    /// Each app's section, by app name.
    #[serde(default)]
    pub apps: BTreeMap<String, serde_json::Value>,
    /// The profile these settings were read for.
    #[serde(skip)]
    pub profile: String,
    /// The file they were read from (none for settings built in code).
    #[serde(skip)]
    pub path: Option<PathBuf>,
    /// The keys of secrets (tokens, a database password, keys, a client secret) whose
    /// value the file holds rather than the environment (`check --deploy` refuses them).
    #[serde(skip)]
    pub secrets_in_file: Vec<String>,
}

/// `[server]`: what the MCP server says about itself, and where it listens.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ServerSettings {
    /// The server's name in `initialize` (default: the project's name).
    pub name: Option<String>,
    /// The server's version in `initialize` (default: the project's version).
    pub version: Option<String>,
    /// Instructions for the model, sent in `initialize`.
    pub instructions: Option<String>,
    pub transport: ServeTransport,
    pub host: String,
    pub port: u16,
    /// The URL path of the Streamable HTTP endpoint.
    pub path: String,
    /// No sessions, plain JSON responses: the mode for running several replicas.
    pub stateless: bool,
    /// Browser origins allowed to call the server (`scheme://host:port`, `:*` for any
    /// port); other `Origin`s get 403. Requests without `Origin` are allowed.
    pub allowed_origins: Vec<String>,
    /// `Host` headers accepted (DNS-rebinding protection); an empty list accepts any.
    pub allowed_hosts: Vec<String>,
    /// A reverse proxy in front of the server checks `Host` and terminates TLS
    /// (`check --deploy` then accepts `allowed_hosts = []`), and says what the client
    /// sent: its address, the `Host` it asked for and whether over TLS, in
    /// `X-Forwarded-For`/`-Host`/`-Proto` (or RFC 7239's `Forwarded`). Only requests
    /// from [`trusted_proxies`](Self::trusted_proxies) are believed.
    pub behind_proxy: bool,
    /// With `behind_proxy`: the addresses (`10.0.0.5`) and networks (`10.0.0.0/8`,
    /// `fd00::/8`) of the proxies whose forwarded headers are believed; from any other
    /// peer they are removed before anything reads them. Default: this machine.
    pub trusted_proxies: Vec<String>,
    /// This replica's name, when several serve the project behind a balancer
    /// (`MANGO_SERVER__REPLICA`): a 2025-11-25 session's id starts with it, so the
    /// balancer sends the session's requests here (`run nginx`).
    pub replica: Option<String>,
    /// Seconds that a shutdown waits for calls in flight.
    pub shutdown_timeout: u64,
    /// The largest request body accepted over HTTP, in bytes.
    pub max_request_bytes: usize,
    /// Seconds a client has to send a request's headers (a connection that sends half
    /// of them and waits is closed after this).
    pub header_timeout: f64,
    /// 2025-11-25 sessions open at most; an `initialize` past it gets 503 (retry
    /// later) until sessions end.
    pub max_sessions: usize,
    /// Seconds a session lives without a request or a message (then it ends, and its
    /// memory is given back).
    pub session_idle_timeout: f64,
    /// HTTP connections open at most. At the cap, a new connection closes the oldest
    /// one that has no request in flight (an idle or half-sent one), or is refused when
    /// every one is busy; each is logged.
    pub max_connections: usize,
    /// Items a page of `tools/list`, `resources/list`, `resources/templates/list` and
    /// `prompts/list` (0: every item on one page).
    pub page_size: usize,
}

impl ServerSettings {
    /// `trusted_proxies`, read (an entry that does not parse was refused at load).
    pub(crate) fn proxy_nets(&self) -> Vec<IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|e| IpNet::parse(e))
            .collect()
    }
}

/// An address or a network of `[server] trusted_proxies`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpNet {
    net: std::net::IpAddr,
    prefix: u8,
}

impl IpNet {
    /// `10.0.0.5`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    pub(crate) fn parse(text: &str) -> Option<IpNet> {
        let text = text.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let net: std::net::IpAddr = addr.parse().ok()?;
        let bits = if net.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(IpNet { net, prefix })
    }

    /// Whether every address of the network is this machine's.
    pub(crate) fn is_loopback(&self) -> bool {
        match self.net {
            std::net::IpAddr::V4(ip) => ip.is_loopback() && self.prefix >= 8,
            std::net::IpAddr::V6(ip) => ip.is_loopback() && self.prefix == 128,
        }
    }

    /// Whether `ip` is in the network (an IPv4 address mapped into IPv6 counts as
    /// itself).
    pub(crate) fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let ip = ip.to_canonical();
        let keep = |bits: u32, width: u32| -> u128 {
            if bits == 0 {
                0
            } else {
                (u128::MAX << (width - bits)) & (u128::MAX >> (128 - width))
            }
        };
        match (self.net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = keep(u32::from(self.prefix), 32);
                u128::from(u32::from(net)) & mask == u128::from(u32::from(ip)) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = keep(u32::from(self.prefix), 128);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            name: None,
            version: None,
            instructions: None,
            transport: ServeTransport::Http,
            host: "127.0.0.1".into(),
            port: 8000,
            path: "/mcp".into(),
            stateless: false,
            allowed_origins: vec![
                "http://localhost:*".into(),
                "http://127.0.0.1:*".into(),
                "http://[::1]:*".into(),
            ],
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            behind_proxy: false,
            trusted_proxies: vec!["127.0.0.1".into(), "::1".into()],
            replica: None,
            shutdown_timeout: 30,
            max_request_bytes: 4 * 1024 * 1024,
            header_timeout: 10.0,
            max_sessions: 1000,
            session_idle_timeout: 300.0,
            max_connections: 512,
            page_size: 0,
        }
    }
}

/// A setting that must never be shown: a token, a key, a client secret, a password
/// hash. Its `Debug` and `Serialize` write `[redacted]`, so a log line, a `{:?}` of the
/// settings or an error message cannot carry it; [`expose`](Secret::expose) gives the
/// value to the code that uses it. An app's `#[settings]` can hold one too:
///
/// ```
/// #[mango_rt::settings]
/// struct Weather {
///     api_key: mango_rt::Secret,
/// }
/// ```
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself, for the code that needs it (never for a message).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Secret {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_owned())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

/// `[auth]`, for `mango.auth`: static bearer tokens by the name a caller is known as
/// (set them from the environment: `MANGO_AUTH__TOKENS__ALICE=…`), and an OAuth 2.1
/// resource server (`[auth.oauth]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AuthSettings {
    /// Users, groups and their API tokens in the project's database (mango's own
    /// tables, made by `migrate`): a token made by `cargo mango run createtoken` (or in
    /// the admin) is accepted as its user, with the user's scopes narrowed by the
    /// token's; staff users log in to the admin with their own passwords.
    pub users: bool,
    /// Seconds a user token's lookup is kept by each process (a revoked token stops
    /// working within this long on every replica).
    pub token_cache: f64,
    /// With `users` and `[auth.oauth]`: an OAuth token's claim (`"sub"`, or one kept
    /// by `[auth.oauth] claims`, `"email"` matched against users' emails) names a user,
    /// whose scopes and groups' scopes are added to the token's.
    pub link_oauth: Option<String>,
    pub tokens: BTreeMap<String, Secret>,
    /// The scopes a static token grants, by its name (a token not listed has every
    /// scope).
    pub token_scopes: BTreeMap<String, Vec<String>>,
    /// Over stdio there are no headers: `"trust"` (the default) treats the local user as
    /// the caller `local`, with every scope; `"deny"` refuses every stdio call.
    pub stdio: StdioAuth,
    /// `[auth.oauth]`: access tokens from an authorization server.
    pub oauth: Option<OAuthSettings>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            users: false,
            token_cache: 5.0,
            link_oauth: None,
            tokens: BTreeMap::new(),
            token_scopes: BTreeMap::new(),
            stdio: StdioAuth::default(),
            oauth: None,
        }
    }
}

/// `[auth.oauth]`: this server as an OAuth 2.1 resource server (the MCP authorization
/// spec). Access tokens are JWTs checked against the authorization server's keys
/// (JWKS), or, with `introspection_url`, opaque tokens asked about (RFC 7662).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct OAuthSettings {
    /// The authorization server's issuer identifier: the tokens' `iss`.
    pub issuer: String,
    /// What the metadata names as the authorization servers (empty: the issuer).
    pub authorization_servers: Vec<String>,
    /// This server's canonical URL (RFC 8707), the tokens' audience: what clients
    /// connect to, e.g. `https://mcp.example.com/mcp` (unset: the URL it listens on).
    pub resource: Option<String>,
    /// Where the keys are (unset: the `jwks_uri` of the issuer's metadata, RFC 8414 or
    /// OpenID discovery).
    pub jwks_url: Option<String>,
    /// Set: tokens are checked by token introspection (RFC 7662) at this URL instead of
    /// as JWTs.
    pub introspection_url: Option<String>,
    /// This server's client credentials at the introspection endpoint (better from the
    /// environment: `MANGO_AUTH__OAUTH__CLIENT_SECRET`).
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    /// Scopes every request needs.
    pub required_scopes: Vec<String>,
    /// Scopes the metadata lists besides those the apps' items declare.
    pub scopes_supported: Vec<String>,
    /// Claims of the token kept in the caller's identity (`ctx.identity()`), besides the
    /// subject and the scopes.
    pub claims: Vec<String>,
    /// The signature algorithms accepted (asymmetric only: RS*, PS*, ES*, EdDSA).
    pub algorithms: Vec<String>,
    /// Seconds of clock skew allowed on `exp` and `nbf`.
    pub leeway: u64,
    /// Seconds a request to the authorization server (metadata, keys, introspection)
    /// may take.
    pub timeout: f64,
    /// Seconds the keys are kept before they are fetched again (an unknown `kid`
    /// fetches them at once, at most once a second).
    pub jwks_ttl: u64,
    /// Seconds after a failed fetch of the keys before they are fetched again (tokens
    /// that need them are refused at once meanwhile, so that a failing authorization
    /// server is not asked by every request).
    pub jwks_retry: f64,
    /// Seconds an introspection answer is kept (0: ask for every request).
    pub introspection_cache: u64,
    /// The longest `Authorization` header accepted, in bytes.
    pub max_token_bytes: usize,
    /// A name for this server in its metadata (`resource_name`).
    pub resource_name: Option<String>,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        OAuthSettings {
            issuer: String::new(),
            authorization_servers: Vec::new(),
            resource: None,
            jwks_url: None,
            introspection_url: None,
            client_id: None,
            client_secret: None,
            required_scopes: Vec::new(),
            scopes_supported: Vec::new(),
            claims: Vec::new(),
            algorithms: [
                "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
            ]
            .map(String::from)
            .to_vec(),
            leeway: 30,
            timeout: 5.0,
            jwks_ttl: 600,
            jwks_retry: 5.0,
            introspection_cache: 30,
            max_token_bytes: 8192,
            resource_name: None,
        }
    }
}

/// How `mango.auth` treats stdio calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StdioAuth {
    #[default]
    Trust,
    Deny,
}

/// `[rate_limit]`: a token bucket per caller (its identity, else one for anonymous
/// callers of a transport).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct RateLimitSettings {
    /// Calls a minute, on average.
    pub per_minute: u32,
    /// Calls allowed at once above the average.
    pub burst: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            per_minute: 120,
            burst: 20,
        }
    }
}

/// `[audit]`: the log of calls `mango.audit` writes (table `mango_audit`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AuditSettings {
    /// Rows older than this many days are removed by `audit --prune` (0: kept).
    pub retention_days: u32,
    /// At most this many rows are kept by `audit --prune`, the newest (0: no limit).
    pub retention_rows: u64,
    /// Argument fields (at any depth) whose values are written as `"[redacted]"`,
    /// besides those named like a secret (password, secret, token, key, …).
    pub redact: Vec<String>,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            retention_days: 30,
            retention_rows: 0,
            redact: Vec::new(),
        }
    }
}

/// What is wrong with `[admin]`: the server does not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AdminSettingsError {
    #[error("[admin] path = \"{path}\" {problem}")]
    Path { path: String, problem: &'static str },

    #[error(transparent)]
    Hash(#[from] NotAHash),
}

/// `[admin] password_hash` is not a PHC string argon2 can check passwords against.
#[derive(Debug, thiserror::Error)]
#[error(
    "[admin] password_hash is not an argon2 hash ({0}); make one with `cargo mango run adminpassword`"
)]
pub(crate) struct NotAHash(pub(crate) argon2::password_hash::phc::Error);

/// `[admin]`: the admin pages at `path` on the HTTP server, off unless `enabled`.
///
/// Logging in takes `user` and the password whose argon2 hash `password_hash` holds
/// (set it from the environment, `MANGO_ADMIN__PASSWORD_HASH`; `cargo mango run
/// adminpassword` makes one). In a developer's profile (`default`, `dev`) on a loopback
/// address, `serve` also prints a login link that works once (`dev_login`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct AdminSettings {
    pub enabled: bool,
    /// Where the pages are served (`/admin`).
    pub path: String,
    /// The name to log in with.
    pub user: String,
    /// The password's argon2 hash (PHC string: `$argon2id$v=19$…`).
    pub password_hash: Option<Secret>,
    /// Hours a login lasts.
    pub session_hours: u64,
    /// In the `default` and `dev` profiles on a loopback address, print a one-time login
    /// link at start.
    pub dev_login: bool,
    /// Failed logins allowed per client address in 5 minutes before it must wait.
    pub login_attempts: u32,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            enabled: false,
            path: "/admin".into(),
            user: "admin".into(),
            password_hash: None,
            session_hours: 12,
            dev_login: true,
            login_attempts: 5,
        }
    }
}

/// `[timeout]`: the longest a call may run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct TimeoutSettings {
    pub seconds: f64,
}

impl Default for TimeoutSettings {
    fn default() -> Self {
        TimeoutSettings { seconds: 30.0 }
    }
}

/// `[input]`: how a call asks its client (`ctx.elicit`, `ctx.sample`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct InputSettings {
    /// Seconds a call waits for the client's answer in a 2025-11-25 session.
    pub timeout: f64,
    /// The key that signs the `requestState` of 2026-07-28's rounds: at least 32 bytes,
    /// kept secret, the same on every replica. Set it from the environment
    /// (`MANGO_INPUT__KEY`). Unset: a random key for this process, so a state from
    /// another process (a restart, another replica) is refused.
    pub key: Option<Secret>,
    /// The key before `key` (rotation): states it signed are still accepted until they
    /// expire.
    pub previous_key: Option<Secret>,
    /// Seconds a `requestState` stays valid.
    pub state_ttl: u64,
}

impl Default for InputSettings {
    fn default() -> Self {
        InputSettings {
            timeout: 60.0,
            key: None,
            previous_key: None,
            state_ttl: 600,
        }
    }
}

/// `[models]`: the tools of the apps' `#[model]`s.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct ModelSettings {
    /// Rows a query tool returns when the call gives no `limit`.
    pub default_limit: u32,
    /// The most rows a call may ask for (a larger `limit` is refused: the client follows
    /// `next_cursor` instead).
    pub max_limit: u32,
}

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            default_limit: 50,
            max_limit: 500,
        }
    }
}

/// `[jobs]`: the workers that run the apps' `#[job]`s, from the `mango_jobs` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct JobSettings {
    /// Jobs `serve` runs at once (its workers); 0 runs none there (a separate
    /// `run worker` does).
    pub workers: usize,
    /// Seconds between two looks for due jobs when there was none.
    pub poll: f64,
    /// Seconds a worker's claim on a job lasts unless renewed (every third of it): a
    /// worker that dies loses its jobs to the others after this long.
    pub lease: f64,
    /// Seconds a run may take (a job's own `timeout` replaces it); past it the run is
    /// stopped, rolled back, and counts as a failed attempt.
    pub timeout: f64,
    /// Runs a job gets at most (a job's own `max_attempts` replaces it).
    pub max_attempts: u32,
    /// Seconds before the first retry; each next one waits twice as long (at most an
    /// hour).
    pub backoff: f64,
    /// Days a finished job (completed, failed, cancelled) is kept, then removed.
    pub keep_days: f64,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            workers: 2,
            poll: 1.0,
            lease: 30.0,
            timeout: 300.0,
            max_attempts: 3,
            backoff: 10.0,
            keep_days: 7.0,
        }
    }
}

/// `[tasks]`: tool calls run as tasks of the MCP tasks extension (`#[tool(task)]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct TaskSettings {
    /// Seconds a task is kept from its creation (its `ttlMs`): `tasks/get` finds it
    /// until then, then it is removed (one still running is cancelled).
    pub ttl: f64,
    /// Seconds the client is asked to wait between two `tasks/get` (`pollIntervalMs`).
    pub poll: f64,
    /// Seconds a server's hold on a task it runs lasts unless renewed (every third of
    /// it): a task whose server died is marked failed by another this long after.
    pub lease: f64,
}

impl Default for TaskSettings {
    fn default() -> Self {
        TaskSettings {
            ttl: 3600.0,
            poll: 1.0,
            lease: 30.0,
        }
    }
}

/// `[metrics]`: the server's numbers in Prometheus' text format at `GET /metrics`, on a
/// listener of its own (not the MCP port, so that a proxy in front does not publish
/// them).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct MetricsSettings {
    /// Off by default.
    pub enabled: bool,
    /// The address it listens on (this machine only by default: a scraper elsewhere
    /// needs a private address here, not 0.0.0.0 on a public network).
    pub host: String,
    /// Its port (0: any free port, named in the log).
    pub port: u16,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings {
            enabled: false,
            host: "127.0.0.1".into(),
            port: 9464,
        }
    }
}

/// `[telemetry]`: OpenTelemetry traces. A span per MCP request (named and attributed by
/// the semantic conventions for MCP) with its endpoint, database and task spans under
/// it, and an app's own `tracing` spans joining them; the parent read from `_meta`
/// (SEP-414) or the HTTP `traceparent` header. Needs mango-rt's `telemetry` feature.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct TelemetrySettings {
    /// `off` (the default), `propagate` or `export`.
    pub mode: TelemetryMode,
    /// The OTLP/HTTP endpoint: its base (`http://collector:4318`, to which
    /// `/v1/traces` is added) or the whole traces URL. Unset: the environment's
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`, else
    /// `http://127.0.0.1:4318`.
    pub endpoint: Option<String>,
    /// Headers sent with each export, each read from the environment variable it
    /// names (`{ authorization = "OTLP_AUTH" }`): a key stays out of Mango.toml.
    pub headers: BTreeMap<String, String>,
    /// The `service.name` of the spans (unset: the project's name).
    pub service_name: Option<String>,
    /// The share of new traces recorded, 0.0 to 1.0; a request that comes with a
    /// parent follows its parent's choice.
    pub sampling_ratio: f64,
    /// Seconds an export may take before it is given up (its spans are dropped).
    pub timeout: f64,
    /// The most finished spans waiting for the exporter (which holds at most as many
    /// again in the batch it is sending); more are dropped, and counted in a warning
    /// logged at most once a minute.
    pub queue: usize,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            mode: TelemetryMode::Off,
            endpoint: None,
            headers: BTreeMap::new(),
            service_name: None,
            sampling_ratio: 1.0,
            timeout: 10.0,
            queue: 4096,
        }
    }
}

/// `[telemetry] mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TelemetryMode {
    /// No spans, no trace context read or passed on (nothing is done per request).
    Off,
    /// The trace context is read, passed on (elicitation, sampling) and put on log
    /// lines, but nothing is exported: for a server whose traces another hop records.
    Propagate,
    /// Spans are exported over OTLP/HTTP.
    Export,
}

/// `[database]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[non_exhaustive]
pub struct DatabaseSettings {
    /// The database URL: `sqlite://<path>` (relative to the project root) or
    /// `postgres://user:password@host/db`.
    pub url: String,
    /// The most connections open at once.
    pub pool_size: usize,
    /// Seconds a call waits for a free connection before it fails.
    pub checkout_timeout: f64,
    /// SQLite: seconds a write waits for the database's write lock (held by another
    /// call, or another process) before it fails (SQLite's `busy_timeout`).
    pub busy_timeout: f64,
    /// Milliseconds a statement may run (PostgreSQL's `statement_timeout`).
    pub statement_timeout: Option<u64>,
    /// Whether a tool's connection is in a transaction unless the tool says
    /// `atomic = false` (Django's `ATOMIC_REQUESTS`).
    pub atomic: bool,
}

impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &crate::util::redact_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("checkout_timeout", &self.checkout_timeout)
            .field("busy_timeout", &self.busy_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("atomic", &self.atomic)
            .finish()
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "sqlite://db.sqlite3".into(),
            pool_size: 10,
            checkout_timeout: 5.0,
            busy_timeout: 5.0,
            statement_timeout: None,
            atomic: true,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("log_level", &self.log_level)
            .field("log_max_bytes", &self.log_max_bytes)
            .field("server", &self.server)
            .field("database", &self.database)
            .field("middleware", &self.middleware)
            .field("auth", &self.auth)
            .field("rate_limit", &self.rate_limit)
            .field("timeout", &self.timeout)
            .field("audit", &self.audit)
            .field("input", &self.input)
            .field("models", &self.models)
            .field("jobs", &self.jobs)
            .field("tasks", &self.tasks)
            .field("admin", &self.admin)
            .field("startup_timeout", &self.startup_timeout)
            .field("apps", &self.apps.keys().collect::<Vec<_>>())
            .field("profile", &self.profile)
            .field("path", &self.path)
            .finish()
    }
}

fn default_log_level() -> String {
    "info".into()
}

fn default_log_max_bytes() -> usize {
    4096
}

fn default_startup_timeout() -> f64 {
    30.0
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            log_level: default_log_level(),
            log_max_bytes: default_log_max_bytes(),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            middleware: Vec::new(),
            auth: AuthSettings::default(),
            rate_limit: RateLimitSettings::default(),
            timeout: TimeoutSettings::default(),
            audit: AuditSettings::default(),
            input: InputSettings::default(),
            models: ModelSettings::default(),
            jobs: JobSettings::default(),
            tasks: TaskSettings::default(),
            metrics: MetricsSettings::default(),
            telemetry: TelemetrySettings::default(),
            admin: AdminSettings::default(),
            startup_timeout: default_startup_timeout(),
            apps: BTreeMap::new(),
            profile: "default".into(),
            path: None,
            secrets_in_file: Vec::new(),
        }
    }
}

impl Settings {
    /// Reads `path` for `profile`, then the `MANGO_…` environment over it.
    pub(crate) fn load(path: &Path, profile: &str) -> Result<Settings, SettingsError> {
        Self::load_with_env(path, profile, Env::prefixed("MANGO_"))
    }

    fn load_with_env(path: &Path, profile: &str, env: Env) -> Result<Settings, SettingsError> {
        if !path.is_file() {
            return Err(SettingsError::Missing {
                path: path.to_owned(),
            });
        }
        let invalid = |message: String| SettingsError::Invalid {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
        let table: toml_table::Table =
            toml_table::parse(&text).map_err(|e| invalid(format!("not valid TOML: {e}")))?;
        let known: Vec<&str> = table.keys().map(String::as_str).collect();
        if profile != "default" && !known.contains(&profile) {
            // The command line's `--profile` wins over MANGO_PROFILE (clap): the
            // variable chose it only when it says the same.
            let source = if std::env::var("MANGO_PROFILE").ok().as_deref() == Some(profile) {
                "MANGO_PROFILE"
            } else {
                "--profile"
            };
            return Err(SettingsError::UnknownProfile {
                path: path.to_owned(),
                profile: profile.to_owned(),
                known: known.join(", "),
                chosen_by: source,
            });
        }
        for (key, value) in &table {
            if !value.is_table() {
                return Err(invalid(format!(
                    "`{key}` is not a table: every key belongs to a profile table such as [default] (write [default] above it)"
                )));
            }
        }
        // Settings variables are `MANGO_LOG_LEVEL`, `MANGO_MIDDLEWARE`,
        // `MANGO_STARTUP_TIMEOUT` and `MANGO_<SECTION>__<KEY>…`; other
        // `MANGO_` variables (MANGO_PROFILE, MANGO_SETTINGS, a tool's own) are not keys.
        let env = env
            .filter(|key| {
                key.as_str().contains("__")
                    || key == "log_level"
                    || key == "middleware"
                    || key == "startup_timeout"
            })
            .split("__")
            .global();
        let figment = Figment::new()
            .merge(Toml::string(&text).nested())
            .merge(env)
            .select(profile);
        let mut settings: Settings = figment.extract().map_err(|e| {
            invalid(
                e.into_iter()
                    .map(|e| describe(&e, profile))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        for entry in &settings.server.trusted_proxies {
            if IpNet::parse(entry).is_none() {
                return Err(invalid(format!(
                    "[server] trusted_proxies has `{entry}`, neither an IP address nor a network: write `10.0.0.5`, `10.0.0.0/8` or `fd00::/8`"
                )));
            }
        }
        let telemetry = &settings.telemetry;
        if !(0.0..=1.0).contains(&telemetry.sampling_ratio) {
            return Err(invalid(format!(
                "[telemetry] sampling_ratio is {}: it is a share of traces, from 0.0 (none) to 1.0 (all)",
                telemetry.sampling_ratio
            )));
        }
        if !(telemetry.timeout > 0.0 && telemetry.timeout.is_finite()) {
            return Err(invalid(format!(
                "[telemetry] timeout is {}: give the seconds an export may take, more than 0",
                telemetry.timeout
            )));
        }
        if telemetry.queue == 0 {
            return Err(invalid(
                "[telemetry] queue is 0: give the most spans that may wait to be exported (4096 by default)".into(),
            ));
        }
        settings.profile = profile.to_owned();
        settings.path = Some(path.to_owned());
        settings.secrets_in_file = settings
            .secret_keys()
            .into_iter()
            .filter(|key| {
                figment
                    .find_metadata(key)
                    .is_some_and(|m| !m.name.contains("environment"))
            })
            .collect();
        Ok(settings)
    }

    /// The keys whose values are secrets, as set now.
    fn secret_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .auth
            .tokens
            .keys()
            .map(|name| format!("auth.tokens.{name}"))
            .collect();
        if crate::util::redact_url(&self.database.url) != self.database.url {
            keys.push("database.url".into());
        }
        if self.input.key.is_some() {
            keys.push("input.key".into());
        }
        if self.input.previous_key.is_some() {
            keys.push("input.previous_key".into());
        }
        if self
            .auth
            .oauth
            .as_ref()
            .is_some_and(|o| o.client_secret.is_some())
        {
            keys.push("auth.oauth.client_secret".into());
        }
        if self.admin.password_hash.is_some() {
            keys.push("admin.password_hash".into());
        }
        keys
    }

    /// The project's root: the folder of the settings file (relative SQLite paths start
    /// there).
    pub(crate) fn root(&self) -> PathBuf {
        self.path
            .as_deref()
            .and_then(Path::parent)
            .map(Path::to_owned)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// The file's name for messages.
    pub(crate) fn display_path(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| PathBuf::from(SETTINGS_FILE))
    }
}

/// One figment error as `key `a.b`: what was wrong`, with the profile in the key.
fn describe(e: &figment::Error, profile: &str) -> String {
    let key = e.path.join(".");
    let what = match &e.kind {
        figment::error::Kind::UnknownField(field, expected) => {
            format!(
                "unknown key `{field}`; expected one of: {}",
                expected.join(", ")
            )
        }
        kind => kind.to_string(),
    };
    let from_env = e
        .metadata
        .as_ref()
        .is_some_and(|m| m.name.contains("environment"));
    let source = if from_env {
        " (from the environment variable MANGO_".to_owned()
            + &key.to_uppercase().replace('.', "__")
            + ")"
    } else {
        String::new()
    };
    if key.is_empty() {
        format!("{what}{source}")
    } else {
        let profile = match e.profile.as_ref() {
            Some(p) if p.as_str() != "global" => p.to_string(),
            _ => profile.to_owned(),
        };
        format!("key `{profile}.{key}`: {what}{source}")
    }
}

/// A tiny TOML reader for the file's profile tables (figment does the real reading).
mod toml_table {
    use figment::providers::Format;

    pub type Table = std::collections::BTreeMap<String, Value>;

    pub struct Value(bool);

    impl Value {
        pub fn is_table(&self) -> bool {
            self.0
        }
    }

    pub fn parse(text: &str) -> Result<Table, <figment::providers::Toml as Format>::Error> {
        let value: figment::value::Dict = figment::providers::Toml::from_str(text)?;
        Ok(value
            .into_iter()
            .map(|(k, v)| (k, Value(v.as_dict().is_some())))
            .collect())
    }
}

/// An app's typed section of `Mango.toml`, implemented by `#[mango_rt::settings]`.
///
/// A tool parameter taken by reference must be injectable: `&Context`, or a type of
/// this trait (the message below is what a user sees for `name: &str`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be injected into a tool: it is not `Context`, `Db` or an app's `#[settings]` type",
    label = "a parameter taken by reference is injected by mango, not read from the arguments",
    note = "take JSON arguments by value (`String`, not `&str`); injectable: `&mango_rt::Context`, `&mut mango_rt::Db`, `&YourSettings` (a `#[mango_rt::settings]` struct)"
)]
pub trait AppSettings: for<'de> Deserialize<'de> + Send + Sync + 'static {
    /// The package name of the app.
    const APP: &'static str;
}

/// Reads an app's section into its settings type, type-erased.
pub type ParseSettings =
    fn(
        serde_json::Value,
    ) -> Result<Arc<dyn Any + Send + Sync>, serde_path_to_error::Error<serde_json::Error>>;

/// Reads an app's section into its settings type (generated code calls it).
pub fn parse_settings<T: AppSettings>(
    section: serde_json::Value,
) -> Result<Arc<dyn Any + Send + Sync>, serde_path_to_error::Error<serde_json::Error>> {
    serde_path_to_error::deserialize::<_, T>(section)
        .map(|s| Arc::new(s) as Arc<dyn Any + Send + Sync>)
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return its large error type
mod tests {
    use super::*;
    use figment::Jail;

    fn load(jail: &mut Jail, text: &str, profile: &str) -> Result<Settings, SettingsError> {
        jail.create_file(SETTINGS_FILE, text)
            .map_err(|e| SettingsError::Invalid {
                path: PathBuf::new(),
                message: e.to_string(),
            })?;
        Settings::load(&jail.directory().join(SETTINGS_FILE), profile)
    }

    #[test]
    fn profiles_layer_over_default_and_env_over_both() {
        Jail::expect_with(|jail| {
            let text = "[default.server]\nport = 8001\nhost = \"127.0.0.1\"\n[prod.server]\nhost = \"0.0.0.0\"\n";
            let s = load(jail, text, "default").map_err(|e| e.to_string())?;
            assert_eq!((s.server.port, s.server.host.as_str()), (8001, "127.0.0.1"));
            let s = load(jail, text, "prod").map_err(|e| e.to_string())?;
            assert_eq!((s.server.port, s.server.host.as_str()), (8001, "0.0.0.0"));
            jail.set_env("MANGO_SERVER__PORT", "9000");
            jail.set_env("MANGO_PROFILE", "prod");
            jail.set_env("MANGO_SOMETHING_ELSE", "not a setting");
            let s = load(jail, text, "prod").map_err(|e| e.to_string())?;
            assert_eq!(s.server.port, 9000);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_name_the_file_and_the_key() {
        Jail::expect_with(|jail| {
            let err = load(jail, "[default.server]\nprot = 1\n", "default")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("Mango.toml"), "{err}");
            assert!(err.contains("default.server.prot"), "{err}");
            assert!(err.contains("unknown key `prot`"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        Jail::expect_with(|jail| {
            let err = load(jail, "[default.server]\nport = \"eighty\"\n", "default")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("default.server.port"), "{err}");
            assert!(err.contains("u16"), "{err}");
            jail.set_env("MANGO_SERVER__PORT", "-3");
            let err = load(jail, "[default]\n", "default")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("MANGO_SERVER__PORT"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        Jail::expect_with(|jail| {
            let err = load(
                jail,
                "[default.server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
                "default",
            )
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
            assert!(
                err.contains("`10.0.0.0/33`, neither an IP address"),
                "{err}"
            );
            Ok(())
        });
        let net = |s: &str| IpNet::parse(s).expect(s);
        let ip = |s: &str| s.parse::<std::net::IpAddr>().expect(s);
        assert!(net("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!net("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(net("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
        assert!(!net("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(net("fd00::/8").contains(ip("fd12::1")));
        assert!(!net("fd00::/8").contains(ip("fe80::1")));
        assert!(net("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!net("0.0.0.0/0").contains(ip("::1")));
        assert!(net("::1").contains(ip("::1")));
        assert_eq!(IpNet::parse("localhost"), None);
        assert!(net("127.0.0.0/8").is_loopback() && net("::1").is_loopback());
        assert!(!net("0.0.0.0/0").is_loopback() && !net("10.0.0.1").is_loopback());
    }

    #[test]
    fn a_mistyped_environment_variable_stops() {
        Jail::expect_with(|jail| {
            jail.set_env("MANGO_SERVR__PORT", "1");
            let err = load(jail, "[default]\n", "default")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains("unknown key `servr`") && err.contains("MANGO_SERVR"),
                "{err}"
            );
            Ok(())
        });
    }

    #[test]
    fn a_missing_file_or_profile_stops() {
        Jail::expect_with(|jail| {
            let err = Settings::load(&jail.directory().join(SETTINGS_FILE), "default")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("no settings file"), "{err}");
            let err = load(jail, "[default]\n", "prdo")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("`prdo`"), "{err}");
            let err = load(jail, "port = 3\n", "default")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("`port` is not a table"), "{err}");
            Ok(())
        });
    }

    /// Every secret setting is a `Secret`: a `{:?}` of the settings (as a log line or an
    /// error might show them) holds none of their values, and neither does their JSON.
    #[test]
    fn secrets_never_show() {
        let mut settings = Settings::default();
        settings
            .auth
            .tokens
            .insert("alice".into(), "token-VALUE-1".into());
        settings.auth.oauth = Some(OAuthSettings {
            client_secret: Some("client-VALUE-2".into()),
            ..OAuthSettings::default()
        });
        settings.input.key = Some("key-VALUE-3-at-least-32-bytes-long!!".into());
        settings.input.previous_key = Some("key-VALUE-4-at-least-32-bytes-long!!".into());
        settings.admin.password_hash = Some("$argon2id$VALUE-5".into());
        settings.database.url = "postgres://mango:pw-VALUE-6@db/mango".into();
        let shown = format!("{settings:?} {settings:#?}");
        assert!(!shown.contains("VALUE"), "{shown}");
        assert!(
            shown.contains("alice"),
            "the tokens' names are shown: {shown}"
        );
        let secret = Secret::from("VALUE");
        assert_eq!(
            serde_json::to_string(&secret).ok().as_deref(),
            Some("\"[redacted]\"")
        );
        assert_eq!(secret.expose(), "VALUE");
    }
}
