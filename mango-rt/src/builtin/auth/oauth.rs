//! `[auth.oauth]`: this server as an OAuth 2.1 resource server (MCP authorization spec,
//! 2025-11-25 and 2026-07-28). Access tokens are JWTs checked against the authorization
//! server's keys (JWKS: fetched, kept, fetched again for an unknown `kid`, at most once a
//! second and not for a while after a failure), or opaque tokens asked about by token
//! introspection (RFC 7662). A token once found valid is kept until it expires (an
//! introspection answer, `introspection_cache` seconds): most requests cost a hash-map
//! lookup (the whole token is compared, never a digest of it).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::{HeaderValue, StatusCode};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::call::{Identity, IdentitySource};
use crate::settings::OAuthSettings;
use crate::transport::http::json_response;
use crate::transport::proxy::PublicOrigin;

/// The most tokens kept as valid at once.
const MAX_CACHED: usize = 10_000;
/// Keys are fetched at most this often for unknown `kid`s.
const MIN_REFETCH: Duration = Duration::from_secs(1);
/// The largest answer read from the authorization server.
const MAX_ANSWER: usize = 1 << 20;
const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// What is wrong with `[auth.oauth]`: the server does not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SettingError {
    #[error(
        "has no `issuer`: set it to the authorization server's issuer identifier (the tokens' `iss`), e.g. issuer = \"https://auth.example.com\""
    )]
    NoIssuer,

    #[error("{key}: `{text}` is not a URL ({source})")]
    NotUrl {
        key: &'static str,
        text: String,
        source: url::ParseError,
    },

    #[error("{key}: `{text}` is not an http(s) URL")]
    NotHttp { key: &'static str, text: String },

    #[error("resource: `{0}` has a fragment (#…): a resource URL has none")]
    Fragment(String),

    #[error("has a client_secret but no client_id: introspection authenticates as client_id")]
    SecretWithoutId,

    #[error(
        "algorithms is empty: list the ones the authorization server signs with, e.g. [\"RS256\"]"
    )]
    NoAlgorithm,

    #[error("algorithms: `{0}` is not a JWS algorithm")]
    UnknownAlgorithm(String),

    #[error(
        "algorithms: `{0}` is a shared-secret algorithm; access tokens from an authorization server are checked with its public keys (RS*, PS*, ES*, EdDSA)"
    )]
    SharedSecret(String),

    #[error("timeout must be a positive number of seconds, not {0}")]
    Timeout(f64),

    #[error("jwks_retry must be a number of seconds (0 or more), not {0}")]
    JwksRetry(f64),

    #[error("max_token_bytes is {0}: tokens are longer than that")]
    MaxTokenBytes(usize),

    #[error("the HTTP client could not be made: {0}")]
    Client(reqwest::Error),
}

/// The settings' problems that stop the server from starting.
pub(super) fn check(s: &OAuthSettings) -> Result<(), SettingError> {
    if s.issuer.trim().is_empty() {
        return Err(SettingError::NoIssuer);
    }
    http_url("issuer", &s.issuer)?;
    for server in &s.authorization_servers {
        http_url("authorization_servers", server)?;
    }
    if let Some(resource) = &s.resource {
        canonical(resource)?;
    }
    if let Some(url) = &s.jwks_url {
        http_url("jwks_url", url)?;
    }
    if let Some(url) = &s.introspection_url {
        http_url("introspection_url", url)?;
        if s.client_secret.is_some() && s.client_id.is_none() {
            return Err(SettingError::SecretWithoutId);
        }
    }
    algorithms(&s.algorithms)?;
    if !(s.timeout > 0.0 && s.timeout.is_finite()) {
        return Err(SettingError::Timeout(s.timeout));
    }
    if !(s.jwks_retry >= 0.0 && s.jwks_retry.is_finite()) {
        return Err(SettingError::JwksRetry(s.jwks_retry));
    }
    if s.max_token_bytes < 64 {
        return Err(SettingError::MaxTokenBytes(s.max_token_bytes));
    }
    Ok(())
}

