//! The overview: the server, its traffic, its database.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) async fn overview(State(admin): Shared, Page(session): Page) -> Response {
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
            Err(why) => json!({"state": "down", "text": why.to_string()}),
        }
    };
    let last_minute = if admin.audit {
        match audit::counts_since(database, audit::now_ms() - 60_000).await {
            Ok((n, failed)) => json!({"calls": n, "failed": failed}),
            Err(e) => json!({"error": e.to_string()}),
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

pub(super) fn redacted_url(url: &str) -> String {
    crate::util::redact_url(url)
}

pub(super) fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86_400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}
