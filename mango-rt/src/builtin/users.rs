//! Users, groups and API tokens in the project's database (`[auth] users = true`),
//! Django's `contrib.auth` for MCP: mango's own tables (`mango_users`, `mango_groups`,
//! `mango_user_groups`, `mango_tokens`), made by `migrate`.
//!
//! A user has a name, an argon2 password hash, flags (active, staff, superuser) and
//! scopes, and belongs to groups that grant scopes too. A token is a user's: made once
//! (`mango_<prefix>_<secret>`), kept only as its SHA-256, found by its prefix, with an
//! expiry, a last-used time and a revocation. Over HTTP a token is its user's
//! [`Identity`], with the user's scopes (every scope for a superuser) narrowed by the
//! token's. Each process keeps a token's lookup for `[auth] token_cache` seconds: one
//! SHA-256 per request, not argon2, and a revoked token stops working on every replica
//! within that bound.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::call::{Identity, IdentitySource};
use crate::db::{Database, QueryError};

diesel::table! {
    mango_users (id) {
        id -> BigInt,
        name -> Text,
        email -> Nullable<Text>,
        active -> Bool,
        staff -> Bool,
        superuser -> Bool,
        password -> Text,
        scopes -> Text,
        created_ms -> BigInt,
        last_login_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    mango_groups (id) {
        id -> BigInt,
        name -> Text,
        scopes -> Text,
    }
}

diesel::table! {
    mango_user_groups (user_id, group_id) {
        user_id -> BigInt,
        group_id -> BigInt,
    }
}

diesel::table! {
    mango_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        name -> Text,
        prefix -> Text,
        hash -> Text,
        scopes -> Nullable<Text>,
        created_ms -> BigInt,
        expires_ms -> Nullable<BigInt>,
        last_used_ms -> Nullable<BigInt>,
        revoked_ms -> Nullable<BigInt>,
    }
}

diesel::joinable!(mango_tokens -> mango_users (user_id));
diesel::joinable!(mango_user_groups -> mango_users (user_id));
diesel::joinable!(mango_user_groups -> mango_groups (group_id));
diesel::allow_tables_to_appear_in_same_query!(
    mango_users,
    mango_groups,
    mango_user_groups,
    mango_tokens
);

/// mango's own migration of the users' tables, applied with the apps' when `[auth]
/// users` is on.
#[cfg(feature = "sqlite")]
pub(crate) static MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/sqlite-users");
#[cfg(feature = "postgres")]
pub(crate) static MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/postgres-users");

/// What every user token starts with.
pub(crate) const TOKEN_START: &str = "mango_";
/// The shortest password accepted.
pub(crate) const MIN_PASSWORD: usize = 8;
/// The longest user name.
pub(crate) const MAX_NAME: usize = 150;
/// Token lookups a process keeps, at most.
const CACHE_ENTRIES: usize = 10_000;

/// Why a user, group or token could not be made, changed or used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UsersError {
    #[error("a user name is 1 to {MAX_NAME} letters, digits and @ . + - _; `{0}` is not")]
    BadName(String),

    #[error("the password is shorter than {MIN_PASSWORD} characters: choose a longer one")]
    ShortPassword,

    #[error("there is a user `{0}` already")]
    Taken(String),

    #[error("there is no user `{0}`")]
    NoUser(String),

    #[error(
        "no token starts with `{0}` (a token is named by the part after `mango_`, as `users` lists it)"
    )]
    NoToken(String),

    #[error("`{0}` is not a scope (letters, digits and : . _ - /, no spaces)")]
    BadScope(String),

    #[error("the password could not be hashed: {0}")]
    Hash(String),

    #[error("no system randomness to make a token: {0}")]
    NoRandomness(getrandom::Error),

    #[error(transparent)]
    Query(#[from] QueryError),
}

impl From<diesel::result::Error> for UsersError {
    fn from(e: diesel::result::Error) -> Self {
        UsersError::Query(e.into())
    }
}