fn http_url(key: &'static str, text: &str) -> Result<url::Url, SettingError> {
    let url = url::Url::parse(text).map_err(|source| SettingError::NotUrl {
        key,
        text: text.to_owned(),
        source,
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(SettingError::NotHttp {
            key,
            text: text.to_owned(),
        });
    }
    Ok(url)
}

/// The canonical form of this server's URL (RFC 8707 §2: lower-case scheme and host, no
/// fragment, no trailing slash after a path).
fn canonical(text: &str) -> Result<String, SettingError> {
    let mut url = http_url("resource", text)?;
    if url.fragment().is_some() {
        return Err(SettingError::Fragment(text.to_owned()));
    }
    url.set_fragment(None);
    let mut out = url.to_string();
    if url.path() != "/" && out.ends_with('/') {
        out.pop();
    }
    if url.path() == "/" && url.query().is_none() {
        out.pop();
    }
    Ok(out)
}

/// The URL of the metadata document of `resource` (RFC 9728: the well-known path
/// before the resource's path).
fn metadata_url(resource: &str) -> Option<String> {
    let url = url::Url::parse(resource).ok()?;
    Some(format!(
        "{}{WELL_KNOWN}{}",
        url.origin().ascii_serialization(),
        url.path().trim_end_matches('/')
    ))
}

/// The algorithms of `names`, each asymmetric.
fn algorithms(names: &[String]) -> Result<Vec<Algorithm>, SettingError> {
    if names.is_empty() {
        return Err(SettingError::NoAlgorithm);
    }
    names
        .iter()
        .map(|name| {
            let alg: Algorithm = name
                .parse()
                .map_err(|_| SettingError::UnknownAlgorithm(name.clone()))?;
            if matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
                return Err(SettingError::SharedSecret(name.clone()));
            }
            Ok(alg)
        })
        .collect()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Text safe inside a quoted header parameter.
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c.is_ascii() && !c.is_ascii_control() => c,
            _ => '?',
        })
        .collect()
}

/// The resource server.
pub(super) struct OAuth {
    /// This server's canonical URL: the audience.
    resource: String,
    /// Whether `[auth.oauth] resource` set it. If not, behind a trusted proxy, the
    /// resource is the public origin the proxy names with this path (see
    /// [`OAuth::resource_for`]).
    fixed: bool,
    /// The resource's path (`/mcp`).
    resource_path: String,
    /// The URL of the metadata document (`resource_metadata`).
    metadata_url: String,
    /// The paths the metadata is served at.
    metadata_paths: Vec<String>,
    metadata: Value,
    /// The scopes a client is told to ask for in a 401.
    challenge_scope: String,
    required: Vec<String>,
    verifier: Arc<Verifier>,
}

impl OAuth {
    /// `path` is `[server] path`, `url` where the server listens (the default
    /// resource), `declared` the items' scopes.
    pub fn new(
        s: &OAuthSettings,
        path: &str,
        url: &str,
        declared: &[&'static str],
    ) -> Result<OAuth, SettingError> {
        check(s)?;
        let resource = canonical(s.resource.as_deref().unwrap_or(url))?;
        if s.resource.is_none() {
            tracing::warn!(
                resource = %resource,
                "[auth.oauth] resource is not set: tokens must be for the URL this server listens on; set it to the URL clients use"
            );
        }
        let resource_url = http_url("resource", &resource)?;
        let resource_path = resource_url.path().trim_end_matches('/');
        let metadata_url = metadata_url(&resource).unwrap_or_default();
        let mut metadata_paths = vec![
            format!("{WELL_KNOWN}{}", path.trim_end_matches('/')),
            format!("{WELL_KNOWN}{resource_path}"),
            WELL_KNOWN.to_owned(),
        ];
        metadata_paths.sort();
        metadata_paths.dedup();
        let mut supported: Vec<String> = declared.iter().map(|s| (*s).to_owned()).collect();
        supported.extend(s.required_scopes.iter().cloned());
        supported.extend(s.scopes_supported.iter().cloned());
        supported.sort();
        supported.dedup();
        let servers = if s.authorization_servers.is_empty() {
            vec![s.issuer.clone()]
        } else {
            s.authorization_servers.clone()
        };
        let mut metadata = serde_json::json!({
            "resource": resource,
            "authorization_servers": servers,
            "scopes_supported": supported,
            "bearer_methods_supported": ["header"],
        });
        if let Some(name) = &s.resource_name {
            metadata["resource_name"] = Value::String(name.clone());
        }
        let challenge_scope = if s.required_scopes.is_empty() {
            supported.join(" ")
        } else {
            s.required_scopes.join(" ")
        };
        let verifier = Arc::new(Verifier::new(s)?);
        if let Mode::Jwt { keys, .. } = &verifier.mode {
            // Fetched once at start-up, without waiting: a server that is down now does
            // not stop this one from starting (its tokens wait for it).
            let keys = keys.clone();
            let http = verifier.http.clone();
            tokio::spawn(async move {
                if let Err(e) = keys.refresh(&http).await {
                    tracing::warn!(error = %e, "the authorization server's keys could not be fetched at start-up (tokens are refused until they are)");
                }
            });
        }
        tracing::info!(
            resource = %resource,
            metadata = %metadata_url,
            mode = if s.introspection_url.is_some() { "introspection" } else { "jwt" },
            "OAuth resource server"
        );
        Ok(OAuth {
            fixed: s.resource.is_some(),
            resource_path: resource_path.to_owned(),
            resource,
            metadata_url,
            metadata_paths,
            metadata,
            challenge_scope,
            required: s.required_scopes.clone(),
            verifier,
        })
    }

    pub fn required(&self) -> &[String] {
        &self.required
    }

    /// The resource a request is for: `[auth.oauth] resource` when set; else, for a
    /// request through a trusted proxy, the public origin it names with the endpoint's
    /// path (what the client connected to); else the URL the server listens on.
    fn resource_for(&self, public: Option<&PublicOrigin>) -> Cow<'_, str> {
        match public {
            Some(origin) if !self.fixed => {
                canonical(&format!("{}{}", origin.0, self.resource_path))
                    .map_or(Cow::Borrowed(self.resource.as_str()), Cow::Owned)
            }
            _ => Cow::Borrowed(self.resource.as_str()),
        }
    }

