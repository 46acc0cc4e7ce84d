//! `mango.auth`, all of it: the HTTP layer that answers 401 and 403 before any item
//! runs (static bearer tokens, and OAuth access tokens with the `oauth` feature), the
//! Protected Resource Metadata, and the MCP step that refuses unauthenticated calls on
//! every transport.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Request as HttpRequest;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response as HttpResponse;

use crate::call::{Identity, IdentitySource, TransportKind};
use crate::chain::{Next, Request, Response, StepFuture};
use crate::settings::{Settings, StdioAuth};
use crate::transport::error_response;
use crate::transport::http::{Guard, json_response};
use crate::transport::proxy::PublicOrigin;

#[cfg(feature = "oauth")]
mod oauth;

/// The name `Mango.toml` lists it under.
const NAME: &str = "mango.auth";

/// The scopes the JSON-RPC method (`tools/call`, …) of an item (a name, a URI) needs.
pub(crate) type NeededScopes = Arc<dyn Fn(&str, &str) -> &'static [&'static str] + Send + Sync>;

fn listed(settings: &Settings) -> bool {
    super::Builtin::Auth.listed(settings)
}

/// What is wrong with `[auth]`: the server does not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SettingsError {
    #[error(
        "{path}: [auth.oauth] is set but `{NAME}` is not listed in `middleware`: add \"{NAME}\" to it (nothing is checked without it)"
    )]
    OAuthNotListed { path: String },

    #[error(
        "{path}: [auth.oauth] is set but this server was built without mango-rt's `oauth` feature: in the project's Cargo.toml write `mango-rt = {{ …, features = [\"oauth\"] }}`"
    )]
    OAuthNotBuilt { path: String },

    #[cfg(feature = "oauth")]
    #[error("{path}: [auth.oauth] {problem}")]
    OAuth {
        path: String,
        problem: oauth::SettingError,
    },

    #[error(
        "{path}: `{NAME}` is listed but [auth] accepts nothing: set `users = true` (users' tokens, made with `cargo mango run createtoken`), add `tokens = {{ name = \"…\" }}` (or set MANGO_AUTH__TOKENS__<NAME>=<token>), or configure [auth.oauth] with the authorization server's `issuer`"
    )]
    NothingAccepted { path: String },

    #[error(
        "{path}: [auth] link_oauth = \"{claim}\" links OAuth tokens to users, which needs `users = true` and an [auth.oauth] table{keep}"
    )]
    LinkWithout {
        path: String,
        claim: String,
        keep: String,
    },

    #[error("{path}: [auth] token_scopes names `{name}`, which is not one of [auth] tokens")]
    UnknownToken { path: String, name: String },
}

/// Start-up check: the middleware is listed but has nothing to accept, or `[auth.oauth]`
/// is set where it cannot work.
pub(super) fn check_settings(settings: &Settings) -> Result<(), SettingsError> {
    let path = settings.display_path().display().to_string();
    let auth = &settings.auth;
    if let Some(oauth) = &auth.oauth {
        if !listed(settings) {
            return Err(SettingsError::OAuthNotListed { path });
        }
        if !cfg!(feature = "oauth") {
            return Err(SettingsError::OAuthNotBuilt { path });
        }
        #[cfg(feature = "oauth")]
        if let Err(problem) = oauth::check(oauth) {
            return Err(SettingsError::OAuth { path, problem });
        }
        let _ = oauth;
    } else if listed(settings) && auth.tokens.is_empty() && !auth.users {
        return Err(SettingsError::NothingAccepted { path });
    }
    if let Some(claim) = &auth.link_oauth {
        let kept = claim == "sub"
            || auth
                .oauth
                .as_ref()
                .is_some_and(|o| o.claims.iter().any(|c| c == claim));
        if !auth.users || auth.oauth.is_none() || !kept {
            return Err(SettingsError::LinkWithout {
                path,
                claim: claim.clone(),
                keep: if kept {
                    String::new()
                } else {
                    format!(", and the claim kept: add \"{claim}\" to [auth.oauth] claims")
                },
            });
        }
    }
    if let Some(name) = auth
        .token_scopes
        .keys()
        .find(|name| !auth.tokens.contains_key(*name))
    {
        return Err(SettingsError::UnknownToken {
            path,
            name: name.clone(),
        });
    }
    Ok(())
}