/// Why a user token was refused: what its holder is told (never the token).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub(crate) enum TokenRefusal {
    #[error("the bearer token is not valid")]
    Unknown,

    #[error("the token `{prefix}` expired")]
    Expired { prefix: String },

    #[error("the token `{prefix}` was revoked")]
    Revoked { prefix: String },

    #[error("the user of the token `{prefix}` is not active")]
    Inactive { prefix: String },

    #[error("the tokens could not be looked up: {0}")]
    Unavailable(String),
}

pub(crate) fn now_ms() -> i64 {
    crate::builtin::audit::now_ms()
}

/// Whether `name` may be a user's or a group's name (Django's rule).
pub(crate) fn name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
}

/// Scopes as stored (space-separated), each checked.
pub(crate) fn scopes_text(scopes: &[String]) -> Result<String, UsersError> {
    for s in scopes {
        if s.is_empty()
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ":._-/".contains(c))
        {
            return Err(UsersError::BadScope(s.clone()));
        }
    }
    let mut all: Vec<&str> = scopes.iter().map(String::as_str).collect();
    all.sort_unstable();
    all.dedup();
    Ok(all.join(" "))
}

fn split(scopes: &str) -> impl Iterator<Item = String> + '_ {
    scopes.split_whitespace().map(str::to_owned)
}

/// The hex SHA-256 of a token: what is stored and looked up.
pub(crate) fn token_hash(token: &str) -> String {
    hex(&sha256(token))
}

/// The SHA-256 of `text`.
fn sha256(text: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes()).into()
}

/// `bytes` in lowercase hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// A new token: (the token, shown once; its prefix, kept and shown; its hash, kept).
pub(crate) fn new_token() -> Result<(String, String, String), UsersError> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(UsersError::NoRandomness)?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let (prefix, secret) = hex.split_at(8);
    let token = format!("{TOKEN_START}{prefix}_{secret}");
    let hash = token_hash(&token);
    Ok((token, prefix.to_owned(), hash))
}

async fn hash(password: &str) -> Result<String, UsersError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(UsersError::ShortPassword);
    }
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || super::password::hash_password(&password))
        .await
        .map_err(|e| UsersError::Hash(e.to_string()))?
        .map_err(|e| UsersError::Hash(e.to_string()))
}

/// A new user, as `createsuperuser` and the admin make one.
pub(crate) struct NewUser<'a> {
    pub name: &'a str,
    pub email: Option<&'a str>,
    /// `None`: the user cannot log in with a password (tokens only).
    pub password: Option<&'a str>,
    pub staff: bool,
    pub superuser: bool,
    pub scopes: &'a [String],
}

/// Makes a user; its id.
pub(crate) async fn create_user(db: &Database, new: NewUser<'_>) -> Result<i64, UsersError> {
    if !name_ok(new.name) {
        return Err(UsersError::BadName(new.name.to_owned()));
    }
    let password = match new.password {
        Some(p) => hash(p).await?,
        // Not a PHC string: no password matches it.
        None => "!".to_owned(),
    };
    let scopes = scopes_text(new.scopes)?;
    let _turn = db.write_turn().await.map_err(QueryError::from)?;
    let mut conn = db.get().await.map_err(QueryError::from)?;
    let made = diesel::insert_into(mango_users::table)
        .values((
            mango_users::name.eq(new.name),
            mango_users::email.eq(new.email),
            mango_users::active.eq(true),
            mango_users::staff.eq(new.staff || new.superuser),
            mango_users::superuser.eq(new.superuser),
            mango_users::password.eq(password),
            mango_users::scopes.eq(scopes),
            mango_users::created_ms.eq(now_ms()),
        ))
        .returning(mango_users::id)
        .get_result(&mut conn)
        .await;
    match made {
        Ok(id) => Ok(id),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Err(UsersError::Taken(new.name.to_owned())),
        Err(e) => Err(e.into()),
    }
}

async fn user_id(conn: &mut crate::db::Db, name: &str) -> Result<i64, UsersError> {
    mango_users::table
        .filter(mango_users::name.eq(name))
        .select(mango_users::id)
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| UsersError::NoUser(name.to_owned()))
}