    /// The metadata URL of the request's resource.
    fn metadata_url_for(&self, public: Option<&PublicOrigin>) -> Cow<'_, str> {
        match self.resource_for(public) {
            Cow::Borrowed(_) => Cow::Borrowed(self.metadata_url.as_str()),
            Cow::Owned(resource) => {
                Cow::Owned(metadata_url(&resource).unwrap_or_else(|| self.metadata_url.clone()))
            }
        }
    }

    /// The token's identity, or why it is refused (`None`: it is not a token at all).
    pub async fn verify(
        &self,
        token: &str,
        public: Option<&PublicOrigin>,
    ) -> Result<Identity, Option<TokenError>> {
        self.verifier
            .verify(token, &self.resource_for(public))
            .await
    }

    /// `WWW-Authenticate` for a 401 (`why`: the token was invalid, not missing).
    pub fn challenge(&self, why: Option<&str>, public: Option<&PublicOrigin>) -> HeaderValue {
        let mut value = String::from("Bearer ");
        if let Some(why) = why {
            value.push_str(&format!(
                "error=\"invalid_token\", error_description=\"{}\", ",
                quoted(why)
            ));
        }
        value.push_str(&format!(
            "resource_metadata=\"{}\"",
            self.metadata_url_for(public)
        ));
        if !self.challenge_scope.is_empty() {
            value.push_str(&format!(", scope=\"{}\"", self.challenge_scope));
        }
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
    }

    /// `WWW-Authenticate` for a 403.
    pub fn insufficient(
        &self,
        needed: &[&str],
        why: &str,
        public: Option<&PublicOrigin>,
    ) -> HeaderValue {
        let value = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{}\", error_description=\"{}\"",
            needed.join(" "),
            self.metadata_url_for(public),
            quoted(why)
        );
        HeaderValue::from_str(&value)
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer error=\"insufficient_scope\""))
    }

    /// `router` with the metadata served (outside authentication: clients read it
    /// before they have a token).
    /// The document names the request's resource (see [`OAuth::resource_for`]).
    pub fn metadata_routes(&self, mut router: Router) -> Router {
        let body = Arc::new(self.metadata.clone());
        let public_path = (!self.fixed).then(|| Arc::<str>::from(self.resource_path.as_str()));
        for path in &self.metadata_paths {
            let (body, public_path) = (body.clone(), public_path.clone());
            router = router.route(
                path,
                axum::routing::get(move |public: Option<axum::Extension<PublicOrigin>>| {
                    let (body, public_path) = (body.clone(), public_path.clone());
                    async move {
                        let mut body = (*body).clone();
                        if let (Some(axum::Extension(origin)), Some(path)) = (public, public_path)
                            && let Ok(resource) = canonical(&format!("{}{path}", origin.0))
                        {
                            body["resource"] = Value::String(resource);
                        }
                        let mut response = json_response(StatusCode::OK, body);
                        response.headers_mut().insert(
                            axum::http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
                            HeaderValue::from_static("*"),
                        );
                        response
                    }
                }),
            );
        }
        router
    }
}

