//! The models' pages, Django's `ModelAdmin`: a list (search, a filter, sort, pages), a
//! row, and, where the model writes, add, edit and delete. Every read and every write
//! is a call of the model's own tools through the pipeline, as the admin's user: its
//! middleware, its transaction, the model's scope and `clean`, the audit row.

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::model::Kind as FieldKind;
use crate::registry::ModelField;
use crate::runtime::ServedModel;

/// The conditions the list's filter offers, as the query tool names them.
const OPS: [(&str, &str); 11] = [
    ("eq", "="),
    ("ne", "≠"),
    ("lt", "<"),
    ("lte", "≤"),
    ("gt", ">"),
    ("gte", "≥"),
    ("icontains", "contains (any case)"),
    ("contains", "contains"),
    ("starts_with", "starts with"),
    ("is_null", "is empty"),
    ("not_null", "is not empty"),
];

fn find(admin: &Admin, slug: &str) -> Option<ServedModel> {
    admin
        .runtime
        .models()
        .into_iter()
        .find(|m| m.slug() == slug)
}

fn no_model(admin: &Admin, session: &Session, slug: &str) -> Response {
    admin.message(
        StatusCode::NOT_FOUND,
        Some(session),
        "No such model",
        &format!("no model's pages are at `{slug}`: the Data page lists the models"),
    )
}

fn href(admin: &Admin, m: &ServedModel) -> String {
    format!("{}/models/{}", admin.base, url_encode(m.slug()))
}

/// A key as its URL segment (`7`, `milk`).
fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn row_href(admin: &Admin, m: &ServedModel, key: &Value) -> String {
    format!("{}/rows/{}", href(admin, m), url_encode(&key_text(key)))
}

/// A key from its URL segment, typed as the key field is.
fn key_value(m: &ServedModel, text: &str) -> Value {
    let number = m
        .entry
        .fields
        .iter()
        .any(|f| f.key && f.kind == FieldKind::Number);
    if number && let Ok(n) = text.parse::<i64>() {
        return json!(n);
    }
    json!(text)
}

/// A value as a cell shows it.
fn cell(value: &Value) -> Value {
    match value {
        Value::Null => json!({"null": true}),
        Value::String(s) => json!({"text": s}),
        other => json!({"text": other.to_string()}),
    }
}

/// A field's value as a form field holds it.
fn form_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A model's tool failed: what it said (or that there is no such tool).
#[derive(Debug, thiserror::Error)]
#[error("{said}")]
struct Failed {
    said: String,
}

/// Why the list's filter was not applied.
#[derive(Debug, PartialEq, thiserror::Error)]
enum FilterError {
    #[error("`{0}` is not a condition the filter knows")]
    UnknownCondition(String),