/// What `cargo mango check` says of authentication: lines of the report, and notes of
/// what is likely missing. `declared` are the scopes the items declare.
pub(crate) fn explain(settings: &Settings, declared: &[&str]) -> Vec<String> {
    let auth = &settings.auth;
    let mut lines = Vec::new();
    let scopes = declared.join(", ");
    if !listed(settings) {
        lines.push(format!(
            "auth: none (`{NAME}` is not listed in `middleware`): anyone who reaches the HTTP port may call every item"
        ));
        if !declared.is_empty() {
            lines.push(format!(
                "note: items declare the scopes {scopes}, but without `{NAME}` HTTP callers are anonymous and may use none of them (stdio's local user may); list \"{NAME}\" and set [auth] tokens or [auth.oauth]"
            ));
        }
        return lines;
    }
    if auth.users {
        lines.push(format!(
            "auth: users' tokens from the database ([auth] users), each lookup kept {} s per process",
            auth.token_cache
        ));
    }
    if !auth.tokens.is_empty() {
        let names: Vec<String> = auth
            .tokens
            .keys()
            .map(|name| match auth.token_scopes.get(name) {
                Some(scopes) => format!("{name} ({})", scopes.join(" ")),
                None => format!("{name} (every scope)"),
            })
            .collect();
        lines.push(format!("auth: static bearer tokens: {}", names.join(", ")));
    }
    if let Some(oauth) = &auth.oauth {
        lines.push(format!(
            "auth: OAuth resource server for tokens of `{}`",
            oauth.issuer
        ));
        match &oauth.introspection_url {
            Some(url) => {
                lines.push(format!(
                    "  tokens: asked about by introspection (RFC 7662) at {url}, answers kept {} s",
                    oauth.introspection_cache
                ));
                match (&oauth.client_id, &oauth.client_secret) {
                    (None, _) => lines.push(
                        "note: [auth.oauth] client_id is not set: the introspection endpoint is asked without credentials, which most authorization servers refuse; set client_id, and MANGO_AUTH__OAUTH__CLIENT_SECRET".into(),
                    ),
                    (Some(id), None) => lines.push(format!(
                        "note: [auth.oauth] client_secret is not set: the introspection endpoint is asked as `{id}` without a secret; set MANGO_AUTH__OAUTH__CLIENT_SECRET if it needs one"
                    )),
                    (Some(id), Some(_)) => {
                        lines.push(format!("  introspection client: `{id}` (secret set)"));
                    }
                }
            }
            None => lines.push(format!(
                "  tokens: JWTs signed with {}, checked against {} (kept {} s), issuer, audience and expiry ({} s leeway)",
                oauth.algorithms.join("/"),
                oauth.jwks_url.as_deref().unwrap_or("the JWKS the issuer's metadata names"),
                oauth.jwks_ttl,
                oauth.leeway
            )),
        }
        match &oauth.resource {
            Some(resource) => {
                lines.push(format!("  resource (the tokens' audience): {resource}"));
                if resource.starts_with("http://") && !is_loopback_url(resource) {
                    lines.push(format!(
                        "note: [auth.oauth] resource {resource} is http: the MCP authorization spec wants https for any server that is not on loopback"
                    ));
                }
            }
            None => lines.push(format!(
                "note: [auth.oauth] resource is not set: tokens must be for the URL the server listens on (http://{}:{}{}); set it to the URL clients use (behind a proxy, the public one)",
                settings.server.host, settings.server.port, settings.server.path
            )),
        }
        lines.push(format!(
            "  metadata: /.well-known/oauth-protected-resource{} (scopes_supported: {})",
            settings.server.path.trim_end_matches('/'),
            if declared.is_empty() && oauth.scopes_supported.is_empty() {
                "none".to_owned()
            } else {
                let mut all: Vec<&str> = declared.to_vec();
                all.extend(oauth.scopes_supported.iter().map(String::as_str));
                all.extend(oauth.required_scopes.iter().map(String::as_str));
                all.sort_unstable();
                all.dedup();
                all.join(" ")
            }
        ));
        if !oauth.required_scopes.is_empty() {
            lines.push(format!(
                "  every request needs: {}",
                oauth.required_scopes.join(" ")
            ));
        }
    }
    lines.push(format!(
        "  stdio: {}",
        match auth.stdio {
            StdioAuth::Trust => "the local user is trusted as `local`, with every scope",
            StdioAuth::Deny => "refused ([auth] stdio = \"deny\")",
        }
    ));
    lines
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// A static token of `[auth] tokens`.
struct StaticToken {
    name: String,
    token: String,
    scopes: Option<Vec<String>>,
}

/// The identity of the static token `given` is, if it is one. Every token is compared,
/// so the time says nothing about which one matched.
fn static_identity(given: &str, tokens: &[StaticToken]) -> Option<Identity> {
    let mut who = None;
    for token in tokens {
        if crate::util::same_secret(given.as_bytes(), token.token.as_bytes()) {
            who = Some(token);
        }
    }
    who.map(|t| {
        Identity::of(
            t.name.clone(),
            t.scopes.clone(),
            Default::default(),
            IdentitySource::Token,
        )
    })
}

/// Why a request was not let in: what the client is told, and the log (never the
/// token).
#[derive(Debug, thiserror::Error)]
enum Refusal {
    /// No `Authorization` header.
    #[error("this server needs `Authorization: Bearer <token>`")]
    Missing,

    #[error("the Authorization header is not `Bearer <token>`")]
    Malformed,

    #[error("the Authorization header is longer than {0} bytes")]
    TooLong(usize),

    #[error("the bearer token is not valid")]
    Unknown,

    /// A user token (`[auth] users`).
    #[error(transparent)]
    User(super::users::TokenRefusal),

    #[cfg(feature = "oauth")]
    #[error(transparent)]
    Token(oauth::TokenError),
}

/// What follows the scheme of an `Authorization: Bearer <token>` header. Whether it is
/// a well-formed token ([`well_formed`]) is checked only when it is not a token already
/// known (a static one, or one kept as valid): the common case costs no scan.
fn bearer(value: &str) -> Result<&str, Refusal> {
    let (scheme, rest) = value.split_once(' ').ok_or(Refusal::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Refusal::Malformed);
    }
    Ok(rest.trim_matches(' '))
}