/// How tokens are checked.
enum Mode {
    Jwt {
        keys: Arc<Keys>,
        algorithms: Vec<Algorithm>,
    },
    Introspection {
        url: String,
        client: Option<(String, Option<String>)>,
        keep: Duration,
    },
}

/// A token found valid.
struct Kept {
    token: Box<str>,
    /// The resource it was found valid for.
    resource: Box<str>,
    identity: Identity,
    until: Instant,
}

struct Verifier {
    mode: Mode,
    http: reqwest::Client,
    issuer: String,
    claims: Vec<String>,
    leeway: u64,
    /// Tokens found valid, by [`Verifier::slot`]: the token (compared whole), the
    /// identity and until when.
    valid: Mutex<HashMap<u64, Kept>>,
    /// The hasher of the slots (random keys: the slots cannot be guessed).
    hasher: std::hash::RandomState,
}

impl Verifier {
    fn new(s: &OAuthSettings) -> Result<Verifier, SettingError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(s.timeout))
            .connect_timeout(Duration::from_secs_f64(s.timeout))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(SettingError::Client)?;
        let mode = match &s.introspection_url {
            Some(url) => Mode::Introspection {
                url: url.clone(),
                client: s.client_id.clone().map(|id| {
                    let secret = s.client_secret.as_ref().map(|x| x.expose().to_owned());
                    (id, secret)
                }),
                keep: Duration::from_secs(s.introspection_cache),
            },
            None => Mode::Jwt {
                keys: Arc::new(Keys::new(s)),
                algorithms: algorithms(&s.algorithms)?,
            },
        };
        Ok(Verifier {
            mode,
            http,
            issuer: s.issuer.clone(),
            claims: s.claims.clone(),
            leeway: s.leeway,
            valid: Mutex::new(HashMap::new()),
            hasher: std::hash::RandomState::new(),
        })
    }

    /// The token's identity if it is valid for `resource`.
    async fn verify(&self, token: &str, resource: &str) -> Result<Identity, Option<TokenError>> {
        let now = Instant::now();
        let slot = self.slot(token);
        if let Some(kept) = self.lock().get(&slot)
            && kept.until > now
            && *kept.token == *token
            && *kept.resource == *resource
        {
            return Ok(kept.identity.clone());
        }
        if !super::well_formed(token) {
            return Err(None);
        }
        let (identity, lifetime) = match &self.mode {
            Mode::Jwt { keys, algorithms } => {
                self.check_jwt(token, resource, keys, algorithms).await?
            }
            Mode::Introspection { url, client, keep } => {
                self.introspect(token, resource, url, client.as_ref(), *keep)
                    .await?
            }
        };
        if !lifetime.is_zero() {
            let mut valid = self.lock();
            if valid.len() >= MAX_CACHED {
                valid.retain(|_, kept| kept.until > now);
                if valid.len() >= MAX_CACHED {
                    valid.clear();
                }
            }
            valid.insert(
                slot,
                Kept {
                    token: token.into(),
                    resource: resource.into(),
                    identity: identity.clone(),
                    until: now + lifetime,
                },
            );
        }
        Ok(identity)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Kept>> {
        self.valid.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where a token is kept: a hash of its length and its last 64 bytes (a JWT's
    /// signature, an opaque token's randomness), so that a lookup hashes little of a
    /// long token. Two tokens in one slot are told apart by comparing them whole (the
    /// later replaces the earlier).
    fn slot(&self, token: &str) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let bytes = token.as_bytes();
        let mut hasher = self.hasher.build_hasher();
        hasher.write_usize(bytes.len());
        hasher.write(&bytes[bytes.len().saturating_sub(64)..]);
        hasher.finish()
    }

    /// A JWT's identity and how long it stays valid.
    async fn check_jwt(
        &self,
        token: &str,
        resource: &str,
        keys: &Keys,
        accepted: &[Algorithm],
    ) -> Result<(Identity, Duration), TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::NotJwt)?;
        if !accepted.contains(&header.alg) {
            return Err(TokenError::Algorithm(header.alg));
        }
        let key = keys
            .key(&self.http, header.kid.as_deref(), header.alg)
            .await?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[resource]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| self.jwt_error(e, token, resource))?;
        let claims = data.claims;
        let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        let lifetime = Duration::from_secs(exp.saturating_sub(now_secs()));
        Ok((self.identity(&claims)?, lifetime))
    }

    fn jwt_error(&self, e: jsonwebtoken::errors::Error, token: &str, resource: &str) -> TokenError {
        use jsonwebtoken::errors::ErrorKind as K;
        let claim = |name: &str| {
            jsonwebtoken::dangerous::insecure_decode::<Map<String, Value>>(token)
                .ok()
                .and_then(|d| d.claims.get(name).cloned())
                .map_or_else(|| "nothing".to_owned(), |v| v.to_string())
        };
        match e.kind() {
            K::ExpiredSignature => TokenError::Expired,
            K::ImmatureSignature => TokenError::NotYet,
            K::InvalidIssuer => TokenError::Issuer {
                found: claim("iss"),
                expected: self.issuer.clone(),
            },
            K::InvalidAudience => TokenError::Audience {
                found: claim("aud"),
                resource: resource.to_owned(),
            },
            K::InvalidSignature => TokenError::Signature,
            K::MissingRequiredClaim(name) => TokenError::MissingClaim(name.clone()),
            K::InvalidAlgorithm => TokenError::KeyAlgorithm,
            other => TokenError::Other(other.clone()),
        }
    }

    /// The identity of verified claims: `sub` (else `client_id`), `scope` (or `scp`) and
    /// the claims `[auth.oauth] claims` keeps.
    fn identity(&self, claims: &Map<String, Value>) -> Result<Identity, TokenError> {
        let subject = ["sub", "client_id", "username"]
            .iter()
            .find_map(|k| claims.get(*k).and_then(Value::as_str))
            .ok_or(TokenError::NoSubject)?;
        let scopes = match claims.get("scope").or_else(|| claims.get("scp")) {
            Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let kept = self
            .claims
            .iter()
            .filter_map(|k| claims.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        Ok(Identity::of(
            subject.to_owned(),
            Some(scopes),
            kept,
            IdentitySource::OAuth,
        ))
    }

    /// Token introspection (RFC 7662): the identity and how long to keep it.
    async fn introspect(
        &self,
        token: &str,
        resource: &str,
        url: &str,
        client: Option<&(String, Option<String>)>,
        keep: Duration,
    ) -> Result<(Identity, Duration), TokenError> {
        let body = format!(
            "token={}&token_type_hint=access_token",
            url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
        );
        let mut request = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body);
        if let Some((id, secret)) = client {
            request = request.basic_auth(id, secret.as_deref());
        }
        let answer = fetch_json(request, url)
            .await
            .map_err(TokenError::Introspection)?;
        let Value::Object(claims) = answer else {
            return Err(TokenError::NotObject(url.to_owned()));
        };
        if claims.get("active") != Some(&Value::Bool(true)) {
            return Err(TokenError::Inactive);
        }
        let now = now_secs();
        let exp = claims.get("exp").and_then(Value::as_u64);
        if let Some(exp) = exp
            && exp + self.leeway < now
        {
            return Err(TokenError::Expired);
        }
        if let Some(iss) = claims.get("iss").and_then(Value::as_str)
            && iss != self.issuer
        {
            return Err(TokenError::Issuer {
                found: Value::from(iss).to_string(),
                expected: self.issuer.clone(),
            });
        }
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !audiences.is_empty() && !audiences.contains(&resource) {
            return Err(TokenError::Audience {
                found: audiences.join(", "),
                resource: resource.to_owned(),
            });
        }
        let mut lifetime = keep;
        if let Some(exp) = exp {
            lifetime = lifetime.min(Duration::from_secs(exp.saturating_sub(now)));
        }
        Ok((self.identity(&claims)?, lifetime))
    }
}

