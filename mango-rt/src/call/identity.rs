//! Who is calling: one shape for every way a caller is known (an OAuth access token, a
//! static token of `[auth] tokens`, the local user over stdio).

use std::sync::Arc;

use serde_json::{Map, Value};

/// How a caller's [`Identity`] was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentitySource {
    /// An OAuth access token, validated as a JWT or by introspection (`[auth.oauth]`).
    OAuth,
    /// A static bearer token of `[auth] tokens`: the subject is the token's name.
    Token,
    /// The local user over stdio (`[auth] stdio = "trust"`).
    Local,
    /// Made by hand: in a test (`TestServer::as_identity`) or by a middleware.
    Custom,
    /// A user logged in to the admin pages (`[admin]`).
    Admin,
}

impl std::fmt::Display for IdentitySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IdentitySource::OAuth => "oauth",
            IdentitySource::Token => "token",
            IdentitySource::Local => "local",
            IdentitySource::Custom => "custom",
            IdentitySource::Admin => "admin",
        })
    }
}

/// Who is calling, as authentication found it: a subject, the scopes granted, and the
/// claims `[auth.oauth] claims` chose from the access token.
///
/// ```
/// # use mango_rt::Identity;
/// let alice = Identity::new("alice").with_scopes(["notes:read"]);
/// assert!(alice.has_scope("notes:read"));
/// assert!(!alice.has_scope("notes:write"));
/// assert!(Identity::new("root").has_scope("anything")); // no scope list: every scope
/// ```
///
/// Cheap to clone (shared).
#[derive(Clone)]
pub struct Identity(Arc<Inner>);

struct Inner {
    subject: String,
    /// `None`: every scope (the local user, a static token without a scope list).
    scopes: Option<Vec<String>>,
    claims: Map<String, Value>,
    source: IdentitySource,
}

impl Identity {
    /// A caller named `subject` with every scope (narrow it with
    /// [`with_scopes`](Self::with_scopes)).
    pub fn new(subject: impl Into<String>) -> Identity {
        Identity::of(subject.into(), None, Map::new(), IdentitySource::Custom)
    }

    pub(crate) fn of(
        subject: String,
        scopes: Option<Vec<String>>,
        claims: Map<String, Value>,
        source: IdentitySource,
    ) -> Identity {
        Identity(Arc::new(Inner {
            subject,
            scopes,
            claims,
            source,
        }))
    }

    /// A user logged in to the admin pages, with its scopes (`None`: every scope).
    pub(crate) fn admin(user: &str, scopes: Option<Vec<String>>) -> Identity {
        Identity::of(user.to_owned(), scopes, Map::new(), IdentitySource::Admin)
    }

    /// The local user over stdio: every scope.
    pub(crate) fn local() -> Identity {
        Identity::of("local".into(), None, Map::new(), IdentitySource::Local)
    }

    fn edit(self, change: impl FnOnce(&mut Inner)) -> Identity {
        let mut inner = Arc::try_unwrap(self.0).unwrap_or_else(|shared| Inner {
            subject: shared.subject.clone(),
            scopes: shared.scopes.clone(),
            claims: shared.claims.clone(),
            source: shared.source,
        });
        change(&mut inner);
        Identity(Arc::new(inner))
    }

    /// The same caller, granted exactly `scopes`.
    pub fn with_scopes<S: Into<String>>(self, scopes: impl IntoIterator<Item = S>) -> Identity {
        let scopes = scopes.into_iter().map(Into::into).collect();
        self.edit(|inner| inner.scopes = Some(scopes))
    }

    /// The same caller, with one more claim.
    pub fn with_claim(self, name: impl Into<String>, value: impl Into<Value>) -> Identity {
        let (name, value) = (name.into(), value.into());
        self.edit(|inner| {
            inner.claims.insert(name, value);
        })
    }

    /// Who: the token's `sub` (OAuth), the token's name (`[auth] tokens`), `local`.
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The scopes granted (empty when the caller has every scope: see
    /// [`has_every_scope`](Self::has_every_scope)).
    pub fn scopes(&self) -> &[String] {
        self.0.scopes.as_deref().unwrap_or(&[])
    }

    /// Whether the caller is not limited to a list of scopes (the local user over
    /// stdio, a static token without `[auth] token_scopes`).
    pub fn has_every_scope(&self) -> bool {
        self.0.scopes.is_none()
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        match &self.0.scopes {
            None => true,
            Some(granted) => granted.iter().any(|s| s == scope),
        }
    }

    /// The scopes of `needed` the caller lacks, in their order.
    pub fn missing<'a>(&self, needed: &[&'a str]) -> Vec<&'a str> {
        needed
            .iter()
            .copied()
            .filter(|s| !self.has_scope(s))
            .collect()
    }

    /// A claim of the access token that `[auth.oauth] claims` kept (`email`, …).
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.0.claims.get(name)
    }

    /// Every claim kept.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.0.claims
    }

    pub fn source(&self) -> IdentitySource {
        self.0.source
    }

    /// A key that no other caller has (the source and the subject): what rate limits
    /// and round states are bound to.
    pub(crate) fn key(&self) -> String {
        format!("{}:{}", self.0.source, self.0.subject)
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.subject)
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("subject", &self.0.subject)
            .field("scopes", &self.0.scopes)
            .field("claims", &self.0.claims.keys().collect::<Vec<_>>())
            .field("source", &self.0.source)
            .finish()
    }
}