/// Whether `token` is an RFC 6750 b64token.
pub(super) fn well_formed(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// What the HTTP layer checks requests with.
struct Gate {
    statics: Vec<StaticToken>,
    /// Users' tokens (`[auth] users`).
    users: Option<super::users::Tokens>,
    /// `[auth] link_oauth`: the claim of an OAuth token that names a user.
    #[cfg_attr(not(feature = "oauth"), allow(dead_code))]
    link: Option<String>,
    #[cfg(feature = "oauth")]
    oauth: Option<oauth::OAuth>,
    /// How long an `Authorization` header may be.
    max_header: usize,
    /// The scopes of each item; none when no item has any.
    needed: Option<NeededScopes>,
    /// `[server] max_request_bytes`, for reading a body to find the item it calls.
    limit: usize,
}

impl Gate {
    async fn identify(
        &self,
        header: Option<&HeaderValue>,
        public: Option<&PublicOrigin>,
    ) -> Result<Identity, Refusal> {
        #[cfg(not(feature = "oauth"))]
        let _ = public;
        let header = header.ok_or(Refusal::Missing)?;
        if header.len() > self.max_header {
            return Err(Refusal::TooLong(self.max_header));
        }
        let value = header.to_str().map_err(|_| Refusal::Malformed)?;
        let token = bearer(value)?;
        if let Some(identity) = static_identity(token, &self.statics) {
            return Ok(identity);
        }
        if let Some(users) = &self.users
            && token.starts_with(super::users::TOKEN_START)
        {
            return users.identify(token).await.map_err(Refusal::User);
        }
        #[cfg(feature = "oauth")]
        if let Some(oauth) = &self.oauth {
            let identity = oauth.verify(token, public).await.map_err(|why| match why {
                None => Refusal::Malformed,
                Some(why) => Refusal::Token(why),
            })?;
            return match (&self.users, &self.link) {
                (Some(users), Some(claim)) => {
                    users.linked(identity, claim).await.map_err(Refusal::User)
                }
                _ => Ok(identity),
            };
        }
        if !well_formed(token) {
            return Err(Refusal::Malformed);
        }
        Err(Refusal::Unknown)
    }

    /// `WWW-Authenticate` for a 401.
    fn challenge(&self, refusal: &Refusal, public: Option<&PublicOrigin>) -> HeaderValue {
        #[cfg(feature = "oauth")]
        if let Some(oauth) = &self.oauth {
            let why = match refusal {
                Refusal::Missing => None,
                invalid => Some(invalid.to_string()),
            };
            return oauth.challenge(why.as_deref(), public);
        }
        #[cfg(not(feature = "oauth"))]
        let _ = public;
        match refusal {
            Refusal::Missing => HeaderValue::from_static("Bearer realm=\"mango\""),
            _ => HeaderValue::from_static("Bearer realm=\"mango\", error=\"invalid_token\""),
        }
    }

    /// `WWW-Authenticate` for a 403: the scopes that would do.
    fn insufficient(
        &self,
        needed: &[&str],
        why: &str,
        public: Option<&PublicOrigin>,
    ) -> HeaderValue {
        #[cfg(feature = "oauth")]
        if let Some(oauth) = &self.oauth {
            return oauth.insufficient(needed, why, public);
        }
        let _ = (why, public);
        HeaderValue::from_str(&format!(
            "Bearer realm=\"mango\", error=\"insufficient_scope\", scope=\"{}\"",
            needed.join(" ")
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer error=\"insufficient_scope\""))
    }

    /// Scopes every request needs (`[auth.oauth] required_scopes`).
    fn required(&self) -> &[String] {
        #[cfg(feature = "oauth")]
        if let Some(oauth) = &self.oauth {
            return oauth.required();
        }
        &[]
    }
}

/// What `mango.auth` adds to the HTTP server: the guard of the MCP endpoint, and the
/// routes of the Protected Resource Metadata.
pub(crate) struct HttpAuth {
    pub guard: Option<Guard>,
    pub metadata: Option<Router>,
}

/// Over HTTP, when `mango.auth` is listed: every request needs `Authorization: Bearer
/// <token>` with a token from `[auth] tokens`, or (`[auth.oauth]`) an access token of
/// the authorization server for this server; others get 401 with `WWW-Authenticate`
/// before any item runs, and a request for an item whose scopes the token lacks gets
/// 403. With `[auth.oauth]`, the Protected Resource Metadata (RFC 9728) is served at
/// `/.well-known/oauth-protected-resource<path>`. `url` is where the server listens
/// (the default `resource`), `declared` the scopes the items declare.
pub(crate) fn http(
    settings: &Settings,
    database: &crate::db::Database,
    url: &str,
    declared: &[&'static str],
    needed: Option<NeededScopes>,
) -> Result<HttpAuth, SettingsError> {
    if !listed(settings) {
        return Ok(HttpAuth {
            guard: None,
            metadata: None,
        });
    }
    let auth = &settings.auth;
    let statics = auth
        .tokens
        .iter()
        .map(|(name, token)| StaticToken {
            name: name.clone(),
            token: token.expose().to_owned(),
            scopes: auth.token_scopes.get(name).cloned(),
        })
        .collect();
    #[cfg(feature = "oauth")]
    let oauth = match &auth.oauth {
        Some(s) => Some(
            oauth::OAuth::new(s, &settings.server.path, url, declared).map_err(|problem| {
                SettingsError::OAuth {
                    path: settings.display_path().display().to_string(),
                    problem,
                }
            })?,
        ),
        None => None,
    };
    #[cfg(not(feature = "oauth"))]
    let _ = (url, declared);
    let max_header = auth
        .oauth
        .as_ref()
        .map_or(8192, |o| o.max_token_bytes)
        .saturating_add("Bearer ".len());
    #[cfg(feature = "oauth")]
    let metadata = oauth.as_ref().map(|o| o.metadata_routes(Router::new()));
    #[cfg(not(feature = "oauth"))]
    let metadata = None;
    let users = auth
        .users
        .then(|| super::users::Tokens::new(database.clone(), auth.token_cache));
    let gate = Arc::new(Gate {
        statics,
        users,
        link: auth.link_oauth.clone(),
        #[cfg(feature = "oauth")]
        oauth,
        max_header,
        needed,
        limit: settings.server.max_request_bytes,
    });
    let guard: Guard = Arc::new(move |req| {
        let gate = gate.clone();
        Box::pin(async move { admit(req, &gate).await })
    });
    Ok(HttpAuth {
        guard: Some(guard),
        metadata,
    })
}

/// How long a refused request's body is read for, at most (see [`admit`]).
const DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The request, with the caller's identity in its extensions, or the 401 or 403 that
/// refuses it. A request refused for its headers has its body read (up to the size
/// limit, for a few seconds at most) and dropped: hyper closes a connection whose
/// request body was left unread, and a client that reuses it for its next request
/// (with the right token, say) would find it cut.
async fn admit(req: HttpRequest, gate: &Gate) -> Result<HttpRequest, HttpResponse> {
    match identify(req.headers(), req.extensions().get(), gate).await {
        Ok(identity) => admit_as(req, identity, gate).await,
        Err(refused) => {
            let _ = tokio::time::timeout(DRAIN, axum::body::to_bytes(req.into_body(), gate.limit))
                .await;
            Err(refused)
        }
    }
}

/// The caller the headers name, with the scopes every request needs, or the 401, 403 or
/// 503 that refuses the request.
async fn identify(
    headers: &axum::http::HeaderMap,
    public: Option<&PublicOrigin>,
    gate: &Gate,
) -> Result<Identity, HttpResponse> {
    let identity = match gate
        .identify(headers.get(header::AUTHORIZATION), public)
        .await
    {
        Ok(identity) => identity,
        Err(Refusal::User(super::users::TokenRefusal::Unavailable(why))) => {
            tracing::warn!(reason = %why, "users' tokens could not be looked up");
            let body = error_response(
                serde_json::Value::Null,
                crate::transport::INTERNAL_ERROR,
                "the server cannot check tokens right now (its database is unavailable): try again shortly".to_owned(),
            );
            return Err(json_response(StatusCode::SERVICE_UNAVAILABLE, body));
        }
        Err(refusal) => {
            let message = match &refusal {
                Refusal::Missing => refusal.to_string(),
                why => {
                    tracing::info!(reason = %why, "a request's bearer token was refused");
                    format!("the bearer token was refused: {why}")
                }
            };
            let mut response = json_response(
                StatusCode::UNAUTHORIZED,
                error_response(
                    serde_json::Value::Null,
                    crate::transport::INVALID_REQUEST,
                    message,
                ),
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, gate.challenge(&refusal, public));
            return Err(response);
        }
    };
    let required: Vec<&str> = gate.required().iter().map(String::as_str).collect();
    let missing = identity.missing(&required);
    if !missing.is_empty() {
        let why = format!(
            "every request needs the scopes {} ([auth.oauth] required_scopes); the token lacks {}",
            required.join(" "),
            missing.join(" ")
        );
        return Err(forbidden(
            gate,
            serde_json::Value::Null,
            &required,
            &why,
            public,
        ));
    }
    Ok(identity)
}

/// The request of `identity`, or the 403 of an item whose scopes its token lacks (the
/// body read to find the item).
async fn admit_as(
    mut req: HttpRequest,
    identity: Identity,
    gate: &Gate,
) -> Result<HttpRequest, HttpResponse> {
    if let Some(needed) = &gate.needed
        && !identity.has_every_scope()
        && req.method() == axum::http::Method::POST
    {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, gate.limit).await else {
            let body = error_response(
                serde_json::Value::Null,
                crate::transport::INVALID_REQUEST,
                format!(
                    "the request body is larger than {} bytes ([server] max_request_bytes)",
                    gate.limit
                ),
            );
            return Err(json_response(StatusCode::PAYLOAD_TOO_LARGE, body));
        };
        if let Some((id, item, scopes)) = called_item(&bytes, needed) {
            let missing = identity.missing(scopes);
            if !missing.is_empty() {
                let required: Vec<&str> = gate.required().iter().map(String::as_str).collect();
                let mut all: Vec<&str> = required.clone();
                all.extend(scopes.iter().copied().filter(|s| !required.contains(s)));
                let why = format!(
                    "{item} needs the {} {}, which this token was not granted",
                    if scopes.len() == 1 { "scope" } else { "scopes" },
                    scopes.join(" ")
                );
                let public = parts.extensions.get();
                return Err(forbidden(gate, id, &all, &why, public));
            }
        }
        req = HttpRequest::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(identity);
    Ok(req)
}

/// A 403 for a token without the scopes `needed`.
fn forbidden(
    gate: &Gate,
    id: serde_json::Value,
    needed: &[&str],
    why: &str,
    public: Option<&PublicOrigin>,
) -> HttpResponse {
    tracing::info!(reason = %why, "a request was refused for its token's scopes");
    let mut response = json_response(
        StatusCode::FORBIDDEN,
        error_response(
            id,
            crate::transport::INVALID_REQUEST,
            format!("insufficient scope: {why}"),
        ),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        gate.insufficient(needed, why, public),
    );
    response
}

/// The request's id, the item it calls (`the tool `x``) and the scopes it needs, when the
/// body is a request for an item with scopes.
fn called_item(
    bytes: &[u8],
    needed: &NeededScopes,
) -> Option<(serde_json::Value, String, &'static [&'static str])> {
    // Borrowed from the body (read on every POST of a token without every scope): no
    // allocation unless a name has escapes.
    #[derive(serde::Deserialize)]
    struct Message<'a> {
        #[serde(default)]
        id: serde_json::Value,
        #[serde(borrow)]
        method: std::borrow::Cow<'a, str>,
        #[serde(default, borrow)]
        params: Params<'a>,
    }
    #[derive(serde::Deserialize, Default)]
    struct Params<'a> {
        #[serde(borrow)]
        name: Option<std::borrow::Cow<'a, str>>,
        #[serde(borrow)]
        uri: Option<std::borrow::Cow<'a, str>>,
    }
    let message: Message<'_> = serde_json::from_slice(bytes).ok()?;
    let (what, name) = match &*message.method {
        "tools/call" => ("the tool", message.params.name?),
        "prompts/get" => ("the prompt", message.params.name?),
        "resources/read" | "resources/subscribe" => ("the resource", message.params.uri?),
        _ => return None,
    };
    let scopes = needed(&message.method, &name);
    (!scopes.is_empty()).then(|| (message.id, format!("{what} `{name}`"), scopes))
}

