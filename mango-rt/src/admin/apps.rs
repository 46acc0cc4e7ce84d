//! The installed apps and everything they serve.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) async fn apps(State(admin): Shared, Page(session): Page) -> Response {
    let rt = &admin.runtime;
    let s = rt.settings();
    // Which migrations are applied (the database may be down: then say so).
    let migrations: Result<Vec<(String, String, bool)>, MigrateError> = if rt.migrator.is_empty() {
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
        "migrations_error": migrations.err().map(|e| e.to_string()),
    });
    admin.render(StatusCode::OK, "apps.html", Some(&session), ctx)
}

/// A description's first line.
pub(super) fn summary(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

pub(super) fn view_json(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}
