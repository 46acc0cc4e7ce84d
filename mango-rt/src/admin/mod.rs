//! The admin: pages at `[admin] path` (`/admin`) on the HTTP server, for a developer in
//! a browser. The overview, the installed apps with everything they serve, "try it"
//! forms that call tools, read resources and get prompts through the real pipeline, the
//! audit log (updated live), and the database's tables, read-only.
//!
//! Server-rendered with minijinja (templates and assets embedded in the binary, no
//! build step, no CDN); one small script polls for new calls. Off unless `[admin]
//! enabled`; a login, a session cookie, CSRF tokens on every form (`access`).

mod access;
mod form;
mod gate;
mod view;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::builtin::audit;
use crate::call::{Caller, Channel, Identity, TransportKind};
use crate::db::inspect;
use crate::db::migrate::with_sync_db;
use crate::runtime::Runtime;

use access::{Access, Refused, Session};
use gate::{Form, Page};
pub(crate) use access::{hash_password, hash_problem};

/// A form's or a query string's pairs, in order.
type Pairs = Vec<(String, String)>;

/// The largest form the admin takes.
const MAX_FORM_BYTES: usize = 1024 * 1024;
/// Rows a page of the calls log or of a table shows.
const PAGE: i64 = 50;

/// How the server the admin is part of was started.
pub(crate) struct Served {
    pub stateless: bool,
    /// `http://host:port`.
    pub origin: String,
    /// Whether `serve` may print a one-time login link (dev profile, loopback).
    pub dev_link: bool,
}

struct Admin {
    runtime: Arc<Runtime>,
    access: Access,
    /// The templates, parsed on the first page asked for (a server nobody opens the
    /// admin of keeps no parsed templates in memory).
    pages: std::sync::OnceLock<Result<minijinja::Environment<'static>, String>>,
    base: String,
    served: Served,
    /// Whether `mango.audit` is listed (the calls log exists).
    audit: bool,
}

/// The admin's routes, or `None` when `[admin]` is not enabled; with the one-time login
/// link to print, when there is one. A wrong `[admin]` setting is an error.
pub(crate) fn router(
    runtime: Arc<Runtime>,
    served: Served,
) -> Result<Option<(Router, Option<String>)>, String> {
    let settings = runtime.settings().admin.clone();
    if !settings.enabled {
        return Ok(None);
    }
    let base = settings.path.trim_end_matches('/').to_owned();
    if let Some(problem) = path_problem(&base, &runtime.settings().server.path) {
        return Err(format!("[admin] path = \"{}\" {problem}", settings.path));
    }
    if let Some(problem) = settings
        .password_hash
        .as_ref()
        .map(crate::Secret::expose)
        .and_then(hash_problem)
    {
        return Err(problem);
    }
    let dev_link = served.dev_link && settings.dev_login;
    if settings.password_hash.is_none() && !dev_link {
        tracing::warn!(
            "[admin] is enabled but nobody can log in: set MANGO_ADMIN__PASSWORD_HASH (`cargo mango run adminpassword` makes one)"
        );
    }
    let audit = crate::builtin::Builtin::Audit.listed(runtime.settings());
    let access = Access::new(settings);
    let link = if dev_link {
        access
            .make_link()
            .map(|t| format!("{}{base}/login?once={t}", served.origin))
    } else {
        None
    };
    let admin = Arc::new(Admin {
        runtime,
        access,
        pages: std::sync::OnceLock::new(),
        base: base.clone(),
        served,
        audit,
    });
    let at = |p: &str| format!("{base}{p}");
    let router = Router::new()
        .route(&base, get(to_overview))
        .route(&at("/"), get(overview))
        .route(&at("/login"), get(login_page).post(login))
        .route(&at("/logout"), post(logout))
        .route(&at("/apps"), get(apps))
        .route(&at("/tools/{name}"), get(tool_page).post(tool_call))
        .route(&at("/resources"), get(resource_page).post(resource_read))
        .route(&at("/prompts/{name}"), get(prompt_page).post(prompt_get))
        .route(&at("/calls"), get(calls))
        .route(&at("/calls/feed"), get(feed))
        .route(&at("/calls/{id}"), get(call))
        .route(&at("/data"), get(data))
        .route(&at("/data/{table}"), get(table))
        .route(&at("/assets/{file}"), get(asset))
        .route(&at("/{*rest}"), get(not_found))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(admin);
    Ok(Some((router, link)))
}

/// Why `base` (no trailing `/`) cannot be the admin's path, if it cannot.
fn path_problem(base: &str, mcp: &str) -> Option<&'static str> {
    if !base.starts_with('/') || base.is_empty() {
        return Some("must start with `/` and not be the root (the default is \"/admin\")");
    }
    if base.contains("//")
        || !base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.".contains(c))
    {
        return Some("may hold only letters, digits and `/ - _ .`");
    }
    if base == mcp.trim_end_matches('/')
        || base == "/readyz"
        || base == "/healthz"
        || base.starts_with("/.well-known")
    {
        return Some(
            "is a path the server serves already (the MCP endpoint, /readyz, /healthz or /.well-known): choose another",
        );
    }
    None
}

