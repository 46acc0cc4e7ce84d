//! The login page, the login and the logout.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) async fn login_page(
    State(admin): Shared,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(problem) = access::origin_problem(&headers, admin.server()) {
        return admin.message(StatusCode::FORBIDDEN, None, "Refused", &problem);
    }
    let q = query(&raw);
    let next = safe_next(&admin.base, get_param(&q, "next"));
    let secure = admin.secure_cookie(&headers);
    if let Some(once) = get_param(&q, "once") {
        if admin.access.use_link(once) {
            let user = admin.access.settings().user.clone();
            return logged_in(&admin, Who::settings_admin(&user), &next, secure);
        }
        return login_form(
            &admin,
            StatusCode::UNAUTHORIZED,
            &next,
            Some(
                "this login link was used already or has expired: log in with the password, or restart `serve` for a new link",
            ),
            secure,
        );
    }
    if admin.access.session(&headers).is_some() {
        return redirect(&next);
    }
    login_form(&admin, StatusCode::OK, &next, None, secure)
}

/// Where to go after logging in: a page of the admin, nothing else.
pub(super) fn safe_next(base: &str, next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with(&format!("{base}/")) && !n.contains("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => format!("{base}/"),
    }
}

pub(super) fn login_form(
    admin: &Admin,
    status: StatusCode,
    next: &str,
    error: Option<&str>,
    secure: bool,
) -> Response {
    let Some(token) = access::token() else {
        return admin.message(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "No randomness",
            "the system gave no random bytes for a CSRF token",
        );
    };
    let no_password = admin.access.settings().password_hash.is_none();
    let mut r = admin.render(
        status,
        "login.html",
        None,
        json!({"login_csrf": token, "next": next, "error": error, "no_password": no_password,
               "name": admin.access.settings().user}),
    );
    if let Ok(v) = HeaderValue::from_str(&access::set_cookie(
        access::LOGIN_COOKIE,
        &token,
        &admin.base,
        secure,
        600,
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

pub(super) fn logged_in(admin: &Admin, who: Who<'_>, next: &str, secure: bool) -> Response {
    let user = who.user.to_owned();
    let Some(id) = admin.access.open(who) else {
        return admin.message(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "No randomness",
            "the system gave no random bytes for a session",
        );
    };
    let hours = admin.access.settings().session_hours.max(1);
    let mut r = redirect(next);
    for cookie in [
        access::set_cookie(access::COOKIE, &id, &admin.base, secure, hours * 3600),
        access::set_cookie(access::LOGIN_COOKIE, "", &admin.base, secure, 0),
    ] {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    tracing::info!(user, "admin login");
    r
}

pub(super) async fn login(
    State(admin): Shared,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Some(problem) = access::origin_problem(&headers, admin.server()) {
        return admin.message(StatusCode::FORBIDDEN, None, "Refused", &problem);
    }
    let secure = admin.secure_cookie(&headers);
    let form = match parse_form(body) {
        Ok(form) => form,
        Err((status, why)) => return admin.message(status, None, "The form was refused", &why),
    };
    let next = safe_next(&admin.base, get_param(&form, "next"));
    let expected = access::cookie(&headers, access::LOGIN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !access::csrf_ok(&expected, get_param(&form, "csrf")) {
        return login_form(
            &admin,
            StatusCode::FORBIDDEN,
            &next,
            Some("the form's CSRF token is missing or wrong: submit the login form again"),
            secure,
        );
    }
    let user = get_param(&form, "user").unwrap_or("");
    let password = form
        .iter()
        .find(|(k, _)| k == "password")
        .map_or("", |(_, v)| v.as_str());
    // argon2 takes tens of milliseconds of CPU and 19 MiB: not on the async threads,
    // and a few at a time (the others wait their turn).
    let Ok(_turn) = admin.access.verifications.acquire().await else {
        return admin.message(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "Login failed",
            "the server is stopping",
        );
    };
    let users = admin.runtime.settings().auth.users;
    let checked = {
        let admin = admin.clone();
        let (user, password) = (user.to_owned(), password.to_owned());
        tokio::task::spawn_blocking(move || admin.access.login(from.ip(), &user, &password, users))
            .await
    };
    // Not the settings' admin: a staff user of the database, when there are users.
    let checked = match checked {
        Ok(Err(Refused::Wrong)) if users => {
            match crate::builtin::users::staff_login(admin.runtime.database(), user, password).await
            {
                Ok(Some(staff)) => {
                    admin.access.forgive(from.ip(), user);
                    return logged_in(
                        &admin,
                        Who {
                            user: &staff.name,
                            scopes: staff.scopes,
                            superuser: staff.superuser,
                        },
                        &next,
                        secure,
                    );
                }
                Ok(None) => Ok(Err(Refused::Wrong)),
                Err(e) => {
                    return admin.message(
                        StatusCode::SERVICE_UNAVAILABLE,
                        None,
                        "Login failed",
                        &format!("the users could not be read: {e}"),
                    );
                }
            }
        }
        other => other,
    };
    match checked {
        Ok(Ok(())) => logged_in(&admin, Who::settings_admin(user), &next, secure),
        Ok(Err(Refused::Wrong)) => {
            tracing::warn!(user, from = %from.ip(), "admin login refused: wrong name or password");
            login_form(
                &admin,
                StatusCode::UNAUTHORIZED,
                &next,
                Some("wrong name or password"),
                secure,
            )
        }
        Ok(Err(Refused::NoPassword)) => login_form(
            &admin,
            StatusCode::UNAUTHORIZED,
            &next,
            Some(
                "no password is set for the admin: set MANGO_ADMIN__PASSWORD_HASH (`cargo mango run adminpassword` makes one)",
            ),
            secure,
        ),
        Ok(Err(Refused::Wait(wait))) => {
            let seconds = wait.as_secs().max(1);
            let mut r = login_form(
                &admin,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                Some(&format!(
                    "too many failed logins from your address: try again in {seconds} s"
                )),
                secure,
            );
            if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        Err(e) => admin.message(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "Login failed",
            &e.to_string(),
        ),
    }
}

pub(super) async fn logout(
    State(admin): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let here = format!("{}/", admin.base);
    if let Err(refused) = admin.gate_form(&headers, &here, body) {
        return *refused;
    }
    admin.access.close(&headers);
    let mut r = redirect(&format!("{}/login", admin.base));
    let cookie = access::set_cookie(
        access::COOKIE,
        "",
        &admin.base,
        admin.secure_cookie(&headers),
        0,
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}
