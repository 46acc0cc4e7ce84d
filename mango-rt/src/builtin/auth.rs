//! `mango.auth`, all of it: the token check, the HTTP layer that answers 401 before any
//! item runs, and the MCP step that refuses unauthenticated calls on every transport.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request as HttpRequest;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next as HttpNext;
use axum::response::Response as HttpResponse;

use crate::call::TransportKind;
use crate::chain::{Next, Request, Response, StepFuture};
use crate::settings::{Settings, StdioAuth};
use crate::transport::error_response;
use crate::transport::http::json_response;

/// The name `Mango.toml` lists it under.
const NAME: &str = "mango.auth";

/// Who the bearer token says is calling (put in the HTTP request's extensions by
/// [`http_layer`], read by the MCP handler into the call's [`Caller`](crate::Caller)).
#[derive(Debug, Clone)]
pub(crate) struct Identity(pub String);

fn listed(settings: &Settings) -> bool {
    settings.middleware.iter().any(|m| m == NAME)
}

/// Start-up check: the middleware is listed but has no token to accept.
pub(super) fn check_settings(settings: &Settings) -> Result<(), String> {
    if listed(settings) && settings.auth.tokens.is_empty() {
        return Err(format!(
            "{}: `{NAME}` is listed but [auth] tokens is empty: add `tokens = {{ name = \"…\" }}`, or set MANGO_AUTH__TOKENS__<NAME>=<token>",
            settings.display_path().display()
        ));
    }
    Ok(())
}

/// Compares in time that depends only on the lengths.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The name of the token in an `Authorization` header's value, if it is one of
/// `tokens`. Every token is compared, so the time says nothing about which one matched.
fn check_token(header: Option<&str>, tokens: &[(String, String)]) -> Option<String> {
    let given = header
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)?;
    let mut who = None;
    for (name, token) in tokens {
        if same_secret(given.as_bytes(), token.as_bytes()) {
            who = Some(name.clone());
        }
    }
    who
}

/// Over HTTP, when `mango.auth` is listed: every request needs `Authorization: Bearer
/// <token>` with a token from `[auth] tokens`; others get 401 with `WWW-Authenticate:
/// Bearer` before any item runs. The token's name becomes the caller's identity.
pub(crate) fn http_layer(router: Router, settings: &Settings) -> Router {
    if !listed(settings) {
        return router;
    }
    let tokens: Arc<Vec<(String, String)>> =
        Arc::new(settings.auth.tokens.clone().into_iter().collect());
    router.layer(axum::middleware::from_fn(move |req, next| {
        authenticate(req, next, tokens.clone())
    }))
}

async fn authenticate(
    mut req: HttpRequest,
    next: HttpNext,
    tokens: Arc<Vec<(String, String)>>,
) -> HttpResponse {
    // Load balancers probe readiness without credentials; it says nothing secret.
    if req.uri().path() == "/readyz" {
        return next.run(req).await;
    }
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let given = header.is_some();
    match check_token(header, &tokens) {
        Some(name) => {
            req.extensions_mut().insert(Identity(name));
            next.run(req).await
        }
        None => {
            let message = if given {
                "the bearer token is not valid"
            } else {
                "this server needs `Authorization: Bearer <token>`"
            };
            let mut response = json_response(
                StatusCode::UNAUTHORIZED,
                error_response(
                    serde_json::Value::Null,
                    crate::transport::INVALID_REQUEST,
                    message,
                ),
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"mango\""),
            );
            response
        }
    }
}

/// The MCP step: over HTTP the layer has already refused requests without a valid
/// token and named the caller; over stdio the local user is trusted as `local` unless
/// `[auth] stdio = "deny"`.
pub(super) fn step(req: &mut Request, next: Next) -> StepFuture<'_, Response> {
    Box::pin(async move {
        match req.caller.transport {
            TransportKind::Http if req.caller.identity.is_none() => {
                return Response::error("not authenticated: send `Authorization: Bearer <token>`");
            }
            TransportKind::Stdio if req.settings().auth.stdio == StdioAuth::Deny => {
                return Response::error(
                    "calls over stdio are refused here ([auth] stdio = \"deny\")",
                );
            }
            TransportKind::Http => {}
            _ => {
                req.caller
                    .identity
                    .get_or_insert_with(|| "local".to_owned());
            }
        }
        next.run(req).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_by_value_and_named() {
        let tokens = vec![
            ("alice".to_owned(), "s3cret".to_owned()),
            ("bob".to_owned(), "other".to_owned()),
        ];
        assert_eq!(
            check_token(Some("Bearer s3cret"), &tokens).as_deref(),
            Some("alice")
        );
        assert_eq!(
            check_token(Some("bearer other "), &tokens).as_deref(),
            Some("bob")
        );
        assert_eq!(check_token(Some("Bearer s3cre"), &tokens), None);
        assert_eq!(check_token(Some("Basic s3cret"), &tokens), None);
        assert_eq!(check_token(None, &tokens), None);
    }
}
