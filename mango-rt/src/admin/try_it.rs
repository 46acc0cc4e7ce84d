//! "Try it": forms that call a tool, read a resource, get a prompt, through the real pipeline.

#[allow(clippy::wildcard_imports)]
use super::*;

#[derive(Serialize)]
pub(super) struct Tried {
    shown: view::Shown,
    /// The call's row in the log, when the log exists.
    logged: bool,
}

pub(super) fn tool_ctx(
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

pub(super) fn schema_fields(admin: &Admin, name: &str) -> Option<Vec<form::Field>> {
    let served = admin.runtime.tools.get(name)?;
    Some(form::fields(&Value::Object(
        (*(served.entry.input_schema)()).clone(),
    )))
}

pub(super) async fn tool_page(
    State(admin): Shared,
    Page(session): Page,
    Path(name): Path<String>,
) -> Response {
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

pub(super) async fn tool_call(
    State(admin): Shared,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    Form {
        session,
        pairs: submitted,
    }: Form,
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

pub(super) fn resource_ctx(
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

pub(super) async fn resource_page(
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

pub(super) async fn resource_read(
    State(admin): Shared,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    RawQuery(raw): RawQuery,
    Form {
        session,
        pairs: submitted,
    }: Form,
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

pub(super) fn prompt_ctx(
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

pub(super) async fn prompt_page(
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

pub(super) async fn prompt_get(
    State(admin): Shared,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    Path(name): Path<String>,
    Form {
        session,
        pairs: submitted,
    }: Form,
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