    #[error("`{field}`: `{value}` is not a number")]
    NotANumber { field: &'static str, value: String },

    #[error("`{field}`: `{value}` is not true or false")]
    NotABoolean { field: &'static str, value: String },

    #[error("the model has no field `{0}`")]
    NoField(String),
}

/// The admin's call of a model's tool: its structured result, or its error's text.
/// `confirmed`: the page itself asked the user (a delete's confirmation page), so a
/// question the tool asks (`confirm_delete`) is answered yes.
async fn call(
    admin: &Admin,
    session: &Session,
    from: SocketAddr,
    tool: &str,
    arguments: Map<String, Value>,
    confirmed: bool,
) -> Result<Value, Failed> {
    let channel = if confirmed {
        confirmed_channel()
    } else {
        Channel::default()
    };
    let caller = admin.caller(session, from);
    let Some(result) = admin
        .runtime
        .call_tool(tool, arguments, caller, channel)
        .await
    else {
        return Err(Failed {
            said: admin.runtime.unknown_tool(tool),
        });
    };
    let value = serde_json::to_value(&result).unwrap_or(Value::Null);
    if value["isError"] == true {
        let text: Vec<&str> = value["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["text"].as_str())
            .collect();
        return Err(Failed {
            said: text.join("\n"),
        });
    }
    Ok(value
        .get("structuredContent")
        .cloned()
        .unwrap_or(Value::Null))
}

/// A channel whose client accepts a form question with no fields (the delete's
/// confirmation, which the admin's page has asked already).
fn confirmed_channel() -> Channel {
    let mut elicitation = rmcp::model::ElicitationCapability::default();
    elicitation.form = Some(Default::default());
    let mut caps = rmcp::model::ClientCapabilities::default();
    caps.elicitation = Some(elicitation);
    let script: crate::call::Script =
        Arc::new(|_| Box::pin(async { Ok(json!({"action": "accept", "content": {}})) }));
    Channel {
        asker: crate::call::Asker::Script {
            caps: Box::new(caps),
            script,
        },
        ..Channel::default()
    }
}

/// One condition of the list's filter, as the query tool takes it.
fn condition(f: &ModelField, op: &str, value: &str) -> Result<(String, Value), FilterError> {
    match op {
        "is_null" => return Ok(("is_null".into(), json!(true))),
        "not_null" => return Ok(("is_null".into(), json!(false))),
        _ => {}
    }
    if !OPS.iter().any(|(o, _)| *o == op) {
        return Err(FilterError::UnknownCondition(op.to_owned()));
    }
    let value = match f.kind {
        FieldKind::Number => {
            if let Ok(n) = value.trim().parse::<i64>() {
                json!(n)
            } else if let Some(n) = value
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Value::Number(n)
            } else {
                return Err(FilterError::NotANumber {
                    field: f.name,
                    value: value.to_owned(),
                });
            }
        }
        FieldKind::Bool => match value.trim() {
            "true" | "yes" | "1" => json!(true),
            "false" | "no" | "0" => json!(false),
            _ => {
                return Err(FilterError::NotABoolean {
                    field: f.name,
                    value: value.to_owned(),
                });
            }
        },
        FieldKind::Text | FieldKind::Other => json!(value),
    };
    Ok((op.to_owned(), value))
}

pub(super) async fn model_list(
    State(admin): Shared,
    Page(session): Page,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(m) = find(&admin, &slug) else {
        return no_model(&admin, &session, &slug);
    };
    let q = query(&raw);
    let fields = m.entry.fields;
    let text_fields: Vec<&ModelField> = fields
        .iter()
        .filter(|f| f.kind == FieldKind::Text)
        .collect();
    let search = get_param(&q, "q").unwrap_or("").to_owned();
    let search_in = get_param(&q, "in")
        .and_then(|n| text_fields.iter().find(|f| f.name == n))
        .or(text_fields.first())
        .map(|f| f.name);
    let (filter_field, filter_op, filter_value) = (
        get_param(&q, "field").unwrap_or("").to_owned(),
        get_param(&q, "op").unwrap_or("eq").to_owned(),
        get_param(&q, "value").unwrap_or("").to_owned(),
    );
    let order = get_param(&q, "order").map(str::to_owned);
    let cursor = get_param(&q, "cursor").map(str::to_owned);

    let mut problem = None;
    let mut filter = Map::new();
    if let (false, Some(name)) = (search.is_empty(), search_in) {
        filter.insert(name.into(), json!({"icontains": search}));
    }
    if !filter_field.is_empty() {
        match fields.iter().find(|f| f.name == filter_field) {
            Some(f) => match condition(f, &filter_op, &filter_value) {
                Ok((op, value)) => {
                    let conditions = filter.entry(f.name).or_insert_with(|| json!({}));
                    if let Value::Object(c) = conditions {
                        c.insert(op, value);
                    }
                }
                Err(why) => problem = Some(why),
            },
            None => problem = Some(FilterError::NoField(filter_field.clone())),
        }
    }
    // The page's address without the cursor, for sorting and the pages.
    let mut kept: Vec<(&str, String)> = Vec::new();
    if !search.is_empty() {
        kept.push(("q", search.clone()));
        if let Some(name) = search_in {
            kept.push(("in", name.to_owned()));
        }
    }
    if !filter_field.is_empty() {
        kept.push(("field", filter_field.clone()));
        kept.push(("op", filter_op.clone()));
        kept.push(("value", filter_value.clone()));
    }
    let address = |extra: &[(&str, String)]| {
        let pairs: Vec<(&str, String)> = kept.iter().chain(extra).cloned().collect();
        let encoded = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if encoded.is_empty() {
            href(&admin, &m)
        } else {
            format!("{}?{encoded}", href(&admin, &m))
        }
    };

    let mut ctx = model_ctx(&admin, &m);
    ctx.insert("table".into(), json!(m.entry.table));
    ctx.insert("description".into(), json!(m.entry.description));
    ctx.insert("href".into(), json!(href(&admin, &m)));
    ctx.insert(
        "add_href".into(),
        json!(
            m.tool("create")
                .map(|_| format!("{}/add", href(&admin, &m)))
        ),
    );
    ctx.insert("search".into(), json!(search));
    ctx.insert("search_in".into(), json!(search_in));
    ctx.insert(
        "text_fields".into(),
        json!(text_fields.iter().map(|f| f.name).collect::<Vec<_>>()),
    );
    ctx.insert(
        "filter".into(),
        json!({"field": filter_field, "op": filter_op, "value": filter_value}),
    );
    ctx.insert(
        "fields".into(),
        json!(fields.iter().map(|f| f.name).collect::<Vec<_>>()),
    );
    ctx.insert(
        "ops".into(),
        json!(
            OPS.iter()
                .map(|(op, label)| json!({"op": op, "label": label}))
                .collect::<Vec<_>>()
        ),
    );
    if let Some(deleted) = get_param(&q, "deleted") {
        ctx.insert(
            "notice".into(),
            json!(format!("The {} {deleted} was deleted.", m.entry.what)),
        );
    }
    let columns: Vec<Value> = fields
        .iter()
        .map(|f| {
            let sorted = match order.as_deref() {
                Some(o) if o == f.name => Some("asc"),
                Some(o) if o.strip_prefix('-') == Some(f.name) => Some("desc"),
                None if f.key => Some("asc"),
                _ => None,
            };
            let next = if sorted == Some("asc") {
                format!("-{}", f.name)
            } else {
                f.name.to_owned()
            };
            json!({"name": f.name, "description": f.description, "key": f.key, "sorted": sorted,
                   "sort_href": f.orderable.then(|| address(&[("order", next)]))})
        })
        .collect();
    ctx.insert("columns".into(), json!(columns));

    let status = if let Some(why) = problem {
        ctx.insert("error".into(), json!(why.to_string()));
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        let mut arguments = Map::new();
        arguments.insert("filter".into(), Value::Object(filter));
        arguments.insert("limit".into(), json!(PAGE));
        arguments.insert("count".into(), json!(true));
        if let Some(order) = &order {
            arguments.insert("order".into(), json!(order));
        }
        if let Some(cursor) = &cursor {
            arguments.insert("cursor".into(), json!(cursor));
        }
        let tool = m.tool("query").unwrap_or_default();
        match call(&admin, &session, from, tool, arguments, false).await {
            Ok(page) => {
                let rows: Vec<Value> = page["rows"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|row| {
                        let key = &row[m.entry.key];
                        json!({"href": row_href(&admin, &m, key),
                               "cells": fields.iter().map(|f| cell(&row[f.name])).collect::<Vec<_>>()})
                    })
                    .collect();
                ctx.insert("rows".into(), json!(rows));
                ctx.insert("total".into(), page["total"].clone());
                let with_order: Vec<(&str, String)> =
                    order.iter().map(|o| ("order", o.clone())).collect();
                if let Some(next) = page["next_cursor"].as_str() {
                    let mut extra = with_order.clone();
                    extra.push(("cursor", next.to_owned()));
                    ctx.insert("next_href".into(), json!(address(&extra)));
                }
                if cursor.is_some() {
                    ctx.insert("first_href".into(), json!(address(&with_order)));
                }
                StatusCode::OK
            }
            Err(why) => {
                ctx.insert("error".into(), json!(why.said));
                StatusCode::UNPROCESSABLE_ENTITY
            }
        }
    };
    admin.render(
        status,
        "model_list.html",
        Some(&session),
        Value::Object(ctx),
    )
}

/// What every page of a model shows: the model, its app and its list.
fn model_ctx(admin: &Admin, m: &ServedModel) -> Map<String, Value> {
    let mut ctx = Map::new();
    ctx.insert("nav".into(), json!("data"));
    ctx.insert("what".into(), json!(m.entry.what));
    ctx.insert("app".into(), json!(m.entry.meta.app));
    ctx.insert("list_href".into(), json!(href(admin, m)));
    ctx
}

/// What every page of one row shows: the model, the row's key and its links.
fn row_ctx(admin: &Admin, m: &ServedModel, key: &Value) -> Map<String, Value> {
    let mut ctx = model_ctx(admin, m);
    ctx.insert("key_name".into(), json!(m.entry.key));
    ctx.insert("key".into(), json!(key_text(key)));
    let row = row_href(admin, m, key);
    ctx.insert("row_href".into(), json!(row));
    ctx.insert(
        "edit_href".into(),
        json!(m.tool("update").map(|_| format!("{row}/edit"))),
    );
    ctx.insert(
        "delete_href".into(),
        json!(m.tool("delete").map(|_| format!("{row}/delete"))),
    );
    ctx
}

/// The row's fields, as the detail and delete pages show them.
fn shown_fields(m: &ServedModel, row: &Value) -> Vec<Value> {
    m.entry
        .fields
        .iter()
        .map(|f| {
            json!({"name": f.name, "description": f.description, "key": f.key,
                   "writable": f.writable, "value": cell(&row[f.name])})
        })
        .collect()
}

/// The row of `key`, by the model's get tool, or the page that says why not.
async fn get_row(
    admin: &Admin,
    session: &Session,
    from: SocketAddr,
    m: &ServedModel,
    key: &Value,
) -> Result<Value, Box<Response>> {
    let mut arguments = Map::new();
    arguments.insert(m.entry.key.into(), key.clone());
    let tool = m.tool("get").unwrap_or_default();
    call(admin, session, from, tool, arguments, false)
        .await
        .map_err(|why| {
            Box::new(admin.message(
                StatusCode::NOT_FOUND,
                Some(session),
                &format!("No such {}", m.entry.what),
                &why.said,
            ))
        })
}

pub(super) async fn model_row(
    State(admin): Shared,
    Page(session): Page,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path((slug, key)): Path<(String, String)>,
) -> Response {
    let Some(m) = find(&admin, &slug) else {
        return no_model(&admin, &session, &slug);
    };
    let key = key_value(&m, &key);
    let row = match get_row(&admin, &session, from, &m, &key).await {
        Ok(row) => row,
        Err(page) => return *page,
    };
    let mut ctx = row_ctx(&admin, &m, &key);
    ctx.insert("fields".into(), json!(shown_fields(&m, &row)));
    ctx.insert(
        "uri".into(),
        json!(m.entry.uri.replace(
            &format!("{{{}}}", m.entry.key),
            &crate::model::key_text(&key)
        )),
    );
    admin.render(
        StatusCode::OK,
        "model_row.html",
        Some(&session),
        Value::Object(ctx),
    )
}

/// The form of the model's `op` tool (`create`, `update`): its input schema's fields,
/// less the key.
fn form_fields(admin: &Admin, m: &ServedModel, op: &str) -> Option<Vec<form::Field>> {
    let fields = try_it::schema_fields(admin, m.tool(op)?)?;
    Some(
        fields
            .into_iter()
            .filter(|f| f.label != m.entry.key)
            .collect(),
    )
}

/// A tool's error shown on the field it names (`` `label`: … ``), when it names one.
fn on_field(fields: &mut [form::Field], error: &str) -> bool {
    let Some(rest) = error.strip_prefix('`') else {
        return false;
    };
    let Some((name, why)) = rest.split_once('`') else {
        return false;
    };
    match fields.iter_mut().find(|f| f.label == name) {
        Some(f) => {
            let why = why.trim_start_matches(':').trim();
            f.error = Some(if why.is_empty() {
                error.to_owned()
            } else {
                why.to_owned()
            });
            true
        }
        None => false,
    }
}

fn form_page(
    admin: &Admin,
    session: &Session,
    status: StatusCode,
    mut ctx: Map<String, Value>,
    fields: &[form::Field],
    error: Option<String>,
) -> Response {
    ctx.insert("form_fields".into(), json!(fields));
    ctx.insert("error".into(), json!(error));
    admin.render(status, "model_form.html", Some(session), Value::Object(ctx))
}

fn add_ctx(admin: &Admin, m: &ServedModel) -> Map<String, Value> {
    let mut ctx = model_ctx(admin, m);
    ctx.insert("action".into(), json!(format!("{}/add", href(admin, m))));
    ctx.insert("adding".into(), json!(true));
    ctx
}

pub(super) async fn model_add_page(
    State(admin): Shared,
    Page(session): Page,
    Path(slug): Path<String>,
) -> Response {
    let Some(m) = find(&admin, &slug) else {
        return no_model(&admin, &session, &slug);
    };
    let Some(fields) = form_fields(&admin, &m, "create") else {
        return read_only(&admin, &session, &m, "added");
    };
    let ctx = add_ctx(&admin, &m);
    form_page(&admin, &session, StatusCode::OK, ctx, &fields, None)
}

fn read_only(admin: &Admin, session: &Session, m: &ServedModel, done: &str) -> Response {
    admin.message(
        StatusCode::NOT_FOUND,
        Some(session),
        "Not for this model",
        &format!(
            "a {} is not {done} here: its #[model] does not declare it (`write`, or `create`, `update`, `delete`)",
            m.entry.what
        ),
    )
}

pub(super) async fn model_add(
    State(admin): Shared,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path(slug): Path<String>,
    Form {
        session,
        pairs: submitted,
    }: Form,
) -> Response {
    let Some(m) = find(&admin, &slug) else {
        return no_model(&admin, &session, &slug);
    };
    let ctx = add_ctx(&admin, &m);
    submit(&admin, &session, from, &m, None, ctx, &submitted).await
}

/// A submitted add form (`key` none) or edit form: the model's create or update tool
/// called with its fields; to the row's page when it wrote, else the form again, with
/// each error on its field.
async fn submit(
    admin: &Admin,
    session: &Session,
    from: SocketAddr,
    m: &ServedModel,
    key: Option<&Value>,
    ctx: Map<String, Value>,
    submitted: &[(String, String)],
) -> Response {
    let (op, done) = match key {
        None => ("create", "added"),
        Some(_) => ("update", "changed"),
    };
    let (Some(tool), Some(mut fields)) = (m.tool(op), form_fields(admin, m, op)) else {
        return read_only(admin, session, m, done);
    };
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let Ok(mut arguments) = form::arguments(&mut fields, submitted) else {
        let why = "Some values do not fit the fields; nothing was written.".to_owned();
        return form_page(admin, session, unprocessable, ctx, &fields, Some(why));
    };
    if let Some(key) = key {
        // The edit form shows every field: one left empty is cleared (null where the
        // field may be empty, "" for text), not kept.
        for f in m.entry.fields.iter().filter(|f| f.writable) {
            if !arguments.contains_key(f.name) && fields.iter().any(|x| x.label == f.name) {
                if f.nullable {
                    arguments.insert(f.name.into(), Value::Null);
                } else if f.kind == FieldKind::Text {
                    arguments.insert(f.name.into(), json!(""));
                }
            }
        }
        arguments.insert(m.entry.key.into(), key.clone());
    }
    match call(admin, session, from, tool, arguments, false).await {
        Ok(row) => redirect(&row_href(admin, m, key.unwrap_or(&row[m.entry.key]))),
        Err(why) => {
            let why = if on_field(&mut fields, &why.said) {
                format!("The {} was not {done}; nothing was written.", m.entry.what)
            } else {
                why.said
            };
            form_page(admin, session, unprocessable, ctx, &fields, Some(why))
        }
    }
}

fn edit_ctx(admin: &Admin, m: &ServedModel, key: &Value) -> Map<String, Value> {
    let mut ctx = row_ctx(admin, m, key);
    ctx.insert(
        "action".into(),
        json!(format!("{}/edit", row_href(admin, m, key))),
    );
    ctx
}

pub(super) async fn model_edit_page(
    State(admin): Shared,
    Page(session): Page,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path((slug, key)): Path<(String, String)>,
) -> Response {
    let Some(m) = find(&admin, &slug) else {
        return no_model(&admin, &session, &slug);
    };
    let Some(mut fields) = form_fields(&admin, &m, "update") else {
        return read_only(&admin, &session, &m, "changed");
    };
    let key = key_value(&m, &key);
    let row = match get_row(&admin, &session, from, &m, &key).await {
        Ok(row) => row,
        Err(page) => return *page,
    };
    for f in &mut fields {
        f.value = form_text(&row[f.label.as_str()]);
    }
    let ctx = edit_ctx(&admin, &m, &key);
    form_page(&admin, &session, StatusCode::OK, ctx, &fields, None)
}

pub(super) async fn model_edit(
    State(admin): Shared,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path((slug, key)): Path<(String, String)>,
    Form {
        session,
        pairs: submitted,
    }: Form,
) -> Response {
    let Some(m) = find(&admin, &slug) else {
        return no_model(&admin, &session, &slug);
    };
    let key = key_value(&m, &key);
    let ctx = edit_ctx(&admin, &m, &key);
    submit(&admin, &session, from, &m, Some(&key), ctx, &submitted).await
}

pub(super) async fn model_delete_page(
    State(admin): Shared,
    Page(session): Page,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path((slug, key)): Path<(String, String)>,
) -> Response {
    let Some(m) = find(&admin, &slug) else {
        return no_model(&admin, &session, &slug);
    };
    if m.tool("delete").is_none() {
        return read_only(&admin, &session, &m, "deleted");
    }
    let key = key_value(&m, &key);
    let row = match get_row(&admin, &session, from, &m, &key).await {
        Ok(row) => row,
        Err(page) => return *page,
    };
    let mut ctx = row_ctx(&admin, &m, &key);
    ctx.insert("fields".into(), json!(shown_fields(&m, &row)));
    admin.render(
        StatusCode::OK,
        "model_delete.html",
        Some(&session),
        Value::Object(ctx),
    )
}

pub(super) async fn model_delete(
    State(admin): Shared,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path((slug, key)): Path<(String, String)>,
    Form { session, .. }: Form,
) -> Response {
    let Some(m) = find(&admin, &slug) else {
        return no_model(&admin, &session, &slug);
    };
    let Some(tool) = m.tool("delete") else {
        return read_only(&admin, &session, &m, "deleted");
    };
    let key = key_value(&m, &key);
    let mut arguments = Map::new();
    arguments.insert(m.entry.key.into(), key.clone());
    match call(&admin, &session, from, tool, arguments, true).await {
        Ok(_) => {
            let deleted =
                serde_urlencoded::to_string([("deleted", key_text(&key))]).unwrap_or_default();
            redirect(&format!("{}?{deleted}", href(&admin, &m)))
        }
        Err(why) => admin.message(
            StatusCode::CONFLICT,
            Some(&session),
            &format!("The {} was not deleted", m.entry.what),
            &why.said,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str) -> form::Field {
        form::fields(&json!({"type": "object", "properties": {name: {"type": "string"}}})).remove(0)
    }

    #[test]
    fn a_tools_error_is_shown_on_the_field_it_names() {
        let mut fields = vec![field("label"), field("note")];
        assert!(on_field(
            &mut fields,
            "`label`: another Entry has this value already"
        ));
        assert_eq!(
            fields[0].error.as_deref(),
            Some("another Entry has this value already")
        );
        assert!(fields[1].error.is_none());
        assert!(!on_field(&mut fields, "`nope`: no such field"));
        assert!(!on_field(&mut fields, "the database is gone"));
    }

    #[test]
    fn a_filters_value_is_typed_as_its_field() {
        let f = |kind| ModelField {
            name: "n",
            description: "",
            kind,
            nullable: true,
            writable: true,
            orderable: false,
            key: false,
        };
        assert_eq!(
            condition(&f(FieldKind::Number), "gt", " 7 "),
            Ok(("gt".into(), json!(7)))
        );
        assert_eq!(
            condition(&f(FieldKind::Number), "lt", "2.5"),
            Ok(("lt".into(), json!(2.5)))
        );
        assert!(
            condition(&f(FieldKind::Number), "eq", "seven")
                .expect_err("a word is not a number")
                .to_string()
                .contains("is not a number")
        );
        assert_eq!(
            condition(&f(FieldKind::Bool), "eq", "true"),
            Ok(("eq".into(), json!(true)))
        );
        assert_eq!(
            condition(&f(FieldKind::Text), "is_null", ""),
            Ok(("is_null".into(), json!(true)))
        );
        assert!(
            condition(&f(FieldKind::Text), "drop", "x")
                .expect_err("an unknown condition")
                .to_string()
                .contains("not a condition")
        );
    }
}