fn templates() -> Result<minijinja::Environment<'static>, String> {
    let mut env = minijinja::Environment::new();
    // Every value shown is escaped, and text that would disguise itself is shown for
    // what it is (see `neutralize`).
    env.set_formatter(|out, state, value| match value.as_str() {
        Some(text) if disguised(text) => {
            minijinja::escape_formatter(out, state, &minijinja::Value::from(neutralize(text)))
        }
        _ => minijinja::escape_formatter(out, state, value),
    });
    let sources: [(&str, &str); 13] = [
        ("base.html", include_str!("templates/base.html")),
        ("macros.html", include_str!("templates/macros.html")),
        ("login.html", include_str!("templates/login.html")),
        ("overview.html", include_str!("templates/overview.html")),
        ("apps.html", include_str!("templates/apps.html")),
        ("tool.html", include_str!("templates/tool.html")),
        ("resource.html", include_str!("templates/resource.html")),
        ("prompt.html", include_str!("templates/prompt.html")),
        ("calls.html", include_str!("templates/calls.html")),
        ("call.html", include_str!("templates/call.html")),
        ("data.html", include_str!("templates/data.html")),
        ("table.html", include_str!("templates/table.html")),
        ("message.html", include_str!("templates/message.html")),
    ];
    for (name, source) in sources {
        env.add_template(name, source)
            .map_err(|e| format!("the admin's template {name} does not parse: {e}"))?;
    }
    Ok(env)
}

/// Unicode's bidirectional controls: they reorder the text around them (a file name
/// that reads `exe.txt` but is `txt.exe`).
fn bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Combining marks (the blocks "Zalgo" text stacks by the dozen).
fn combining(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// Marks on one character that a language uses at most.
const MARKS: usize = 3;

/// Whether `text` has what [`neutralize`] changes.
fn disguised(text: &str) -> bool {
    let mut run = 0;
    for c in text.chars() {
        if bidi_control(c) {
            return true;
        }
        run = if combining(c) { run + 1 } else { 0 };
        if run > MARKS {
            return true;
        }
    }
    false
}

/// `text` as the admin shows stored data: each bidirectional control written as its
/// code point (`⟨U+202E⟩`), and a run of more than three combining marks cut to three
/// with the rest counted (`⟨+40 marks⟩`), so that data cannot disguise itself or spill
/// over the page.
fn neutralize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = 0;
    let mut dropped = 0;
    for c in text.chars() {
        if combining(c) {
            run += 1;
            if run > MARKS {
                dropped += 1;
                continue;
            }
        } else {
            if dropped > 0 {
                out.push_str(&format!("⟨+{dropped} marks⟩"));
                dropped = 0;
            }
            run = 0;
        }
        if bidi_control(c) {
            out.push_str(&format!("⟨U+{:04X}⟩", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    if dropped > 0 {
        out.push_str(&format!("⟨+{dropped} marks⟩"));
    }
    out
}

/// Headers on every admin answer: no caching, no framing, scripts and styles from the
/// admin only, no referrer to other sites (`no-referrer` would make Chromium send
/// `Origin: null` with the admin's own forms).
fn secured(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; media-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    secured(r)
}

/// The query string's pairs.
fn query(raw: &Option<String>) -> Vec<(String, String)> {
    raw.as_deref()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default()
}

fn get_param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// A submitted form, or the answer to one that is too large or not a form.
fn parse_form(
    body: Result<Bytes, BytesRejection>,
) -> Result<Vec<(String, String)>, (StatusCode, String)> {
    let bytes = body.map_err(|e| {
        let status = e.status();
        let why = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!(
                "the form is larger than the admin takes ({} KiB)",
                MAX_FORM_BYTES / 1024
            )
        } else {
            e.body_text()
        };
        (status, why)
    })?;
    serde_urlencoded::from_bytes(&bytes).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("the form could not be read: {e}"),
        )
    })
}

impl Admin {
    fn server(&self) -> &crate::settings::ServerSettings {
        &self.runtime.settings().server
    }