/// Sets a user's password.
pub(crate) async fn set_password(
    db: &Database,
    name: &str,
    password: &str,
) -> Result<(), UsersError> {
    let hashed = hash(password).await?;
    let _turn = db.write_turn().await.map_err(QueryError::from)?;
    let mut conn = db.get().await.map_err(QueryError::from)?;
    let changed = diesel::update(mango_users::table.filter(mango_users::name.eq(name)))
        .set(mango_users::password.eq(hashed))
        .execute(&mut conn)
        .await?;
    if changed == 0 {
        return Err(UsersError::NoUser(name.to_owned()));
    }
    Ok(())
}

/// Changes a user's flags and scopes (each `None` is left as it is).
pub(crate) struct UserChange {
    pub active: Option<bool>,
    pub staff: Option<bool>,
    pub superuser: Option<bool>,
    pub scopes: Option<Vec<String>>,
}

pub(crate) async fn change_user(
    db: &Database,
    name: &str,
    change: UserChange,
) -> Result<(), UsersError> {
    let scopes = change.scopes.as_deref().map(scopes_text).transpose()?;
    let _turn = db.write_turn().await.map_err(QueryError::from)?;
    let mut conn = db.get().await.map_err(QueryError::from)?;
    let id = user_id(&mut conn, name).await?;
    let target = mango_users::table.find(id);
    if let Some(active) = change.active {
        diesel::update(target)
            .set(mango_users::active.eq(active))
            .execute(&mut conn)
            .await?;
    }
    if let Some(staff) = change.staff {
        diesel::update(target)
            .set(mango_users::staff.eq(staff))
            .execute(&mut conn)
            .await?;
    }
    if let Some(superuser) = change.superuser {
        diesel::update(target)
            .set(mango_users::superuser.eq(superuser))
            .execute(&mut conn)
            .await?;
    }
    if let Some(scopes) = scopes {
        diesel::update(target)
            .set(mango_users::scopes.eq(scopes))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}

/// Deletes a user, and with it its tokens and its groups' memberships.
pub(crate) async fn delete_user(db: &Database, name: &str) -> Result<(), UsersError> {
    let _turn = db.write_turn().await.map_err(QueryError::from)?;
    let mut conn = db.get().await.map_err(QueryError::from)?;
    let id = user_id(&mut conn, name).await?;
    // Not left to ON DELETE CASCADE: SQLite applies it only with foreign keys on.
    diesel::delete(mango_tokens::table.filter(mango_tokens::user_id.eq(id)))
        .execute(&mut conn)
        .await?;
    diesel::delete(mango_user_groups::table.filter(mango_user_groups::user_id.eq(id)))
        .execute(&mut conn)
        .await?;
    diesel::delete(mango_users::table.find(id))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Makes a group (or changes its scopes) and sets its members.
pub(crate) async fn set_group(
    db: &Database,
    name: &str,
    scopes: &[String],
    members: Option<&[String]>,
) -> Result<(), UsersError> {
    if !name_ok(name) {
        return Err(UsersError::BadName(name.to_owned()));
    }
    let scopes = scopes_text(scopes)?;
    let _turn = db.write_turn().await.map_err(QueryError::from)?;
    let mut conn = db.get().await.map_err(QueryError::from)?;
    let found: Option<i64> = mango_groups::table
        .filter(mango_groups::name.eq(name))
        .select(mango_groups::id)
        .first(&mut conn)
        .await
        .optional()?;
    let id = match found {
        Some(id) => {
            diesel::update(mango_groups::table.find(id))
                .set(mango_groups::scopes.eq(&scopes))
                .execute(&mut conn)
                .await?;
            id
        }
        None => {
            diesel::insert_into(mango_groups::table)
                .values((
                    mango_groups::name.eq(name),
                    mango_groups::scopes.eq(&scopes),
                ))
                .returning(mango_groups::id)
                .get_result(&mut conn)
                .await?
        }
    };
    if let Some(members) = members {
        let mut ids = Vec::new();
        for member in members {
            ids.push(user_id(&mut conn, member).await?);
        }
        diesel::delete(mango_user_groups::table.filter(mango_user_groups::group_id.eq(id)))
            .execute(&mut conn)
            .await?;
        for user in ids {
            diesel::insert_into(mango_user_groups::table)
                .values((
                    mango_user_groups::user_id.eq(user),
                    mango_user_groups::group_id.eq(id),
                ))
                .execute(&mut conn)
                .await?;
        }
    }
    Ok(())
}

/// A user, as `users` and the admin list them.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct UserInfo {
    pub name: String,
    pub email: Option<String>,
    pub active: bool,
    pub staff: bool,
    pub superuser: bool,
    pub scopes: Vec<String>,
    pub groups: Vec<String>,
    pub created_ms: i64,
    pub last_login_ms: Option<i64>,
    pub tokens: Vec<TokenInfo>,
}

/// A token, as listed: never the token, its prefix.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct TokenInfo {
    pub prefix: String,
    pub name: String,
    /// `None`: the user's scopes.
    pub scopes: Option<Vec<String>>,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

type UserRow = (
    i64,
    String,
    Option<String>,
    bool,
    bool,
    bool,
    String,
    i64,
    Option<i64>,
);

type TokenRow = (
    i64,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// Every user (or the one named), with its groups and tokens.
pub(crate) async fn users(db: &Database, only: Option<&str>) -> Result<Vec<UserInfo>, UsersError> {
    let mut conn = db.get().await.map_err(QueryError::from)?;
    let mut query = mango_users::table.into_boxed();
    if let Some(name) = only {
        query = query.filter(mango_users::name.eq(name.to_owned()));
    }
    let rows: Vec<UserRow> = query
        .order(mango_users::name)
        .select((
            mango_users::id,
            mango_users::name,
            mango_users::email,
            mango_users::active,
            mango_users::staff,
            mango_users::superuser,
            mango_users::scopes,
            mango_users::created_ms,
            mango_users::last_login_ms,
        ))
        .load(&mut conn)
        .await?;
    let memberships: Vec<(i64, String)> = mango_user_groups::table
        .inner_join(mango_groups::table)
        .select((mango_user_groups::user_id, mango_groups::name))
        .order(mango_groups::name)
        .load(&mut conn)
        .await?;
    let tokens: Vec<TokenRow> = mango_tokens::table
        .order(mango_tokens::id)
        .select((
            mango_tokens::user_id,
            mango_tokens::prefix,
            mango_tokens::name,
            mango_tokens::scopes,
            mango_tokens::created_ms,
            mango_tokens::expires_ms,
            mango_tokens::last_used_ms,
            mango_tokens::revoked_ms,
        ))
        .load(&mut conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, name, email, active, staff, superuser, scopes, created_ms, last_login_ms)| {
                UserInfo {
                    name,
                    email,
                    active,
                    staff,
                    superuser,
                    scopes: split(&scopes).collect(),
                    groups: memberships
                        .iter()
                        .filter(|(u, _)| *u == id)
                        .map(|(_, g)| g.clone())
                        .collect(),
                    created_ms,
                    last_login_ms,
                    tokens: tokens
                        .iter()
                        .filter(|t| t.0 == id)
                        .map(|t| TokenInfo {
                            prefix: t.1.clone(),
                            name: t.2.clone(),
                            scopes: t.3.as_deref().map(|s| split(s).collect()),
                            created_ms: t.4,
                            expires_ms: t.5,
                            last_used_ms: t.6,
                            revoked_ms: t.7,
                        })
                        .collect(),
                }
            },
        )
        .collect())
}

