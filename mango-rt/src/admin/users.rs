//! The users' pages (`[auth] users`), Django's `contrib.auth` admin: the users with
//! their groups and tokens; add a user, set a group, make a token (shown once, then
//! only its prefix), revoke a token, deactivate a user. For superusers (and the
//! settings' admin); each write is an audit row naming who made it.

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::builtin::users::{self, NewUser, UserChange, UsersError};

/// The answer for a session that may not manage users, if it may not.
fn refused(admin: &Admin, session: &Session) -> Option<Response> {
    if !admin.runtime.settings().auth.users {
        return Some(admin.message(
            StatusCode::NOT_FOUND,
            Some(session),
            "Users are off",
            "set `users = true` under [auth] in Mango.toml, then run `cargo mango migrate`",
        ));
    }
    (!session.superuser).then(|| {
        admin.message(
            StatusCode::FORBIDDEN,
            Some(session),
            "Not for you",
            "only a superuser manages users and tokens",
        )
    })
}

fn scopes_of(text: &str) -> Vec<String> {
    text.split([' ', ',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The page, with what the last form did (`done`) or why it did not (`error`), and a
/// token made just now (`token`: shown this once).
async fn page(
    admin: &Admin,
    session: &Session,
    status: StatusCode,
    done: Option<String>,
    error: Option<String>,
    token: Option<(String, String)>,
) -> Response {
    let db = admin.runtime.database();
    let (all, groups) = match (users::users(db, None).await, users::groups(db).await) {
        (Ok(all), Ok(groups)) => (all, groups),
        (Err(e), _) | (_, Err(e)) => {
            return admin.message(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(session),
                "The users could not be read",
                &format!("{e} (has `cargo mango migrate` made mango's users' tables?)"),
            );
        }
    };
    let now = users::now_ms();
    let shown: Vec<Value> = all
        .iter()
        .map(|u| {
            let tokens: Vec<Value> = u
                .tokens
                .iter()
                .map(|t| {
                    let state = match (t.revoked_ms, t.expires_ms) {
                        (Some(at), _) => format!("revoked {}", audit::when(at)),
                        (None, Some(at)) if at <= now => format!("expired {}", audit::when(at)),
                        (None, Some(at)) => format!("expires {}", audit::when(at)),
                        (None, None) => "does not expire".to_owned(),
                    };
                    json!({"prefix": t.prefix, "name": t.name, "state": state,
                           "live": t.revoked_ms.is_none() && t.expires_ms.is_none_or(|at| at > now),
                           "scopes": t.scopes.as_ref().map_or_else(|| "the user's".to_owned(), |s| s.join(" ")),
                           "last_used": t.last_used_ms.map_or_else(|| "never".to_owned(), audit::when)})
                })
                .collect();
            json!({"name": u.name, "email": u.email, "active": u.active, "staff": u.staff,
                   "superuser": u.superuser, "scopes": u.scopes.join(" "), "groups": u.groups.join(", "),
                   "last_login": u.last_login_ms.map_or_else(|| "never".to_owned(), audit::when),
                   "tokens": tokens})
        })
        .collect();
    let groups: Vec<Value> = groups
        .iter()
        .map(|(name, scopes, members)| {
            json!({"name": name, "scopes": scopes.join(" "), "members": members.join(", ")})
        })
        .collect();
    let ctx = json!({"nav": "users", "users": shown, "groups": groups, "done": done, "error": error,
                     "token": token.map(|(token, user)| json!({"token": token, "user": user})),
                     "declared": admin.runtime.declared_scopes().join(" "),
                     "action": format!("{}/users", admin.base)});
    admin.render(status, "users.html", Some(session), ctx)
}

pub(super) async fn users_page(State(admin): Shared, Page(session): Page) -> Response {
    if let Some(r) = refused(&admin, &session) {
        return r;
    }
    page(&admin, &session, StatusCode::OK, None, None, None).await
}

/// A form of the users' page, done: the page again with what happened, and the audit
/// row naming who did it.
async fn answer(
    admin: &Admin,
    session: &Session,
    name: &'static str,
    arguments: Value,
    result: Result<String, UsersError>,
    token: Option<(String, String)>,
) -> Response {
    let error = result.as_ref().err().map(ToString::to_string);
    audit::record_admin(
        &admin.runtime.state,
        &session.user,
        name,
        &arguments,
        error.clone(),
    )
    .await;
    match result {
        Ok(done) => page(admin, session, StatusCode::OK, Some(done), None, token).await,
        Err(_) => {
            page(
                admin,
                session,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                error,
                None,
            )
            .await
        }
    }
}

pub(super) async fn users_form(
    State(admin): Shared,
    Form {
        session,
        pairs: form,
    }: Form,
) -> Response {
    if let Some(r) = refused(&admin, &session) {
        return r;
    }
    let db = admin.runtime.database();
    let field = |name: &str| get_param(&form, name).unwrap_or("").trim().to_owned();
    let checked = |name: &str| matches!(get_param(&form, name), Some("on" | "true"));
    match get_param(&form, "do").unwrap_or("") {
        "add_user" => {
            let (name, email) = (field("name"), field("email"));
            let password = form
                .iter()
                .find(|(k, _)| k == "password")
                .map_or("", |(_, v)| v.as_str())
                .to_owned();
            let scopes = scopes_of(&field("scopes"));
            let (staff, superuser) = (checked("staff"), checked("superuser"));
            let made = users::create_user(
                db,
                NewUser {
                    name: &name,
                    email: (!email.is_empty()).then_some(email.as_str()),
                    password: (!password.is_empty()).then_some(password.as_str()),
                    staff,
                    superuser,
                    scopes: &scopes,
                },
            )
            .await
            .map(|_| format!("User {name} added."));
            let arguments =
                json!({"name": name, "staff": staff, "superuser": superuser, "scopes": scopes});
            answer(&admin, &session, "adduser", arguments, made, None).await
        }
        "active" => {
            let (name, active) = (field("name"), field("active") == "true");
            let change = UserChange {
                active: Some(active),
                staff: None,
                superuser: None,
                scopes: None,
            };
            let changed = users::change_user(db, &name, change).await.map(|()| {
                if active {
                    format!("User {name} is active again.")
                } else {
                    format!(
                        "User {name} is inactive: it cannot log in, and its tokens are refused."
                    )
                }
            });
            let arguments = json!({"name": name, "active": active});
            answer(&admin, &session, "changeuser", arguments, changed, None).await
        }
        "group" => {
            let name = field("name");
            let scopes = scopes_of(&field("scopes"));
            let members = scopes_of(&field("members"));
            let set = users::set_group(db, &name, &scopes, Some(&members))
                .await
                .map(|()| format!("Group {name} set."));
            let arguments = json!({"name": name, "scopes": scopes, "members": members});
            answer(&admin, &session, "group", arguments, set, None).await
        }
        "token" => {
            let (user, name) = (field("user"), field("name"));
            let scopes = scopes_of(&field("scopes"));
            let days = field("days");
            let lifetime = match days.parse::<u64>() {
                Ok(0) | Err(_) if !days.is_empty() => {
                    let why = format!(
                        "`{days}` is not a number of days (leave it empty for a token that does not expire)"
                    );
                    return page(
                        &admin,
                        &session,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        None,
                        Some(why),
                        None,
                    )
                    .await;
                }
                Ok(d) => Some(std::time::Duration::from_secs(d.saturating_mul(86_400))),
                Err(_) => None,
            };
            let name = if name.is_empty() {
                "token".to_owned()
            } else {
                name
            };
            let scoped = (!scopes.is_empty()).then_some(scopes.as_slice());
            let made = users::create_token(db, &user, &name, scoped, lifetime).await;
            let arguments = json!({"user": user, "name": name, "scopes": scopes, "days": days});
            match made {
                Ok((token, prefix)) => {
                    let done = Ok(format!("Token {prefix} made for {user}."));
                    answer(
                        &admin,
                        &session,
                        "createtoken",
                        arguments,
                        done,
                        Some((token, user)),
                    )
                    .await
                }
                Err(e) => answer(&admin, &session, "createtoken", arguments, Err(e), None).await,
            }
        }
        "revoke" => {
            let prefix = field("prefix");
            let revoked = users::revoke_token(db, &prefix).await.map(|live| {
                let ttl = admin.runtime.settings().auth.token_cache;
                if live {
                    format!("Token {prefix} revoked: every server refuses it within {ttl} s.")
                } else {
                    format!("Token {prefix} was revoked already.")
                }
            });
            let arguments = json!({"prefix": prefix});
            answer(&admin, &session, "revoketoken", arguments, revoked, None).await
        }
        other => {
            let why = format!("the form asked for `{other}`, which this page does not do");
            page(
                &admin,
                &session,
                StatusCode::BAD_REQUEST,
                None,
                Some(why),
                None,
            )
            .await
        }
    }
}