/// The JSON an authorization server answers `request` with (at most [`MAX_ANSWER`]
/// bytes), or what went wrong.
async fn fetch_json(request: reqwest::RequestBuilder, url: &str) -> Result<Value, FetchError> {
    let failed = |e: reqwest::Error| FetchError::of(e, url);
    let mut response = request.send().await.map_err(failed)?;
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status,
        });
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_ANSWER {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
            });
        }
    }
    serde_json::from_slice(&bytes).map_err(|_| FetchError::NotJson {
        url: url.to_owned(),
    })
}

/// A key of the JWKS.
struct Key {
    kid: Option<String>,
    /// The key's own `alg`, when it names one.
    alg: Option<Algorithm>,
    key: DecodingKey,
}

/// The authorization server's keys.
struct Keys {
    /// Where they are, when set; else found from the issuer's metadata.
    configured: Option<String>,
    issuer: String,
    ttl: Duration,
    /// After a failed fetch, no other for this long (`jwks_retry`; requests that need
    /// the keys fail at once meanwhile).
    retry: Duration,
    set: RwLock<Arc<KeySet>>,
    fetching: tokio::sync::Mutex<Fetching>,
}

#[derive(Default)]
struct KeySet {
    keys: Vec<Key>,
    fetched: Option<Instant>,
}