/// The MCP step: over HTTP the layer has already refused requests without a valid
/// token and named the caller; over stdio the local user is trusted as `local` (every
/// scope) unless `[auth] stdio = "deny"`.
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
                req.caller.identity.get_or_insert_with(Identity::local);
            }
        }
        next.run(req).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Vec<StaticToken> {
        vec![
            StaticToken {
                name: "alice".into(),
                token: "s3cret".into(),
                scopes: None,
            },
            StaticToken {
                name: "bob".into(),
                token: "other".into(),
                scopes: Some(vec!["notes:read".into()]),
            },
        ]
    }

    fn who(header: &str) -> Option<String> {
        let token = bearer(header).ok().filter(|t| well_formed(t))?;
        static_identity(token, &tokens()).map(|i| i.subject().to_owned())
    }

    #[test]
    fn tokens_are_checked_by_value_and_named() {
        assert_eq!(who("Bearer s3cret").as_deref(), Some("alice"));
        assert_eq!(who("bearer other ").as_deref(), Some("bob"));
        assert_eq!(who("BEARER  other").as_deref(), Some("bob"));
        assert_eq!(who("Bearer s3cre"), None);
        assert_eq!(who("Basic s3cret"), None);
        let bob = static_identity("other", &tokens()).expect("bob");
        assert!(bob.has_scope("notes:read") && !bob.has_scope("notes:write"));
        assert!(
            static_identity("s3cret", &tokens())
                .expect("alice")
                .has_every_scope()
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        for header in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a\"b",
            "Bearer ===",
            "Token abc",
            "abc",
        ] {
            assert!(
                bearer(header).map_or(true, |t| !well_formed(t)),
                "{header:?} should be refused"
            );
        }
        assert_eq!(
            bearer("Bearer eyJ.a-b_c.d~+/==").ok(),
            Some("eyJ.a-b_c.d~+/==")
        );
        assert!(well_formed("eyJ.a-b_c.d~+/=="));
    }
}
