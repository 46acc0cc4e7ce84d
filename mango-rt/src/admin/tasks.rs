//! The tasks' page: the tasks of `#[tool(task)]` calls in `mango_tasks`, newest first,
//! refreshed live as the jobs' page is (the table swapped every 2 s); a superuser
//! cancels a working one, an audit row naming who did it.

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::tasks::{self, STATES, TaskListRow};

fn status_of(q: &[(String, String)]) -> Option<String> {
    get_param(q, "status")
        .filter(|s| STATES.contains(s))
        .map(str::to_owned)
}

fn row_json(t: &TaskListRow) -> Value {
    json!({
        "id": t.id, "tool": t.tool, "status": t.status,
        "owner": t.owner,
        "said": t.status_message,
        "arguments": crate::util::clip(&t.arguments, 300),
        "result": t.result.as_deref().map(|r| crate::util::clip(r, 300).into_owned()),
        "error": t.error.as_deref().map(|e| crate::util::clip(e, 600).into_owned()),
        "created": audit::when(t.created_ms),
        "updated": audit::when(t.updated_ms),
        "expires": audit::when(t.expires_ms),
        "cancel": (t.status == "working" || t.status == "input_required") && !t.cancel,
    })
}

async fn rows(admin: &Admin, status: Option<&str>) -> Result<Vec<Value>, crate::db::QueryError> {
    let mut db = admin.runtime.database().get().await?;
    let rows = tasks::list(&mut db, status, PAGE, crate::util::now_ms()).await?;
    Ok(rows.iter().map(row_json).collect())
}

async fn page(
    admin: &Admin,
    session: &Session,
    code: StatusCode,
    status: Option<String>,
    done: Option<String>,
    error: Option<String>,
) -> Response {
    if !admin.runtime.has_task_tools() {
        return admin.message(
            StatusCode::NOT_FOUND,
            Some(session),
            "No tasks",
            "no tool runs as a task: mark one `#[mango_rt::tool(task)]`, then `cargo mango migrate`",
        );
    }
    let rows = rows(admin, status.as_deref()).await;
    let listing = super::jobs::Listing {
        noun: "tasks",
        states: &STATES,
        status,
        done,
        error,
    };
    listing.render(admin, session, code, rows)
}

pub(super) async fn tasks_page(
    State(admin): Shared,
    Page(session): Page,
    RawQuery(raw): RawQuery,
) -> Response {
    let status = status_of(&query(&raw));
    page(&admin, &session, StatusCode::OK, status, None, None).await
}

/// Cancel, for a superuser.
pub(super) async fn tasks_form(
    State(admin): Shared,
    Form {
        session,
        pairs: form,
    }: Form,
) -> Response {
    if !session.superuser {
        return admin.message(
            StatusCode::FORBIDDEN,
            Some(&session),
            "Not for you",
            "only a superuser cancels tasks",
        );
    }
    let id = get_param(&form, "id").unwrap_or("").trim().to_owned();
    if get_param(&form, "do") != Some("cancel") {
        let why = "the form asked for something this page does not do (it cancels tasks)";
        return page(
            &admin,
            &session,
            StatusCode::BAD_REQUEST,
            None,
            None,
            Some(why.into()),
        )
        .await;
    }
    let result = match admin.runtime.database().get().await {
        Ok(mut db) => tasks::cancel(&mut db, &id, crate::util::now_ms())
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!("the database could not be reached: {e}")),
    };
    audit::record_admin(
        &admin.runtime.state,
        &session.user,
        "tasks cancel",
        &json!({"id": id}),
        result.as_ref().err().cloned(),
    )
    .await;
    match result {
        Ok(()) => {
            let done = format!(
                "Task {id} asked to stop: it is rolled back and shown cancelled within a second."
            );
            page(&admin, &session, StatusCode::OK, None, Some(done), None).await
        }
        Err(why) => {
            page(
                &admin,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                Some(why),
            )
            .await
        }
    }
}
