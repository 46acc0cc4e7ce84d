//! The calls log (the audit table), live.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) fn filter_of(q: &[(String, String)]) -> audit::Filter {
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

pub(super) fn row_json(base: &str, r: &audit::Logged) -> Value {
    json!({
        "id": r.id, "when": audit::when(r.at_ms), "caller": r.caller, "transport": r.transport,
        "kind": r.kind, "app": r.app, "name": r.name, "outcome": r.outcome, "error": r.error,
        "duration": format!("{:.1}", r.duration_ms), "href": format!("{base}/calls/{}", r.id),
    })
}

pub(super) async fn calls(
    State(admin): Shared,
    Page(session): Page,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query(&raw);
    let filter = filter_of(&q);
    let mut ctx = json!({
        "nav": "calls", "audit": admin.audit,
        "filter": {"app": filter.app, "name": filter.name, "outcome": filter.outcome, "caller": filter.caller},
        "outcomes": ["ok", "tool_error", "protocol_error", "input_required", "cancelled"],
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

pub(super) fn json_answer(status: StatusCode, body: &Value) -> Response {
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
pub(super) async fn feed(
    State(admin): Shared,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
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
        Err(e) => json_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({"error": e.to_string()}),
        ),
    }
}

pub(super) async fn call(
    State(admin): Shared,
    Page(session): Page,
    Path(id): Path<String>,
) -> Response {
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
            &e.to_string(),
        ),
    }
}