/// The groups, with their scopes and members.
pub(crate) async fn groups(
    db: &Database,
) -> Result<Vec<(String, Vec<String>, Vec<String>)>, UsersError> {
    let mut conn = db.get().await.map_err(QueryError::from)?;
    let groups: Vec<(i64, String, String)> = mango_groups::table
        .order(mango_groups::name)
        .select((mango_groups::id, mango_groups::name, mango_groups::scopes))
        .load(&mut conn)
        .await?;
    let members: Vec<(i64, String)> = mango_user_groups::table
        .inner_join(mango_users::table)
        .select((mango_user_groups::group_id, mango_users::name))
        .order(mango_users::name)
        .load(&mut conn)
        .await?;
    Ok(groups
        .into_iter()
        .map(|(id, name, scopes)| {
            let of: Vec<String> = members
                .iter()
                .filter(|(g, _)| *g == id)
                .map(|(_, u)| u.clone())
                .collect();
            (name, split(&scopes).collect(), of)
        })
        .collect())
}

/// Makes a token for `user`: the token (shown once) and its prefix.
pub(crate) async fn create_token(
    db: &Database,
    user: &str,
    name: &str,
    scopes: Option<&[String]>,
    lifetime: Option<Duration>,
) -> Result<(String, String), UsersError> {
    let scopes = scopes.map(scopes_text).transpose()?;
    let (token, prefix, hash) = new_token()?;
    let now = now_ms();
    let expires =
        lifetime.map(|d| now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
    let _turn = db.write_turn().await.map_err(QueryError::from)?;
    let mut conn = db.get().await.map_err(QueryError::from)?;
    let id = user_id(&mut conn, user).await?;
    diesel::insert_into(mango_tokens::table)
        .values((
            mango_tokens::user_id.eq(id),
            mango_tokens::name.eq(name),
            mango_tokens::prefix.eq(&prefix),
            mango_tokens::hash.eq(hash),
            mango_tokens::scopes.eq(scopes),
            mango_tokens::created_ms.eq(now),
            mango_tokens::expires_ms.eq(expires),
        ))
        .execute(&mut conn)
        .await?;
    Ok((token, prefix))
}

/// Revokes the token whose prefix is `prefix` (with or without `mango_`); true if it
/// was live.
pub(crate) async fn revoke_token(db: &Database, prefix: &str) -> Result<bool, UsersError> {
    let prefix = prefix.trim_start_matches(TOKEN_START);
    let _turn = db.write_turn().await.map_err(QueryError::from)?;
    let mut conn = db.get().await.map_err(QueryError::from)?;
    let found: Vec<(i64, Option<i64>)> = mango_tokens::table
        .filter(mango_tokens::prefix.eq(prefix))
        .select((mango_tokens::id, mango_tokens::revoked_ms))
        .load(&mut conn)
        .await?;
    if found.is_empty() {
        return Err(UsersError::NoToken(prefix.to_owned()));
    }
    let live = found.iter().any(|(_, revoked)| revoked.is_none());
    diesel::update(
        mango_tokens::table
            .filter(mango_tokens::prefix.eq(prefix))
            .filter(mango_tokens::revoked_ms.is_null()),
    )
    .set(mango_tokens::revoked_ms.eq(now_ms()))
    .execute(&mut conn)
    .await?;
    Ok(live)
}

/// A user, as a login or a token finds it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = mango_users)]
struct Found {
    id: i64,
    name: String,
    active: bool,
    staff: bool,
    superuser: bool,
    scopes: String,
}

/// The scopes of a user (`None`: every scope, a superuser's): its own and its groups'.
async fn user_scopes(
    conn: &mut crate::db::Db,
    user: &Found,
) -> Result<Option<Vec<String>>, diesel::result::Error> {
    if user.superuser {
        return Ok(None);
    }
    let from_groups: Vec<String> = mango_user_groups::table
        .inner_join(mango_groups::table)
        .filter(mango_user_groups::user_id.eq(user.id))
        .select(mango_groups::scopes)
        .load(conn)
        .await?;
    let mut all: Vec<String> = split(&user.scopes).collect();
    for scopes in &from_groups {
        all.extend(split(scopes));
    }
    all.sort_unstable();
    all.dedup();
    Ok(Some(all))
}

/// The identity of the user token whose SHA-256 is `hash`, looked up in the database.
async fn lookup(db: &Database, hash: &str) -> Result<Identity, TokenRefusal> {
    let unavailable = |e: &dyn std::fmt::Display| TokenRefusal::Unavailable(e.to_string());
    let mut conn = db.get().await.map_err(|e| unavailable(&e))?;
    type Joined = (
        (i64, String, Option<String>, Option<i64>, Option<i64>),
        Found,
    );
    let found: Option<Joined> = mango_tokens::table
        .inner_join(mango_users::table)
        .filter(mango_tokens::hash.eq(hash))
        .select((
            (
                mango_tokens::id,
                mango_tokens::prefix,
                mango_tokens::scopes,
                mango_tokens::expires_ms,
                mango_tokens::revoked_ms,
            ),
            Found::as_select(),
        ))
        .first(&mut conn)
        .await
        .optional()
        .map_err(|e| unavailable(&e))?;
    let Some(((token_id, prefix, token_scopes, expires, revoked), user)) = found else {
        return Err(TokenRefusal::Unknown);
    };
    // Found by its SHA-256 (an index lookup): the token itself is never stored, and
    // the hash says nothing usable of it.
    let now = now_ms();
    if revoked.is_some() {
        return Err(TokenRefusal::Revoked { prefix });
    }
    if expires.is_some_and(|at| at <= now) {
        return Err(TokenRefusal::Expired { prefix });
    }
    if !user.active {
        return Err(TokenRefusal::Inactive { prefix });
    }
    let scopes = user_scopes(&mut conn, &user)
        .await
        .map_err(|e| unavailable(&e))?;
    // The token's scopes narrow the user's.
    let scopes = match (scopes, token_scopes.as_deref()) {
        (scopes, None) => scopes,
        (None, Some(only)) => Some(split(only).collect()),
        (Some(mine), Some(only)) => Some(split(only).filter(|s| mine.contains(s)).collect()),
    };
    let mut claims = serde_json::Map::new();
    claims.insert("token".into(), serde_json::json!(prefix));
    claims.insert("staff".into(), serde_json::json!(user.staff));
    drop(conn);
    // When it was last used: once per lookup (at most once per `token_cache` per
    // process), after the answer, never failing the request.
    let db = db.clone();
    tokio::spawn(async move {
        let Ok(_turn) = db.write_turn().await else {
            return;
        };
        if let Ok(mut conn) = db.get().await {
            let _ = diesel::update(mango_tokens::table.find(token_id))
                .set(mango_tokens::last_used_ms.eq(now))
                .execute(&mut conn)
                .await;
        }
    });
    Ok(Identity::of(
        user.name,
        scopes,
        claims,
        IdentitySource::Token,
    ))
}

/// A lookup's answer, and when it was looked up.
type Kept = (Instant, Result<Identity, TokenRefusal>);

/// User tokens' lookups, kept by this process for `[auth] token_cache` seconds, by
/// the SHA-256 of what was looked up (a token's hash, hex only on a miss). Read under a
/// shared lock: a request that finds its token kept waits for no other.
pub(crate) struct Tokens {
    db: Database,
    ttl: Duration,
    kept: RwLock<HashMap<[u8; 32], Kept>>,
}

impl Tokens {
    /// The answer kept for `key`, while it is younger than `[auth] token_cache`.
    fn kept(&self, key: &[u8; 32], now: Instant) -> Option<Result<Identity, TokenRefusal>> {
        let kept = self.kept.read().unwrap_or_else(|p| p.into_inner());
        kept.get(key)
            .filter(|(at, _)| now.duration_since(*at) < self.ttl)
            .map(|(_, answer)| answer.clone())
    }

    pub fn new(db: Database, ttl_seconds: f64) -> Tokens {
        Tokens {
            db,
            ttl: Duration::from_secs_f64(ttl_seconds.clamp(0.0, 3600.0)),
            kept: RwLock::new(HashMap::new()),
        }
    }

    /// The identity of `token` (which starts with `mango_`), or why not.
    pub async fn identify(&self, token: &str) -> Result<Identity, TokenRefusal> {
        let key = sha256(token);
        let now = Instant::now();
        if let Some(answer) = self.kept(&key, now) {
            return answer;
        }
        let answer = lookup(&self.db, &hex(&key)).await;
        if matches!(answer, Err(TokenRefusal::Unavailable(_))) {
            return answer;
        }
        let mut kept = self.kept.write().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= CACHE_ENTRIES {
            let ttl = self.ttl;
            kept.retain(|_, (at, _)| now.duration_since(*at) < ttl);
            if kept.len() >= CACHE_ENTRIES {
                kept.clear();
            }
        }
        kept.insert(key, (now, answer.clone()));
        answer
    }
}

impl Tokens {
    /// An OAuth caller's identity with the scopes of the user its `claim` names (its
    /// own and its groups'; a superuser's: every scope) added, when there is such an
    /// active user; as it was otherwise. Kept `[auth] token_cache` seconds, as tokens.
    #[cfg_attr(not(feature = "oauth"), allow(dead_code))]
    pub async fn linked(&self, identity: Identity, claim: &str) -> Result<Identity, TokenRefusal> {
        let value = if claim == "sub" {
            Some(identity.subject().to_owned())
        } else {
            identity
                .claim(claim)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let Some(value) = value else {
            return Ok(identity);
        };
        let key = sha256(&format!("oauth\0{claim}\0{value}"));
        let now = Instant::now();
        let user = match self.kept(&key, now) {
            Some(answer) => answer,
            None => {
                let answer = linked_user(&self.db, claim, &value).await;
                if matches!(answer, Err(TokenRefusal::Unavailable(_))) {
                    return answer.map(|_| identity);
                }
                let mut kept = self.kept.write().unwrap_or_else(|p| p.into_inner());
                if kept.len() >= CACHE_ENTRIES {
                    kept.clear();
                }
                kept.insert(key, (now, answer.clone()));
                answer
            }
        };
        // No such user (or not active): the token's own scopes.
        let Ok(user) = user else {
            return Ok(identity);
        };
        let scopes = match (identity.has_every_scope(), user.has_every_scope()) {
            (true, _) | (_, true) => None,
            (false, false) => {
                let mut all: Vec<String> = identity.scopes().to_vec();
                all.extend(user.scopes().iter().cloned());
                all.sort_unstable();
                all.dedup();
                Some(all)
            }
        };
        let mut claims = identity.claims().clone();
        claims.insert("user".into(), serde_json::json!(user.subject()));
        Ok(Identity::of(
            identity.subject().to_owned(),
            scopes,
            claims,
            identity.source(),
        ))
    }
}

/// The active user a claim names (by name; by email for `email`), as an identity
/// holding its scopes; `Unknown` when there is none.
async fn linked_user(db: &Database, claim: &str, value: &str) -> Result<Identity, TokenRefusal> {
    let unavailable = |e: &dyn std::fmt::Display| TokenRefusal::Unavailable(e.to_string());
    let mut conn = db.get().await.map_err(|e| unavailable(&e))?;
    let mut query = mango_users::table
        .filter(mango_users::active.eq(true))
        .into_boxed();
    query = if claim == "email" {
        query.filter(mango_users::email.eq(value.to_owned()))
    } else {
        query.filter(mango_users::name.eq(value.to_owned()))
    };
    let found: Option<Found> = query
        .select(Found::as_select())
        .first(&mut conn)
        .await
        .optional()
        .map_err(|e| unavailable(&e))?;
    let Some(user) = found else {
        return Err(TokenRefusal::Unknown);
    };
    let scopes = user_scopes(&mut conn, &user)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(Identity::of(
        user.name,
        scopes,
        serde_json::Map::new(),
        IdentitySource::Custom,
    ))
}

/// A staff user, logged in to the admin.
pub(crate) struct Staff {
    pub name: String,
    pub superuser: bool,
    /// `None`: every scope (a superuser).
    pub scopes: Option<Vec<String>>,
}

/// A staff user's login to the admin: the user when the password is right and the user
/// is active staff. The hash is checked whatever the name, so that a wrong name takes
/// as long.
pub(crate) async fn staff_login(
    db: &Database,
    name: &str,
    password: &str,
) -> Result<Option<Staff>, UsersError> {
    let mut conn = db.get().await.map_err(QueryError::from)?;
    let found: Option<(Found, String)> = mango_users::table
        .filter(mango_users::name.eq(name))
        .select((Found::as_select(), mango_users::password))
        .first(&mut conn)
        .await
        .optional()?;
    // When there is no such user (or it has no password), a hash made once is checked
    // instead, so that the answer takes as long.
    static NOBODY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let hash = found
        .as_ref()
        .map(|(_, hash)| hash.clone())
        .filter(|h| super::password::hash_problem(h).is_none());
    let given = password.to_owned();
    let good = tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| {
            NOBODY
                .get_or_init(|| {
                    super::password::hash_password("no user has this password").unwrap_or_default()
                })
                .clone()
        });
        super::password::verify_password(&hash, &given) && known
    })
    .await
    .unwrap_or(false);
    let Some((user, _)) = found else {
        return Ok(None);
    };
    if !(good && user.active && user.staff) {
        return Ok(None);
    }
    let scopes = user_scopes(&mut conn, &user).await?;
    drop(conn);
    if let Ok(_turn) = db.write_turn().await
        && let Ok(mut conn) = db.get().await
    {
        let _ = diesel::update(mango_users::table.find(user.id))
            .set(mango_users::last_login_ms.eq(now_ms()))
            .execute(&mut conn)
            .await;
    }
    Ok(Some(Staff {
        name: user.name,
        superuser: user.superuser,
        scopes,
    }))
}