impl KeySet {
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
        let family = alg.family();
        self.keys
            .iter()
            .filter(|k| k.key.family() == family && k.alg.is_none_or(|a| a == alg))
            .find(|k| kid.is_none() || k.kid.as_deref() == kid)
            .map(|k| k.key.clone())
    }
}

#[derive(Default)]
struct Fetching {
    /// The JWKS URL, once found.
    url: Option<String>,
    last: Option<Instant>,
    failed: Option<Arc<KeysError>>,
}

impl Keys {
    fn new(s: &OAuthSettings) -> Keys {
        Keys {
            configured: s.jwks_url.clone(),
            issuer: s.issuer.clone(),
            ttl: Duration::from_secs(s.jwks_ttl.max(1)),
            retry: Duration::from_secs_f64(s.jwks_retry),
            set: RwLock::new(Arc::default()),
            fetching: tokio::sync::Mutex::new(Fetching::default()),
        }
    }

    fn current(&self) -> Arc<KeySet> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The key for a token's `kid` and `alg`: from the keys kept while they are fresh,
    /// else fetched again (at most once a second; right away after an unknown `kid`).
    async fn key(
        &self,
        http: &reqwest::Client,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, KeyError> {
        let set = self.current();
        let fresh = set.fetched.is_some_and(|t| t.elapsed() < self.ttl);
        if fresh && let Some(key) = set.find(kid, alg) {
            return Ok(key);
        }
        let arrived = Instant::now();
        let mut fetching = self.fetching.lock().await;
        // Fetched by another request while this one waited: that answer will do.
        let fetched_since = fetching.last.is_some_and(|t| t >= arrived);
        if !fetched_since {
            if let (Some(last), Some(why)) = (fetching.last, &fetching.failed)
                && last.elapsed() < self.retry
            {
                return self
                    .stale(kid, alg)
                    .ok_or_else(|| KeyError::Unfetched(why.clone()));
            }
            if let Some(last) = fetching.last {
                let wait = MIN_REFETCH.saturating_sub(last.elapsed());
                tokio::time::sleep(wait).await;
            }
            let result = self.fetch(http, &mut fetching).await;
            fetching.last = Some(Instant::now());
            match result {
                Ok(set) => {
                    fetching.failed = None;
                    *self.set.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the authorization server's keys could not be fetched");
                    fetching.failed = Some(Arc::new(e));
                }
            }
        }
        if let Some(key) = self.stale(kid, alg) {
            return Ok(key);
        }
        Err(match (&fetching.failed, kid) {
            (Some(why), _) => KeyError::Unfetched(why.clone()),
            (None, Some(kid)) => KeyError::NoKid {
                kid: kid.to_owned(),
                alg,
            },
            (None, None) => KeyError::NoKey(alg),
        })
    }

    /// A key from the keys kept, fresh or not.
    fn stale(&self, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
        self.current().find(kid, alg)
    }

    /// Fetches the keys now (at start-up).
    async fn refresh(&self, http: &reqwest::Client) -> Result<(), Arc<KeysError>> {
        let mut fetching = self.fetching.lock().await;
        let result = self.fetch(http, &mut fetching).await;
        fetching.last = Some(Instant::now());
        match result {
            Ok(set) => {
                fetching.failed = None;
                *self.set.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
                Ok(())
            }
            Err(e) => {
                let e = Arc::new(e);
                fetching.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    async fn fetch(
        &self,
        http: &reqwest::Client,
        fetching: &mut Fetching,
    ) -> Result<KeySet, KeysError> {
        let url = match (&self.configured, &fetching.url) {
            (Some(url), _) | (None, Some(url)) => url.clone(),
            (None, None) => {
                let url = self.discover(http).await?;
                fetching.url = Some(url.clone());
                url
            }
        };
        let answer = fetch_json(http.get(&url).header("accept", "application/json"), &url).await?;
        let Some(Value::Array(listed)) = answer.get("keys") else {
            return Err(KeysError::NotJwks(url));
        };
        let mut keys = Vec::new();
        for value in listed {
            if value.get("use").and_then(Value::as_str) == Some("enc") {
                continue;
            }
            let Ok(jwk) = serde_json::from_value::<Jwk>(value.clone()) else {
                tracing::debug!("a key of the JWKS could not be read; it is skipped");
                continue;
            };
            let Ok(key) = DecodingKey::from_jwk(&jwk) else {
                continue;
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok());
            keys.push(Key {
                kid: jwk.common.key_id.clone(),
                alg,
                key,
            });
        }
        if keys.is_empty() && !listed.is_empty() {
            return Err(KeysError::NoUsableKey(url));
        }
        tracing::debug!(url = %url, keys = keys.len(), "fetched the authorization server's keys");
        Ok(KeySet {
            keys,
            fetched: Some(Instant::now()),
        })
    }

    /// The `jwks_uri` of the issuer's metadata: RFC 8414, then OpenID discovery.
    async fn discover(&self, http: &reqwest::Client) -> Result<String, KeysError> {
        // Checked at start-up ([`check`]).
        let issuer = http_url("issuer", &self.issuer).map_err(KeysError::Issuer)?;
        let origin = issuer.origin().ascii_serialization();
        let path = issuer.path().trim_end_matches('/');
        let candidates = [
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{origin}{path}/.well-known/openid-configuration"),
        ];
        let mut problems = Vec::new();
        for url in &candidates {
            match fetch_json(http.get(url).header("accept", "application/json"), url).await {
                Ok(metadata) => {
                    let named = metadata.get("issuer").and_then(Value::as_str);
                    if named.is_some_and(|n| n != self.issuer) {
                        return Err(KeysError::OtherIssuer {
                            url: url.clone(),
                            named: named.unwrap_or_default().to_owned(),
                            issuer: self.issuer.clone(),
                        });
                    }
                    return metadata
                        .get("jwks_uri")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| KeysError::NoJwksUri(url.clone()));
                }
                Err(e) => problems.push(e),
            }
        }
        Err(KeysError::NoMetadata(problems))
    }
}

/// Why a token is refused: what the client reads in the 401's `error_description`, and
/// the log.
#[derive(Debug, thiserror::Error)]
pub(super) enum TokenError {
    #[error("the token is not a JWT (or not one this server can read)")]
    NotJwt,

    #[error("tokens signed with {0:?} are not accepted ([auth.oauth] algorithms)")]
    Algorithm(Algorithm),

    #[error(transparent)]
    Key(#[from] KeyError),

    #[error("the token has expired")]
    Expired,

    #[error("the token is not valid yet (its `nbf` is in the future)")]
    NotYet,

    /// `found`: the claim as JSON, or `nothing`.
    #[error("the token was issued by {found}, not by `{expected}` ([auth.oauth] issuer)")]
    Issuer { found: String, expected: String },

    #[error(
        "the token is for {found}, not for this server (`{resource}`): ask for a token with resource={resource}"
    )]
    Audience { found: String, resource: String },

    #[error("the token's signature does not verify")]
    Signature,

    #[error("the token has no `{0}` claim")]
    MissingClaim(String),

    #[error("the token's algorithm does not match its key")]
    KeyAlgorithm,

    #[error("the token is not valid ({0:?})")]
    Other(jsonwebtoken::errors::ErrorKind),

    #[error("the token names no subject (no `sub` claim)")]
    NoSubject,

    #[error("the authorization server could not be asked about the token: {0}")]
    Introspection(FetchError),

    #[error("the introspection endpoint `{0}` did not answer a JSON object")]
    NotObject(String),

    #[error(
        "the authorization server says the token is not active (revoked, expired, or not one of its own)"
    )]
    Inactive,
}

