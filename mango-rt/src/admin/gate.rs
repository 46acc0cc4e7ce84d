//! The checks every admin page makes before it does anything, as axum extractors: the
//! request's `Host`/`Origin` is the server's own, it carries a session (else the browser
//! goes to the login page, and back here after), and a form carries the session's CSRF
//! token. A handler that takes a [`Page`] or a [`Form`] runs only for a logged-in user.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::Response;

use super::access::Session;
use super::{Admin, Pairs};

/// Where a refused request is sent back to after the login: its own path and query.
fn here(parts: &Parts) -> String {
    parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned())
}

/// A page's request, from a logged-in user: the session.
pub(super) struct Page(pub Session);

impl FromRequestParts<Arc<Admin>> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, admin: &Arc<Admin>) -> Result<Page, Response> {
        admin
            .gate(&parts.headers, &here(parts))
            .map(Page)
            .map_err(|refused| *refused)
    }
}

/// A submitted form, from a logged-in user, with the session's CSRF token: the session
/// and the form's pairs.
pub(super) struct Form {
    pub session: Session,
    pub pairs: Pairs,
}

impl FromRequest<Arc<Admin>> for Form {
    type Rejection = Response;

    async fn from_request(request: Request, admin: &Arc<Admin>) -> Result<Form, Response> {
        let (parts, body) = request.into_parts();
        let (headers, here) = (parts.headers.clone(), here(&parts));
        let body = Bytes::from_request(Request::from_parts(parts, body), admin).await;
        admin
            .gate_form(&headers, &here, body)
            .map(|(session, pairs)| Form { session, pairs })
            .map_err(|refused| *refused)
    }
}
