//! The jobs' page: the apps' `#[job]`s in `mango_jobs`, newest first, refreshed live
//! (the page's script fetches the page again every 2 s and swaps the table); a superuser retries a failed or cancelled job and cancels a queued or
//! running one, each an audit row naming who did it.

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::jobs::{self, JobRow};

/// The states a job may be in, for the filter.
const STATES: [&str; 5] = ["queued", "running", "completed", "failed", "cancelled"];

fn status_of(q: &[(String, String)]) -> Option<String> {
    get_param(q, "status")
        .filter(|s| STATES.contains(s))
        .map(str::to_owned)
}

fn row_json(j: &JobRow) -> Value {
    let max = j
        .max_attempts
        .map_or_else(|| "settings'".to_owned(), |n| n.to_string());
    json!({
        "id": j.id, "name": j.name, "status": j.status,
        "attempts": format!("{} of {max}", j.attempts),
        "arguments": crate::util::clip(&j.arguments, 300),
        "result": j.result.as_deref().map(|r| crate::util::clip(r, 300).into_owned()),
        "error": j.error.as_deref().map(|e| crate::util::clip(e, 600).into_owned()),
        "created": audit::when(j.created_ms),
        "updated": audit::when(j.updated_ms),
        "due": (j.status == "queued").then(|| audit::when(j.run_after_ms)),
        "worker": j.worker,
        "retry": j.status == "failed" || j.status == "cancelled",
        "cancel": (j.status == "queued" || j.status == "running") && !j.cancel,
    })
}

async fn rows(admin: &Admin, status: Option<&str>) -> Result<Vec<Value>, crate::db::QueryError> {
    let mut db = admin.runtime.database().get().await?;
    let rows = jobs::list(&mut db, status, PAGE).await?;
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
    if !Runtime::has_jobs() {
        return admin.message(
            StatusCode::NOT_FOUND,
            Some(session),
            "No jobs",
            "no app has a #[job]: add one (`#[mango_rt::job] async fn …`), then `cargo mango migrate`",
        );
    }
    let rows = rows(admin, status.as_deref()).await;
    let listing = Listing {
        noun: "jobs",
        states: &STATES,
        status,
        done,
        error,
    };
    listing.render(admin, session, code, rows)
}

/// A page of mango's work (Jobs, Tasks): the newest rows of its table, a filter by
/// status, and what a form just did.
pub(super) struct Listing<'a> {
    /// `jobs` or `tasks`: the menu's entry, the template, the forms' address.
    pub noun: &'static str,
    pub states: &'a [&'a str],
    pub status: Option<String>,
    pub done: Option<String>,
    pub error: Option<String>,
}

impl Listing<'_> {
    pub(super) fn render(
        self,
        admin: &Admin,
        session: &Session,
        code: StatusCode,
        rows: Result<Vec<Value>, crate::db::QueryError>,
    ) -> Response {
        let noun = self.noun;
        let mut ctx = json!({
            "nav": noun, "states": self.states, "status": self.status, "done": self.done,
            "error": self.error, "may_act": session.superuser,
            "action": format!("{}/{noun}", admin.base),
        });
        match rows {
            Ok(rows) => ctx["rows"] = json!(rows),
            Err(e) => {
                ctx["problem"] = json!(format!(
                    "the {noun} could not be read: {e} (has `cargo mango migrate` made mango's {noun} table?)"
                ));
            }
        }
        admin.render(code, &format!("{noun}.html"), Some(session), ctx)
    }
}

pub(super) async fn jobs_page(
    State(admin): Shared,
    Page(session): Page,
    RawQuery(raw): RawQuery,
) -> Response {
    let status = status_of(&query(&raw));
    page(&admin, &session, StatusCode::OK, status, None, None).await
}

/// Retry or cancel, for a superuser.
pub(super) async fn jobs_form(
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
            "only a superuser retries or cancels jobs",
        );
    }
    let id = get_param(&form, "id").unwrap_or("").trim().to_owned();
    let mut db = match admin.runtime.database().get().await {
        Ok(db) => db,
        Err(e) => {
            let why = format!("the database could not be reached: {e}");
            return page(
                &admin,
                &session,
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                None,
                Some(why),
            )
            .await;
        }
    };
    let (name, result) = match get_param(&form, "do").unwrap_or("") {
        "retry" => (
            "jobs retry",
            jobs::retry(&mut db, &id)
                .await
                .map(|()| format!("Job {id} queued again.")),
        ),
        "cancel" => (
            "jobs cancel",
            jobs::cancel(&mut db, &id)
                .await
                .map(|what| format!("Job {id} {what}.")),
        ),
        other => {
            let why = format!("the form asked for `{other}`, which this page does not do");
            return page(
                &admin,
                &session,
                StatusCode::BAD_REQUEST,
                None,
                None,
                Some(why),
            )
            .await;
        }
    };
    drop(db);
    let error = result.as_ref().err().map(ToString::to_string);
    audit::record_admin(
        &admin.runtime.state,
        &session.user,
        name,
        &json!({"id": id}),
        error.clone(),
    )
    .await;
    match result {
        Ok(done) => page(&admin, &session, StatusCode::OK, None, Some(done), None).await,
        Err(_) => {
            page(
                &admin,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                None,
                error,
            )
            .await
        }
    }
}