/// Why no key checks a token's signature.
#[derive(Debug, thiserror::Error)]
pub(super) enum KeyError {
    #[error("the authorization server's keys could not be fetched: {0}")]
    Unfetched(Arc<KeysError>),

    #[error("no key of the authorization server has the id `{kid}` (for {alg:?})")]
    NoKid { kid: String, alg: Algorithm },

    #[error("no key of the authorization server is for {0:?}")]
    NoKey(Algorithm),
}

/// Why the authorization server's keys could not be fetched.
#[derive(Debug, thiserror::Error)]
pub(super) enum KeysError {
    #[error(transparent)]
    Fetch(#[from] FetchError),

    #[error("[auth.oauth] {0}")]
    Issuer(SettingError),

    #[error("`{0}` is not a JWKS (no `keys` list)")]
    NotJwks(String),

    #[error("`{0}` has no key this server can use")]
    NoUsableKey(String),

    #[error("the metadata at `{url}` is for the issuer \"{named}\", not `{issuer}`")]
    OtherIssuer {
        url: String,
        named: String,
        issuer: String,
    },

    #[error("the metadata at `{0}` has no `jwks_uri`: set [auth.oauth] jwks_url")]
    NoJwksUri(String),

    #[error(
        "the issuer's metadata could not be read ({}); set [auth.oauth] jwks_url",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    NoMetadata(Vec<FetchError>),
}

/// Why the authorization server's answer could not be had.
#[derive(Debug, thiserror::Error)]
pub(super) enum FetchError {
    #[error("`{url}` did not answer in time ([auth.oauth] timeout)")]
    Timeout { url: String },

