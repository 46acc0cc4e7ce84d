//! The admin: pages at `[admin] path` (`/admin`) on the HTTP server, for a developer in
//! a browser. The overview, the installed apps with everything they serve, "try it"
//! forms that call tools, read resources and get prompts through the real pipeline, the
//! audit log (updated live), the models' pages (list, row, add, edit, delete: each a
//! call of the model's tools), and the database's tables, read-only.
//!
//! Server-rendered with minijinja (templates and assets embedded in the binary, no
//! build step, no CDN); one small script polls for new calls. Off unless `[admin]
//! enabled`; a login, a session cookie, CSRF tokens on every form (`access`).

mod access;
mod apps;
mod calls;
mod data;
mod form;
mod gate;
mod jobs;
mod login;
mod models;
mod overview;
mod tasks;
mod try_it;
mod users;
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
use crate::db::migrate::with_sync_db;
use crate::db::{MigrateError, inspect};
use crate::runtime::Runtime;
use crate::settings::AdminSettingsError;

use crate::builtin::password::hash_problem;
use access::{Access, Refused, Session, Who};
use gate::{Form, Page};
#[allow(clippy::wildcard_imports)]
use {
    apps::*, calls::*, data::*, jobs::*, login::*, models::*, overview::*, tasks::*, try_it::*,
    users::*,
};

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
    pages: std::sync::OnceLock<Result<minijinja::Environment<'static>, Arc<minijinja::Error>>>,
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
) -> Result<Option<(Router, Option<String>)>, AdminSettingsError> {
    let settings = runtime.settings().admin.clone();
    if !settings.enabled {
        return Ok(None);
    }
    let base = settings.path.trim_end_matches('/').to_owned();
    if let Some(problem) = path_problem(&base, &runtime.settings().server.path) {
        return Err(AdminSettingsError::Path {
            path: settings.path.clone(),
            problem,
        });
    }
    if let Some(problem) = settings
        .password_hash
        .as_ref()
        .map(crate::Secret::expose)
        .and_then(hash_problem)
    {
        return Err(problem.into());
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
        .route(&at("/models/{slug}"), get(model_list))
        .route(
            &at("/models/{slug}/add"),
            get(model_add_page).post(model_add),
        )
        .route(&at("/models/{slug}/rows/{key}"), get(model_row))
        .route(
            &at("/models/{slug}/rows/{key}/edit"),
            get(model_edit_page).post(model_edit),
        )
        .route(
            &at("/models/{slug}/rows/{key}/delete"),
            get(model_delete_page).post(model_delete),
        )
        .route(&at("/users"), get(users_page).post(users_form))
        .route(&at("/jobs"), get(jobs_page).post(jobs_form))
        .route(&at("/tasks"), get(tasks_page).post(tasks_form))
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

fn templates() -> Result<minijinja::Environment<'static>, Arc<minijinja::Error>> {
    let mut env = minijinja::Environment::new();
    // Every value shown is escaped, and text that would disguise itself is shown for
    // what it is (see `neutralize`).
    env.set_formatter(|out, state, value| match value.as_str() {
        Some(text) if disguised(text) => {
            minijinja::escape_formatter(out, state, &minijinja::Value::from(neutralize(text)))
        }
        _ => minijinja::escape_formatter(out, state, value),
    });
    let sources: [(&str, &str); 20] = [
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
        ("model_list.html", include_str!("templates/model_list.html")),
        ("model_row.html", include_str!("templates/model_row.html")),
        ("model_form.html", include_str!("templates/model_form.html")),
        (
            "model_delete.html",
            include_str!("templates/model_delete.html"),
        ),
        ("message.html", include_str!("templates/message.html")),
        ("users.html", include_str!("templates/users.html")),
        ("jobs.html", include_str!("templates/jobs.html")),
        ("tasks.html", include_str!("templates/tasks.html")),
    ];
    for (name, source) in sources {
        // minijinja's error names the template and the line.
        env.add_template(name, source).map_err(Arc::new)?;
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
        all.insert("has_jobs".into(), json!(Runtime::has_jobs()));
        all.insert("has_tasks".into(), json!(self.runtime.has_task_tools()));
        all.insert(
            "manage_users".into(),
            json!(self.runtime.settings().auth.users && session.is_some_and(|s| s.superuser)),
        );
        let rendered = match self.pages.get_or_init(templates) {
            Ok(pages) => pages
                .get_template(template)
                .and_then(|t| t.render(minijinja::Value::from_serialize(&all)))
                .map_err(Arc::new),
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

    /// The caller of the admin's calls: the logged-in user, with its scopes (every
    /// scope for the settings' admin and a superuser).
    fn caller(&self, session: &Session, from: SocketAddr) -> Caller {
        let mut caller = Caller::new(TransportKind::Admin);
        caller.identity = Some(Identity::admin(&session.user, session.scopes.clone()));
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