/// `[auth] users`' part of `check`: users, staff and superusers counted; a project
/// with users on and no superuser is told how to make one.
pub(crate) async fn explain(db: &Database) -> Vec<String> {
    match users(db, None).await {
        Ok(all) => {
            let supers = all.iter().filter(|u| u.superuser && u.active).count();
            let live = all
                .iter()
                .flat_map(|u| &u.tokens)
                .filter(|t| t.revoked_ms.is_none())
                .count();
            let mut lines = vec![format!(
                "auth: users in the database: {} ({} superuser(s), {} staff), {} live token(s)",
                all.len(),
                supers,
                all.iter().filter(|u| u.staff).count(),
                live
            )];
            if supers == 0 {
                lines.push(
                    "note: [auth] users is on but there is no active superuser: make one with `cargo mango run createsuperuser`".into(),
                );
            }
            lines
        }
        Err(e) => vec![format!(
            "auth: users in the database: not readable ({e}); run `cargo mango migrate`"
        )],
    }
}

/// `check --deploy`: each active superuser whose password is one a guesser tries first
/// (its own name, `password`, `admin`, `changeme`, digits in a row), as a problem.
pub(crate) async fn guessable_superusers(db: &Database) -> Vec<String> {
    let found: Result<Vec<(String, String)>, UsersError> = async {
        let mut conn = db.get().await.map_err(QueryError::from)?;
        Ok(mango_users::table
            .filter(mango_users::superuser.eq(true))
            .filter(mango_users::active.eq(true))
            .select((mango_users::name, mango_users::password))
            .load(&mut conn)
            .await?)
    }
    .await;
    let supers = match found {
        Ok(s) => s,
        Err(e) => {
            return vec![format!(
                "the users could not be read to check the superusers' passwords: {e}"
            )];
        }
    };
    let checked = tokio::task::spawn_blocking(move || {
        supers
            .into_iter()
            .filter(|(name, hash)| {
                super::password::hash_problem(hash).is_none()
                    && [name.as_str(), "password", "admin", "changeme", "12345678", "password1"]
                        .iter()
                        .any(|guess| super::password::verify_password(hash, guess))
            })
            .map(|(name, _)| {
                format!("the superuser `{name}` has a password a guesser tries first (its name, `password`, `admin`, `changeme` or digits in a row): change it with `cargo mango run changepassword {name}`")
            })
            .collect::<Vec<_>>()
    })
    .await;
    checked.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_kept_as_a_hash() {
        let (token, prefix, hash) = new_token().expect("randomness");
        assert!(token.starts_with(&format!("mango_{prefix}_")), "{token}");
        assert_eq!(token.len(), "mango_".len() + 8 + 1 + 40);
        assert_eq!(hash, token_hash(&token));
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(&token[6..]));
        let (other, _, _) = new_token().expect("randomness");
        assert_ne!(token, other);
        assert!(crate::builtin::auth::well_formed(&token));
        // SHA-256 in lowercase hex, as tokens made before were stored.
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn names_and_scopes_are_checked() {
        assert!(name_ok("ada") && name_ok("ada.l+1@example.com") && name_ok("zoë"));
        assert!(!name_ok("") && !name_ok("a b") && !name_ok("<b>") && !name_ok(&"x".repeat(151)));
        assert_eq!(
            scopes_text(&["b:write".into(), "a:read".into(), "b:write".into()]).ok(),
            Some("a:read b:write".into())
        );
        assert!(scopes_text(&["a read".into()]).is_err());
        assert!(scopes_text(&[String::new()]).is_err());
    }
}