    #[error("`{url}` could not be reached")]
    Unreachable { url: String },

    #[error("`{url}`: {source}")]
    Http { url: String, source: reqwest::Error },

    #[error("`{url}` answered {status}")]
    Status {
        url: String,
        status: reqwest::StatusCode,
    },

    #[error("`{url}` answered more than {MAX_ANSWER} bytes")]
    TooLarge { url: String },

    #[error("`{url}` did not answer JSON")]
    NotJson { url: String },
}

impl FetchError {
    fn of(e: reqwest::Error, url: &str) -> FetchError {
        let url = url.to_owned();
        if e.is_timeout() {
            FetchError::Timeout { url }
        } else if e.is_connect() {
            FetchError::Unreachable { url }
        } else {
            FetchError::Http { url, source: e }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_urls_are_canonical() {
        assert_eq!(
            canonical("HTTPS://MCP.Example.com/mcp/").expect("canonical"),
            "https://mcp.example.com/mcp"
        );
        assert_eq!(
            canonical("https://mcp.example.com").expect("canonical"),
            "https://mcp.example.com"
        );
        assert_eq!(
            canonical("http://127.0.0.1:8000/mcp").expect("canonical"),
            "http://127.0.0.1:8000/mcp"
        );
        assert!(canonical("https://mcp.example.com/mcp#x").is_err());
        assert!(canonical("ftp://mcp.example.com/").is_err());
    }

    #[test]
    fn a_bad_resource_is_named_once() {
        let why = canonical("ftp://mcp.example.com/").map_err(|e| e.to_string());
        assert_eq!(
            why,
            Err("resource: `ftp://mcp.example.com/` is not an http(s) URL".to_owned())
        );
    }

    #[test]
    fn shared_secret_algorithms_are_refused() {
        assert!(algorithms(&["HS256".into()]).is_err());
        assert!(algorithms(&["none".into()]).is_err());
        assert!(algorithms(&[]).is_err());
        assert_eq!(
            algorithms(&["ES256".into()]).expect("ES256"),
            vec![Algorithm::ES256]
        );
    }

    #[test]
    fn header_text_is_quoted_safely() {
        assert_eq!(quoted("a \"b\" \\ c\né"), "a 'b' ' c??");
    }
}