    /// A page: `template` with `ctx` and what every page shows.
    fn render(
        &self,
        status: StatusCode,
        template: &str,
        session: Option<&Session>,
        ctx: Value,
    ) -> Response {
        let (name, version) = self.runtime.server_info();
        let mut all = match ctx {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        all.insert("base".into(), json!(self.base));
        all.insert("server_name".into(), json!(name));
        all.insert("server_version".into(), json!(version));
        all.insert("user".into(), json!(session.map(|s| s.user.clone())));
        all.insert("csrf".into(), json!(session.map(|s| s.csrf.clone())));
        let rendered = match self.pages.get_or_init(templates) {
            Ok(pages) => pages
                .get_template(template)
                .and_then(|t| t.render(minijinja::Value::from_serialize(&all)))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        };
        let response = match rendered {
            Ok(html) => (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
            Err(e) => {
                tracing::error!(template, error = %e, "an admin page could not be rendered");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("the admin page {template} could not be rendered: {e}"),
                )
                    .into_response()
            }
        };
        secured(response)
    }

    /// A page that says one thing (an error, mostly).
    fn message(
        &self,
        status: StatusCode,
        session: Option<&Session>,
        title: &str,
        text: &str,
    ) -> Response {
        self.render(
            status,
            "message.html",
            session,
            json!({"title": title, "text": text}),
        )
    }

    /// The session of a page's request, or the answer: a wrong `Host`/`Origin` is
    /// refused, a request without a session goes to the login page.
    fn gate(&self, headers: &HeaderMap, here: &str) -> Result<Session, Box<Response>> {
        if let Some(problem) = access::origin_problem(headers, self.server()) {
            return Err(Box::new(self.message(
                StatusCode::FORBIDDEN,
                None,
                "Refused",
                &problem,
            )));
        }
        match self.access.session(headers) {
            Some(session) => Ok(session),
            None => {
                let next: String = url_encode(here);
                Err(Box::new(redirect(&format!(
                    "{}/login?next={next}",
                    self.base
                ))))
            }
        }
    }

    /// `gate`, for a form: also its CSRF token.
    fn gate_form(
        &self,
        headers: &HeaderMap,
        here: &str,
        body: Result<Bytes, BytesRejection>,
    ) -> Result<(Session, Pairs), Box<Response>> {
        let session = self.gate(headers, here)?;
        let form = parse_form(body).map_err(|(status, why)| {
            Box::new(self.message(status, Some(&session), "The form was refused", &why))
        })?;
        if !access::csrf_ok(&session.csrf, get_param(&form, "csrf")) {
            return Err(Box::new(self.message(
                StatusCode::FORBIDDEN,
                Some(&session),
                "The form was refused",
                "its CSRF token is missing or wrong (a form from another site, or from before you logged in again): reload the page and submit it again",
            )));
        }
        Ok((session, form))
    }

    /// The caller of the admin's calls: the logged-in user, with every scope.
    fn caller(&self, session: &Session, from: SocketAddr) -> Caller {
        let mut caller = Caller::new(TransportKind::Admin);
        caller.identity = Some(Identity::admin(&session.user));
        caller.address = Some(from);
        caller
    }

    fn secure_cookie(&self, headers: &HeaderMap) -> bool {
        access::over_tls(headers, self.server())
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

type Shared = State<Arc<Admin>>;

async fn to_overview(State(admin): Shared) -> Response {
    redirect(&format!("{}/", admin.base))
}

async fn not_found(State(admin): Shared, headers: HeaderMap) -> Response {
    let session = admin.access.session(&headers);
    admin.message(
        StatusCode::NOT_FOUND,
        session.as_ref(),
        "Not found",
        "the admin has no such page",
    )
}

async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "admin.css" => (include_str!("assets/admin.css"), "text/css; charset=utf-8"),
        "admin.js" => (
            include_str!("assets/admin.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return secured(StatusCode::NOT_FOUND.into_response()),
    };
    let mut r = ([(header::CONTENT_TYPE, kind)], body).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    secured(r)
}

// ---------------------------------------------------------------- login

async fn login_page(State(admin): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    if let Some(problem) = access::origin_problem(&headers, admin.server()) {
        return admin.message(StatusCode::FORBIDDEN, None, "Refused", &problem);
    }
    let q = query(&raw);
    let next = safe_next(&admin.base, get_param(&q, "next"));
    let secure = admin.secure_cookie(&headers);
    if let Some(once) = get_param(&q, "once") {
        if admin.access.use_link(once) {
            return logged_in(&admin, &admin.access.settings().user.clone(), &next, secure);
        }
        return login_form(
            &admin,
            StatusCode::UNAUTHORIZED,
            &next,
            Some(
                "this login link was used already or has expired: log in with the password, or restart `serve` for a new link",
            ),
            secure,
        );
    }
    if admin.access.session(&headers).is_some() {
        return redirect(&next);
    }
    login_form(&admin, StatusCode::OK, &next, None, secure)
}

/// Where to go after logging in: a page of the admin, nothing else.
fn safe_next(base: &str, next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with(&format!("{base}/")) && !n.contains("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => format!("{base}/"),
    }
}

fn login_form(
    admin: &Admin,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
    secure: bool,
) -> Response {
    let Some(token) = access::token() else {
        return admin.message(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "No randomness",
            "the system gave no random bytes for a CSRF token",
        );
    };
    let no_password = admin.access.settings().password_hash.is_none();
    let mut r = admin.render(
        status,
        "login.html",
        None,
        json!({"login_csrf": token, "next": next, "error": error, "no_password": no_password,
               "name": admin.access.settings().user}),
    );
    if let Ok(v) = HeaderValue::from_str(&access::set_cookie(
        access::LOGIN_COOKIE,
        &token,
        &admin.base,
        secure,
        600,
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn logged_in(admin: &Admin, user: &str, next: &str, secure: bool) -> Response {
    let Some(id) = admin.access.open(user) else {
        return admin.message(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "No randomness",
            "the system gave no random bytes for a session",
        );
    };
    let hours = admin.access.settings().session_hours.max(1);
    let mut r = redirect(next);
    for cookie in [
        access::set_cookie(access::COOKIE, &id, &admin.base, secure, hours * 3600),
        access::set_cookie(access::LOGIN_COOKIE, "", &admin.base, secure, 0),
    ] {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    tracing::info!(user, "admin login");
    r
}

async fn login(
    State(admin): Shared,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Some(problem) = access::origin_problem(&headers, admin.server()) {
        return admin.message(StatusCode::FORBIDDEN, None, "Refused", &problem);
    }
    let secure = admin.secure_cookie(&headers);
    let form = match parse_form(body) {
        Ok(form) => form,
        Err((status, why)) => return admin.message(status, None, "The form was refused", &why),
    };
    let next = safe_next(&admin.base, get_param(&form, "next"));
    let expected = access::cookie(&headers, access::LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !access::csrf_ok(&expected, get_param(&form, "csrf")) {
        return login_form(
            &admin,
            StatusCode::FORBIDDEN,
            &next,
            Some("the form's CSRF token is missing or wrong: submit the login form again"),
            secure,
        );
    }
    let user = get_param(&form, "user").unwrap_or("");
    let password = form
        .iter()
        .find(|(k, _)| k == "password")
        .map_or("", |(_, v)| v.as_str());
    // argon2 takes tens of milliseconds of CPU and 19 MiB: not on the async threads,
    // and a few at a time (the others wait their turn).
    let Ok(_turn) = admin.access.verifications.acquire().await else {
        return admin.message(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "Login failed",
            "the server is stopping",
        );
    };
    let checked = {
        let admin = admin.clone();
        let (user, password) = (user.to_owned(), password.to_owned());
        tokio::task::spawn_blocking(move || admin.access.login(from.ip(), &user, &password)).await
    };
    match checked {
        Ok(Ok(())) => logged_in(&admin, user, &next, secure),
        Ok(Err(Refused::Wrong)) => {
            tracing::warn!(user, from = %from.ip(), "admin login refused: wrong name or password");
            login_form(
                &admin,
                StatusCode::UNAUTHORIZED,
                &next,
                Some("wrong name or password"),
                secure,
            )
        }
        Ok(Err(Refused::NoPassword)) => login_form(
            &admin,
            StatusCode::UNAUTHORIZED,
            &next,
            Some(
                "no password is set for the admin: set MANGO_ADMIN__PASSWORD_HASH (`cargo mango run adminpassword` makes one)",
            ),
            secure,
        ),
        Ok(Err(Refused::Wait(wait))) => {
            let seconds = wait.as_secs().max(1);
            let mut r = login_form(
                &admin,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                Some(&format!(
                    "too many failed logins from your address: try again in {seconds} s"
                )),
                secure,
            );
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Err(e) => admin.message(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "Login failed",
            &e.to_string(),
        ),
    }
}

async fn logout(
    State(admin): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let here = format!("{}/", admin.base);
    if let Err(refused) = admin.gate_form(&headers, &here, body) {
        return *refused;
    }
    admin.access.close(&headers);
    let mut r = redirect(&format!("{}/login", admin.base));
    let cookie = access::set_cookie(
        access::COOKIE,
        "",
        &admin.base,
        admin.secure_cookie(&headers),
        0,
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

// ---------------------------------------------------------------- overview

async fn overview(State(admin): Shared, Page(session): Page) -> Response {
    let rt = &admin.runtime;
    let s = rt.settings();
    let stats = &rt.state.stats;
    let uptime = stats.started.elapsed();
    let calls = stats.calls.load(std::sync::atomic::Ordering::Relaxed);
    let errors = stats.errors.load(std::sync::atomic::Ordering::Relaxed);
    let minutes = (uptime.as_secs_f64() / 60.0).max(1.0 / 60.0);
    let database = rt.database();
    let ready = if rt.migrator.is_empty() && !admin.audit {
        json!({"state": "unused", "text": "no app has migrations"})
    } else {
        match database.ready().await {
            Ok(()) => json!({"state": "ok", "text": "reachable"}),
            Err(why) => json!({"state": "down", "text": why}),
        }
    };
    let last_minute = if admin.audit {
        match audit::counts_since(database, audit::now_ms() - 60_000).await {
            Ok((n, failed)) => json!({"calls": n, "failed": failed}),
            Err(e) => json!({"error": e}),
        }
    } else {
        Value::Null
    };
    let (size, available, max) = database.pool_status();
    let ctx = json!({
        "nav": "overview",
        "eras": ["2025-11-25", "2026-07-28"],
        "transport": "Streamable HTTP",
        "mode": if admin.served.stateless { "stateless" } else { "sessions" },
        "endpoint": format!("{}{}", admin.served.origin, s.server.path),
        "profile": s.profile,
        "uptime": human_duration(uptime),
        "calls": calls,
        "errors": errors,
        "per_minute": format!("{:.1}", calls as f64 / minutes),
        "last_minute": last_minute,
        "audit": admin.audit,
        "database": redacted_url(&database.url),
        "ready": ready,
        "pool": {"open": size, "idle": available, "max": max},
        "apps": rt.apps().len(),
        "tools": rt.tools.list.len(),
        "resources": rt.resources.all().count(),
        "prompts": rt.prompts.list.len(),
        "middleware": s.middleware,
    });
    admin.render(StatusCode::OK, "overview.html", Some(&session), ctx)
}

fn redacted_url(url: &str) -> String {
    crate::util::redact_url(url)
}

fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

// ---------------------------------------------------------------- apps

async fn apps(State(admin): Shared, Page(session): Page) -> Response {
    let rt = &admin.runtime;
    let s = rt.settings();
    // Which migrations are applied (the database may be down: then say so).
    let migrations: Result<Vec<(String, String, bool)>, String> = if rt.migrator.is_empty() {
        Ok(Vec::new())
    } else {
        let m = rt.migrator.clone();
        with_sync_db(rt.database(), move |c| m.list(c))
            .await
            .map(|l| {
                l.into_iter()
                    .map(|m| (m.app.to_owned(), m.name, m.applied))
                    .collect()
            })
            .map_err(|e| e.to_string())
    };
    let redact = &s.audit.redact;
    let mut apps = Vec::new();
    for app in rt.apps() {
        let tools: Vec<Value> = rt
            .tools
            .list
            .iter()
            .filter(|t| t.target.app == app.name)
            .map(|t| {
                let a = &t.entry.annotations;
                let mut marks = Vec::new();
                if a.read_only == Some(true) {
                    marks.push("read-only");
                }
                if a.destructive == Some(true) {
                    marks.push("destructive");
                }
                if a.idempotent == Some(true) {
                    marks.push("idempotent");
                }
                json!({"name": t.name(), "description": summary(t.entry.description), "marks": marks,
                       "scopes": t.entry.scopes, "source": format!("{}:{}", t.entry.meta.file, t.entry.meta.line)})
            })
            .collect();
        let resources: Vec<Value> = rt
            .resources
            .all()
            .filter(|r| r.target.app == app.name)
            .map(|r| json!({"uri": r.entry.uri, "template": r.is_template(), "description": summary(r.entry.description),
                           "mime": r.entry.mime_type}))
            .collect();
        let prompts: Vec<Value> = rt
            .prompts
            .list
            .iter()
            .filter(|p| p.target.app == app.name)
            .map(|p| json!({"name": p.target.name, "description": summary(p.entry.description),
                           "arguments": p.entry.arguments.iter().map(|a| a.name).collect::<Vec<_>>()}))
            .collect();
        let commands: Vec<Value> = crate::registry::COMMANDS
            .iter()
            .filter(|c| c.meta.app == app.name)
            .map(|c| json!({"name": c.meta.name, "about": c.about.lines().next().unwrap_or("")}))
            .collect();
        let middleware: Vec<Value> = crate::registry::MIDDLEWARE
            .iter()
            .filter(|m| m.meta.app == app.name)
            .map(|m| {
                let full = format!("{}.{}", m.meta.app, m.meta.name);
                let listed = s.middleware.contains(&full);
                json!({"name": full, "listed": listed})
            })
            .collect();
        let section = s
            .apps
            .get(app.name)
            .map(|v| view_json(&audit::redact(v, redact)));
        let app_migrations = match &migrations {
            Ok(all) => json!(
                all.iter()
                    .filter(|(a, _, _)| a == app.name)
                    .map(|(_, name, applied)| json!({"name": name, "applied": applied}))
                    .collect::<Vec<_>>()
            ),
            Err(_) => Value::Null,
        };
        apps.push(json!({
            "name": app.name, "prefix": app.prefix, "depends_on": app.depends_on,
            "tools": tools, "resources": resources, "prompts": prompts, "commands": commands,
            "middleware": middleware, "settings": section, "migrations": app_migrations,
        }));
    }
    let ctx = json!({
        "nav": "apps",
        "apps": apps,
        "migrations_error": migrations.err(),
    });
    admin.render(StatusCode::OK, "apps.html", Some(&session), ctx)
}

/// A description's first line.
fn summary(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

fn view_json(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

// ---------------------------------------------------------------- try it: tools

#[derive(Serialize)]
struct Tried {
    shown: view::Shown,
    /// The call's row in the log, when the log exists.
    logged: bool,
}

fn tool_ctx(
    admin: &Admin,
    name: &str,
    fields: &[form::Field],
    whole: &str,
    whole_error: Option<&str>,
) -> Option<Map<String, Value>> {
    let served = admin.runtime.tools.get(name)?;
    let schema = Value::Object((*(served.entry.input_schema)()).clone());
    let mut ctx = Map::new();
    ctx.insert("nav".into(), json!("apps"));
    ctx.insert("name".into(), json!(name));
    ctx.insert("app".into(), json!(served.target.app));
    ctx.insert("description".into(), json!(served.entry.description));
    ctx.insert("fields".into(), json!(fields));
    ctx.insert("schema".into(), json!(view_json(&schema)));
    ctx.insert("whole".into(), json!(whole));
    ctx.insert("whole_error".into(), json!(whole_error));
    ctx.insert("json_field".into(), json!(form::WHOLE));
    ctx.insert(
        "destructive".into(),
        json!(served.entry.annotations.destructive == Some(true)),
    );
    Some(ctx)
}

fn schema_fields(admin: &Admin, name: &str) -> Option<Vec<form::Field>> {
    let served = admin.runtime.tools.get(name)?;
    Some(form::fields(&Value::Object(
        (*(served.entry.input_schema)()).clone(),
    )))
}

async fn tool_page(State(admin): Shared, Page(session): Page, Path(name): Path<String>) -> Response {
    let Some(fields) = schema_fields(&admin, &name) else {
        return admin.message(
            StatusCode::NOT_FOUND,
            Some(&session),
            "No such tool",
            &admin.runtime.unknown_tool(&name),
        );
    };
    match tool_ctx(&admin, &name, &fields, "", None) {
        Some(ctx) => admin.render(
            StatusCode::OK,
            "tool.html",
            Some(&session),
            Value::Object(ctx),
        ),
        None => admin.message(StatusCode::NOT_FOUND, Some(&session), "No such tool", &name),
    }
}

async fn tool_call(
    State(admin): Shared,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    Form { session, pairs: submitted }: Form,
) -> Response {
    let Some(mut fields) = schema_fields(&admin, &name) else {
        return admin.message(
            StatusCode::NOT_FOUND,
            Some(&session),
            "No such tool",
            &admin.runtime.unknown_tool(&name),
        );
    };
    let whole = get_param(&submitted, form::WHOLE).unwrap_or("").to_owned();
    let arguments = form::arguments(&mut fields, &submitted);
    let (status, tried) = match arguments {
        Err(whole_error) => {
            // Nothing is called: the form again, with each field's error.
            let ctx = tool_ctx(&admin, &name, &fields, &whole, whole_error.as_deref());
            return match ctx {
                Some(mut ctx) => {
                    ctx.insert("invalid".into(), json!(true));
                    admin.render(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "tool.html",
                        Some(&session),
                        Value::Object(ctx),
                    )
                }
                None => admin.message(StatusCode::NOT_FOUND, Some(&session), "No such tool", &name),
            };
        }
        Ok(arguments) => {
            let caller = admin.caller(&session, from);
            let result = admin
                .runtime
                .call_tool(&name, arguments, caller, Channel::default())
                .await;
            match result {
                Some(result) => {
                    let value = serde_json::to_value(&result).unwrap_or(Value::Null);
                    (
                        StatusCode::OK,
                        Tried {
                            shown: view::tool_result(&value),
                            logged: admin.audit,
                        },
                    )
                }
                None => (
                    StatusCode::NOT_FOUND,
                    Tried {
                        shown: view::protocol_error(admin.runtime.unknown_tool(&name)),
                        logged: false,
                    },
                ),
            }
        }
    };
    match tool_ctx(&admin, &name, &fields, &whole, None) {
        Some(mut ctx) => {
            ctx.insert("tried".into(), json!(tried));
            admin.render(status, "tool.html", Some(&session), Value::Object(ctx))
        }
        None => admin.message(StatusCode::NOT_FOUND, Some(&session), "No such tool", &name),
    }
}

// ---------------------------------------------------------------- try it: resources

fn resource_ctx(
    admin: &Admin,
    uri: &str,
    values: &[(String, String)],
) -> Option<Map<String, Value>> {
    let served = admin.runtime.resources.all().find(|r| r.entry.uri == uri)?;
    let vars: Vec<Value> = served
        .variables()
        .into_iter()
        .map(|v| {
            let value = get_param(values, &format!("var.{v}"))
                .unwrap_or("")
                .to_owned();
            json!({"name": v, "field": format!("var.{v}"), "value": value})
        })
        .collect();
    let mut ctx = Map::new();
    ctx.insert("nav".into(), json!("apps"));
    ctx.insert("uri".into(), json!(uri));
    ctx.insert("app".into(), json!(served.target.app));
    ctx.insert("template".into(), json!(served.is_template()));
    ctx.insert("description".into(), json!(served.entry.description));
    ctx.insert("variables".into(), json!(vars));
    Some(ctx)
}

async fn resource_page(
    State(admin): Shared,
    Page(session): Page,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query(&raw);
    let uri = get_param(&q, "uri").unwrap_or("").to_owned();
    match resource_ctx(&admin, &uri, &[]) {
        Some(ctx) => admin.render(
            StatusCode::OK,
            "resource.html",
            Some(&session),
            Value::Object(ctx),
        ),
        None => admin.message(
            StatusCode::NOT_FOUND,
            Some(&session),
            "No such resource",
            &format!("no resource or template has the URI `{uri}`"),
        ),
    }
}

async fn resource_read(
    State(admin): Shared,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    RawQuery(raw): RawQuery,
    Form { session, pairs: submitted }: Form,
) -> Response {
    let q = query(&raw);
    let uri = get_param(&q, "uri").unwrap_or("").to_owned();
    let Some(mut ctx) = resource_ctx(&admin, &uri, &submitted) else {
        return admin.message(
            StatusCode::NOT_FOUND,
            Some(&session),
            "No such resource",
            &format!("no resource or template has the URI `{uri}`"),
        );
    };
    let Some(served) = admin.runtime.resources.all().find(|r| r.entry.uri == uri) else {
        return admin.message(
            StatusCode::NOT_FOUND,
            Some(&session),
            "No such resource",
            &uri,
        );
    };
    let missing: Vec<String> = served
        .variables()
        .into_iter()
        .filter(|v| get_param(&submitted, &format!("var.{v}")).is_none())
        .collect();
    if !missing.is_empty() {
        ctx.insert(
            "error".into(),
            json!(format!("give a value for {}", missing.join(", "))),
        );
        return admin.render(
            StatusCode::UNPROCESSABLE_ENTITY,
            "resource.html",
            Some(&session),
            Value::Object(ctx),
        );
    }
    let target = served.uri_for(|v| {
        get_param(&submitted, &format!("var.{v}"))
            .unwrap_or("")
            .to_owned()
    });
    let caller = admin.caller(&session, from);
    let shown = match admin
        .runtime
        .read_resource(&target, caller, Channel::default())
        .await
    {
        Ok(result) => view::resource_result(&serde_json::to_value(&result).unwrap_or(Value::Null)),
        Err(e) => view::protocol_error(format!("{} (error {})", e.message, e.code.0)),
    };
    ctx.insert("read_uri".into(), json!(target));
    ctx.insert(
        "tried".into(),
        json!(Tried {
            shown,
            logged: admin.audit
        }),
    );
    admin.render(
        StatusCode::OK,
        "resource.html",
        Some(&session),
        Value::Object(ctx),
    )
}

// ---------------------------------------------------------------- try it: prompts

fn prompt_ctx(
    admin: &Admin,
    name: &str,
    values: &[(String, String)],
) -> Option<Map<String, Value>> {
    let served = admin.runtime.prompts.get(name)?;
    let arguments: Vec<Value> = served
        .entry
        .arguments
        .iter()
        .map(|a| {
            let field = format!("arg.{}", a.name);
            json!({"name": a.name, "description": a.description, "required": a.required,
                   "field": field, "value": get_param(values, &field).unwrap_or("")})
        })
        .collect();
    let mut ctx = Map::new();
    ctx.insert("nav".into(), json!("apps"));
    ctx.insert("name".into(), json!(name));
    ctx.insert("app".into(), json!(served.target.app));
    ctx.insert("description".into(), json!(served.entry.description));
    ctx.insert("arguments".into(), json!(arguments));
    Some(ctx)
}

async fn prompt_page(
    State(admin): Shared,
    Page(session): Page,
    Path(name): Path<String>,
) -> Response {
    match prompt_ctx(&admin, &name, &[]) {
        Some(ctx) => admin.render(
            StatusCode::OK,
            "prompt.html",
            Some(&session),
            Value::Object(ctx),
        ),
        None => admin.message(
            StatusCode::NOT_FOUND,
            Some(&session),
            "No such prompt",
            &format!("no prompt is named `{name}`"),
        ),
    }
}

async fn prompt_get(
    State(admin): Shared,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    Form { session, pairs: submitted }: Form,
) -> Response {
    let (Some(mut ctx), Some(served)) = (
        prompt_ctx(&admin, &name, &submitted),
        admin.runtime.prompts.get(&name),
    ) else {
        return admin.message(
            StatusCode::NOT_FOUND,
            Some(&session),
            "No such prompt",
            &format!("no prompt is named `{name}`"),
        );
    };
    let arguments: Map<String, Value> = served
        .entry
        .arguments
        .iter()
        .filter_map(|a| {
            get_param(&submitted, &format!("arg.{}", a.name))
                .map(|v| (a.name.to_owned(), Value::String(v.to_owned())))
        })
        .collect();
    let caller = admin.caller(&session, from);
    match admin
        .runtime
        .get_prompt(&name, arguments, caller, Channel::default())
        .await
    {
        Ok(result) => {
            let value = serde_json::to_value(&result).unwrap_or(Value::Null);
            ctx.insert("messages".into(), json!(view::messages(&value)));
            ctx.insert("raw".into(), json!(view_json(&value)));
        }
        Err(e) => {
            ctx.insert(
                "error".into(),
                json!(format!("{} (error {})", e.message, e.code.0)),
            );
        }
    }
    ctx.insert("tried".into(), json!(true));
    ctx.insert("logged".into(), json!(admin.audit));
    admin.render(
        StatusCode::OK,
        "prompt.html",
        Some(&session),
        Value::Object(ctx),
    )
}

// ---------------------------------------------------------------- calls

fn filter_of(q: &[(String, String)]) -> audit::Filter {
    let own = |k: &str| get_param(q, k).map(str::to_owned);
    audit::Filter {
        app: own("app"),
        name: own("name"),
        outcome: own("outcome"),
        caller: own("caller"),
        before: get_param(q, "before").and_then(|v| v.parse().ok()),
        after: get_param(q, "after").and_then(|v| v.parse().ok()),
    }
}

fn row_json(base: &str, r: &audit::Logged) -> Value {
    json!({
        "id": r.id, "when": audit::when(r.at_ms), "caller": r.caller, "transport": r.transport,
        "kind": r.kind, "app": r.app, "name": r.name, "outcome": r.outcome, "error": r.error,
        "duration": format!("{:.1}", r.duration_ms), "href": format!("{base}/calls/{}", r.id),
    })
}

async fn calls(State(admin): Shared, Page(session): Page, RawQuery(raw): RawQuery) -> Response {
    let q = query(&raw);
    let filter = filter_of(&q);
    let mut ctx = json!({
        "nav": "calls", "audit": admin.audit,
        "filter": {"app": filter.app, "name": filter.name, "outcome": filter.outcome, "caller": filter.caller},
        "outcomes": ["ok", "tool_error", "protocol_error", "input_required"],
        "paged": filter.before.is_some(),
    });
    if admin.audit {
        match audit::recent(admin.runtime.database(), PAGE, filter.clone()).await {
            Ok(rows) => {
                let older = (rows.len() as i64 == PAGE)
                    .then(|| rows.last().map(|r| r.id))
                    .flatten();
                let newest = rows.first().map(|r| r.id).or(filter.after).unwrap_or(0);
                let keep: Vec<(String, String)> = q
                    .iter()
                    .filter(|(k, v)| k != "before" && k != "after" && !v.is_empty())
                    .cloned()
                    .collect();
                let next = older.map(|id| {
                    let mut pairs = keep.clone();
                    pairs.push(("before".into(), id.to_string()));
                    serde_urlencoded::to_string(pairs).unwrap_or_default()
                });
                let feed = serde_urlencoded::to_string(&keep).unwrap_or_default();
                ctx["rows"] = json!(
                    rows.iter()
                        .map(|r| row_json(&admin.base, r))
                        .collect::<Vec<_>>()
                );
                ctx["older"] = json!(next);
                ctx["newest"] = json!(newest);
                ctx["feed"] = json!(format!("{}/calls/feed?{feed}", admin.base));
            }
            Err(e) => ctx["error"] = json!(format!("the audit log could not be read: {e}")),
        }
    }
    admin.render(StatusCode::OK, "calls.html", Some(&session), ctx)
}

fn json_answer(status: StatusCode, body: &Value) -> Response {
    secured(
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response(),
    )
}

/// New calls since `after`, as JSON, for the calls page's script.
async fn feed(State(admin): Shared, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let session = admin.gate(&headers, &format!("{}/calls", admin.base));
    if session.is_err() || !admin.audit {
        return json_answer(StatusCode::UNAUTHORIZED, &json!({"rows": []}));
    }
    let filter = audit::Filter {
        before: None,
        ..filter_of(&query(&raw))
    };
    match audit::recent(admin.runtime.database(), PAGE, filter).await {
        Ok(rows) => json_answer(
            StatusCode::OK,
            &json!({"rows": rows.iter().map(|r| row_json(&admin.base, r)).collect::<Vec<_>>()}),
        ),
        Err(e) => json_answer(StatusCode::SERVICE_UNAVAILABLE, &json!({"error": e})),
    }
}

async fn call(State(admin): Shared, Page(session): Page, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return admin.message(
            StatusCode::NOT_FOUND,
            Some(&session),
            "No such call",
            "a call's id is a number",
        );
    };
    if !admin.audit {
        return admin.message(
            StatusCode::NOT_FOUND,
            Some(&session),
            "No audit log",
            "list \"mango.audit\" in `middleware` to keep a log of calls",
        );
    }
    match audit::one(admin.runtime.database(), id).await {
        Ok(Some(row)) => {
            let arguments = serde_json::from_str::<Value>(&row.arguments)
                .map(|v| view_json(&v))
                .unwrap_or_else(|_| row.arguments.clone());
            let ctx =
                json!({"nav": "calls", "row": row_json(&admin.base, &row), "arguments": arguments});
            admin.render(StatusCode::OK, "call.html", Some(&session), ctx)
        }
        Ok(None) => admin.message(
            StatusCode::NOT_FOUND,
            Some(&session),
            "No such call",
            &format!("the log has no call {id} (pruned, or never made)"),
        ),
        Err(e) => admin.message(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(&session),
            "The audit log could not be read",
            &e,
        ),
    }
}

// ---------------------------------------------------------------- data

/// The app a table belongs to, by its name: the app's name or prefix, then `_` (or the
/// whole name); `mango_audit` is mango's.
fn owner<'a>(runtime: &'a Runtime, table: &str) -> Option<&'a str> {
    if table == "mango_audit" {
        return Some(crate::registry::BUILTIN_APP);
    }
    let starts = |word: &str| {
        !word.is_empty()
            && (table == word
                || table
                    .strip_prefix(word)
                    .is_some_and(|rest| rest.starts_with('_'))
                || table.strip_suffix('s') == Some(word))
    };
    runtime
        .apps()
        .iter()
        .find(|a| starts(a.name) || starts(a.prefix))
        .map(|a| a.name)
}

async fn tables(admin: &Admin) -> Result<Vec<inspect::Table>, String> {
    with_sync_db(admin.runtime.database(), inspect::tables)
        .await
        .map_err(|e| e.to_string())
}

async fn data(State(admin): Shared, Page(session): Page) -> Response {
    let ctx = match tables(&admin).await {
        Ok(tables) => {
            let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
            for t in &tables {
                let app = owner(&admin.runtime, &t.name)
                    .unwrap_or("other tables")
                    .to_owned();
                let entry = json!({"name": t.name, "columns": t.columns.len(),
                                   "href": format!("{}/data/{}", admin.base, url_encode(&t.name))});
                match groups.iter_mut().find(|(a, _)| *a == app) {
                    Some((_, list)) => list.push(entry),
                    None => groups.push((app, vec![entry])),
                }
            }
            groups.sort_by(|a, b| a.0.cmp(&b.0));
            json!({"nav": "data", "groups": groups.into_iter().map(|(app, tables)| json!({"app": app, "tables": tables})).collect::<Vec<_>>()})
        }
        Err(e) => json!({"nav": "data", "error": format!("the database could not be read: {e}")}),
    };
    admin.render(StatusCode::OK, "data.html", Some(&session), ctx)
}

async fn table(
    State(admin): Shared,
    Page(session): Page,
    Path(name): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let page: i64 = get_param(&query(&raw), "page")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let all = match tables(&admin).await {
        Ok(all) => all,
        Err(e) => {
            return admin.message(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(&session),
                "The database could not be read",
                &e,
            );
        }
    };
    // Only a table the catalogue names is read (the name is never SQL from the URL).
    let Some(t) = all.into_iter().find(|t| t.name == name) else {
        return admin.message(
            StatusCode::NOT_FOUND,
            Some(&session),
            "No such table",
            &format!("the database has no table `{name}`"),
        );
    };
    let columns: Vec<Value> = t
        .columns
        .iter()
        .map(
            |c| json!({"name": c.name, "type": c.sql_type, "key": t.primary_key.contains(&c.name)}),
        )
        .collect();
    let offset = (page - 1) * PAGE;
    let read = with_sync_db(admin.runtime.database(), move |c| {
        inspect::rows(c, &t, PAGE, offset)
    })
    .await;
    let ctx = match read {
        Ok((count, rows)) => {
            let cells: Vec<Vec<Value>> = rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| match v {
                            Value::Null => json!({"null": true}),
                            Value::String(s) => json!({"text": s}),
                            other => json!({"text": other.to_string()}),
                        })
                        .collect()
                })
                .collect();
            let pages = ((count + PAGE - 1) / PAGE).max(1);
            json!({"nav": "data", "name": name, "columns": columns, "rows": cells, "count": count,
                   "page": page, "pages": pages,
                   "prev": (page > 1).then(|| page - 1), "next": (page < pages).then(|| page + 1),
                   "href": format!("{}/data/{}", admin.base, url_encode(&name))})
        }
        Err(e) => {
            json!({"nav": "data", "name": name, "columns": columns, "error": format!("the table could not be read: {e}")})
        }
    };
    admin.render(StatusCode::OK, "table.html", Some(&session), ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored text that disguises itself is shown for what it is, escaped: a
    /// right-to-left override as its code point, stacked combining marks cut to three.
    #[test]
    fn the_admin_shows_bidi_controls_and_mark_stacks_for_what_they_are() {
        let env = templates().expect("templates");
        let zalgo = format!("Z{}", "\u{0301}".repeat(40));
        let shown = env
            .render_named_str(
                "probe.html",
                "{{ a }}|{{ b }}|{{ c }}|{{ d }}",
                minijinja::context! {
                    a => "invoice\u{202E}fdp.exe",
                    b => zalgo,
                    c => "<b>caf\u{0065}\u{0301}</b>",
                    d => "Tiếng Việt",
                },
            )
            .expect("render");
        assert_eq!(
            shown,
            "invoice⟨U+202E⟩fdp.exe|Z\u{0301}\u{0301}\u{0301}⟨+37 marks⟩|&lt;b&gt;cafe\u{0301}&lt;&#x2f;b&gt;|Tiếng Việt"
        );
    }

    #[test]
    fn the_admins_path_and_its_templates() {
        assert_eq!(path_problem("/admin", "/mcp"), None);
        assert_eq!(path_problem("/ops/admin-1", "/mcp"), None);
        assert!(path_problem("", "/mcp").is_some());
        assert!(path_problem("admin", "/mcp").is_some());
        assert!(path_problem("/ad{min}", "/mcp").is_some());
        assert!(path_problem("/mcp", "/mcp/").is_some());
        assert!(path_problem("/readyz", "/mcp").is_some());
        assert!(path_problem("/healthz", "/mcp").is_some());
        assert!(templates().is_ok());
        assert_eq!(safe_next("/admin", Some("/admin/apps")), "/admin/apps");
        for away in [
            "https://evil.example/",
            "//evil.example",
            "/admin//evil.example",
            "/elsewhere",
        ] {
            assert_eq!(safe_next("/admin", Some(away)), "/admin/", "{away}");
        }
    }
}
