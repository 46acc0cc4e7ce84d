//! The Data page: the models (their pages edit them), then the database's tables,
//! read-only.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The app a table belongs to, by its name: the app's name or prefix, then `_` (or the
/// whole name); `mango_audit` is mango's.
pub(super) fn owner<'a>(runtime: &'a Runtime, table: &str) -> Option<&'a str> {
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

/// The models, as the Data page lists them.
fn models(admin: &Admin) -> Vec<Value> {
    admin
        .runtime
        .models()
        .iter()
        .map(|m| {
            let ops: Vec<&str> = m.tools.iter().map(|(op, _)| op.as_str()).collect();
            json!({"name": m.entry.what, "app": m.entry.meta.app, "table": m.entry.table,
                   "description": m.entry.description, "ops": ops.join(", "),
                   "href": format!("{}/models/{}", admin.base, url_encode(m.slug()))})
        })
        .collect()
}

pub(super) async fn tables(admin: &Admin) -> Result<Vec<inspect::Table>, MigrateError> {
    with_sync_db(admin.runtime.database(), inspect::tables).await
}

pub(super) async fn data(State(admin): Shared, Page(session): Page) -> Response {
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
            json!({"nav": "data", "models": models(&admin), "groups": groups.into_iter().map(|(app, tables)| json!({"app": app, "tables": tables})).collect::<Vec<_>>()})
        }
        Err(e) => {
            json!({"nav": "data", "models": models(&admin), "error": format!("the database could not be read: {e}")})
        }
    };
    admin.render(StatusCode::OK, "data.html", Some(&session), ctx)
}

pub(super) async fn table(
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
                &e.to_string(),
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
