//! Models: a Diesel table served as tools (`#[mango_rt::model]`). What the generated
//! code uses: the filters' types, the page it returns, the limit, the cursor, and the
//! SQL functions text matching needs on each backend. The macro writes each model's
//! Diesel queries itself, typed, field by field: nothing a client sends is ever SQL.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::call::Context;

pub use crate::db::Backend;

/// The most values an `in` condition takes.
pub const MAX_IN: usize = 1000;

/// The most aggregates one call computes.
pub const MAX_AGGREGATES: usize = 16;

/// A table's rows as a boxed Diesel query selecting `ST`, grouped by `GB` (`()`: not
/// grouped): what the scope hook and a filter narrow.
pub type Rows<T, ST, GB = ()> = diesel::internal::table_macro::BoxedSelectStatement<
    'static,
    ST,
    diesel::internal::table_macro::FromClause<T>,
    Backend,
    GB,
>;

/// A model another model's field refers to (`#[model(refers_to = Author)]`): its
/// filter, and the keys of its rows that a filter lets through (within the caller's
/// scope), for a query across the relation.
pub trait Related {
    /// The model's filter, as its query tool takes it.
    type Filter;
    /// A query selecting the keys of the rows that match.
    type Keys;
    /// The keys of the rows `filter` lets through, of those the caller may see.
    fn keys(filter: &Self::Filter, ctx: &Context) -> Result<Self::Keys, QueryError>;
}

/// Conditions on a field that is not text: every one given must hold.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct Compare<T> {
    /// Equal to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eq: Option<T>,
    /// Not equal to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ne: Option<T>,
    /// Less than.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<T>,
    /// Less than or equal to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lte: Option<T>,
    /// Greater than.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<T>,
    /// Greater than or equal to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gte: Option<T>,
    /// One of these values (at most 1,000).
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<T>>,
    /// `true`: has no value; `false`: has one (only for a field that may be empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_null: Option<bool>,
}

/// Conditions on a text field: every one given must hold.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct Text {
    /// Equal to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eq: Option<String>,
    /// Not equal to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ne: Option<String>,
    /// One of these values (at most 1,000).
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub any: Option<Vec<String>>,
    /// Contains this text (case-sensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// Contains this text, whatever the case (of ASCII letters on SQLite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icontains: Option<String>,
    /// Starts with this text (case-sensitive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_with: Option<String>,
    /// `true`: has no value; `false`: has one (only for a field that may be empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_null: Option<bool>,
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Func {
    /// How many rows (with a field: how many have a value in it).
    Count,
    /// The sum of a number field.
    Sum,
    /// The mean of a number field.
    Avg,
    /// The smallest value of a field.
    Min,
    /// The largest value of a field.
    Max,
}

impl Func {
    fn name(self) -> &'static str {
        match self {
            Func::Count => "count",
            Func::Sum => "sum",
            Func::Avg => "avg",
            Func::Min => "min",
            Func::Max => "max",
        }
    }
}

/// One aggregate asked for: a function, of a field (or of the rows, for `count`).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct Aggregate<F> {
    /// `count`, `sum`, `avg`, `min` or `max`.
    #[serde(rename = "fn")]
    pub func: Func,
    /// The field (`sum` and `avg`: a number field); none for `count` counts the rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<F>,
}

/// What a field holds, for the aggregates that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Number,
    Text,
    Bool,
    Other,
}

/// A model's field, as an aggregate reads it: its name, its kind and its column.
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub column: Box<dyn diesel::query_builder::QueryFragment<Backend> + Send + Sync>,
}

/// The aggregates of a call, selected as one column: a JSON array of their values
/// (`json_array(count(*), sum("score"))`), whose functions and columns are the model's,
/// never a client's text.
pub struct Aggregates(Vec<(Func, Option<Field>)>);

impl diesel::expression::Expression for Aggregates {
    type SqlType = diesel::sql_types::Text;
}

impl<GB> diesel::expression::ValidGrouping<GB> for Aggregates {
    type IsAggregate = diesel::expression::is_aggregate::Yes;
}

impl<QS> diesel::expression::AppearsOnTable<QS> for Aggregates {}

impl<QS> diesel::expression::SelectableExpression<QS> for Aggregates {}

impl diesel::query_builder::QueryId for Aggregates {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<Backend> for Aggregates {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Backend>,
    ) -> diesel::QueryResult<()> {
        #[cfg(feature = "sqlite")]
        out.push_sql("json_array(");
        #[cfg(feature = "postgres")]
        out.push_sql("CAST(json_build_array(");
        for (i, (func, field)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_sql(func.name());
            out.push_sql("(");
            match field {
                Some(field) => field.column.walk_ast(out.reborrow())?,
                None => out.push_sql("*"),
            }
            out.push_sql(")");
        }
        #[cfg(feature = "sqlite")]
        out.push_sql(")");
        #[cfg(feature = "postgres")]
        out.push_sql(") AS TEXT)");
        Ok(())
    }
}

/// A column as text (`CAST(col AS TEXT)`): a key's completion matches the digits typed
/// so far in the database, not among the first rows.
#[derive(Debug, Clone, Copy)]
pub struct AsText<E>(pub E);

impl<E: diesel::expression::Expression> diesel::expression::Expression for AsText<E> {
    type SqlType = diesel::sql_types::Text;
}

impl<E, GB> diesel::expression::ValidGrouping<GB> for AsText<E>
where
    E: diesel::expression::ValidGrouping<GB>,
{
    type IsAggregate = E::IsAggregate;
}

impl<E, QS> diesel::expression::AppearsOnTable<QS> for AsText<E> where
    E: diesel::expression::AppearsOnTable<QS>
{
}

impl<E, QS> diesel::expression::SelectableExpression<QS> for AsText<E> where
    E: diesel::expression::SelectableExpression<QS>
{
}

impl<E> diesel::query_builder::QueryId for AsText<E> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<E: diesel::query_builder::QueryFragment<Backend>> diesel::query_builder::QueryFragment<Backend>
    for AsText<E>
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Backend>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("CAST(");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(" AS TEXT)");
        Ok(())
    }
}

/// A `LIKE` pattern for text that starts with `start` (`%`, `_` and `\` taken
/// literally, with `\` as the escape).
pub fn prefix_pattern(start: &str) -> String {
    let mut out = contains_pattern(start);
    out.remove(0);
    out
}

/// The aggregates asked for (`count` of the rows when none are), checked against their
/// fields' kinds, and the names of their values in a result row (`count`,
/// `sum_score`).
pub fn aggregates(
    asked: Vec<(Func, Option<Field>)>,
) -> Result<(Vec<String>, Aggregates), QueryError> {
    if asked.len() > MAX_AGGREGATES {
        return Err(QueryError::TooManyAggregates { given: asked.len() });
    }
    let asked = if asked.is_empty() {
        vec![(Func::Count, None)]
    } else {
        asked
    };
    let mut names = Vec::with_capacity(asked.len());
    for (func, field) in &asked {
        let name = match field {
            None if *func == Func::Count => "count".to_owned(),
            None => return Err(QueryError::AggregateNeedsField { func: func.name() }),
            Some(field) => {
                let fits = match func {
                    Func::Count => true,
                    Func::Sum | Func::Avg => field.kind == Kind::Number,
                    Func::Min | Func::Max => field.kind != Kind::Bool,
                };
                if !fits {
                    return Err(QueryError::AggregateMisfit {
                        func: func.name(),
                        field: field.name,
                        takes: match func {
                            Func::Sum | Func::Avg => "a number field",
                            _ => "a field that is not a boolean",
                        },
                    });
                }
                format!("{}_{}", func.name(), field.name)
            }
        };
        if names.contains(&name) {
            return Err(QueryError::AggregateTwice { name });
        }
        names.push(name);
    }
    Ok((names, Aggregates(asked)))
}

/// A result row: the group's value under its field's name (when grouped), then each
/// aggregate's value under its name.
pub fn group_row(
    names: &[String],
    group: Option<(&'static str, Value)>,
    values: &str,
) -> Result<serde_json::Map<String, Value>, QueryError> {
    let values: Vec<Value> =
        serde_json::from_str(values).map_err(|_| QueryError::UnreadableAggregates)?;
    let mut row = serde_json::Map::new();
    if let Some((field, value)) = group {
        row.insert(field.to_owned(), value);
    }
    for (name, value) in names.iter().zip(values) {
        row.insert(name.clone(), value);
    }
    Ok(row)
}

/// What an aggregate tool returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Groups {
    /// One row per group (one in all when not grouped), in the order of the group's
    /// value: the group's field, then the aggregates (`count`, `sum_score`, …).
    pub rows: Vec<serde_json::Map<String, Value>>,
    /// More groups follow than `limit` let through: narrow the filter to see them.
    pub more: bool,
}

/// What a query tool returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Page<R> {
    /// The rows, in order.
    pub rows: Vec<R>,
    /// More rows match: pass this back as `cursor` (with the same filter and order) for
    /// the next ones. Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// How many rows match in all (when `count` was asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

/// Why a query was refused: the message the caller reads.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("limit must be at least 1")]
    LimitZero,

    #[error(
        "limit {asked} is above the most a page holds, {cap} ([models] max_limit): ask for {cap} or fewer and follow next_cursor"
    )]
    LimitAboveCap { asked: u32, cap: u32 },

    #[error("`{field}`: `in` takes at most {MAX_IN} values, not {given}")]
    TooManyValues { field: &'static str, given: usize },

    #[error("`{field}`: is_null is for a field that may be empty, and this one may not")]
    NeverNull { field: &'static str },

    #[error(
        "the cursor is not one this server gave ({why}): pass back next_cursor exactly as received, or leave cursor out to start from the first row"
    )]
    BadCursor { why: &'static str },

    #[error(
        "the cursor belongs to another query (another table, filter or order): repeat the filter and order of the call that gave it, or leave cursor out to start from the first row"
    )]
    ForeignCursor,

    #[error("at most {MAX_AGGREGATES} aggregates are computed at once, not {given}")]
    TooManyAggregates { given: usize },

    #[error("`{func}` needs a `field` (only `count` counts the rows)")]
    AggregateNeedsField { func: &'static str },

    #[error("`{func}` takes {takes}, and `{field}` is not one")]
    AggregateMisfit {
        func: &'static str,
        field: &'static str,
        takes: &'static str,
    },

    #[error("`{name}` is asked for twice")]
    AggregateTwice { name: String },

    #[error("the database's aggregates could not be read")]
    UnreadableAggregates,

    #[error("there is no {what} with {key} {value}")]
    NotFound {
        what: &'static str,
        key: &'static str,
        value: String,
    },
}

/// Why a write was refused: the message the caller reads (the call's transaction is
/// rolled back; nothing is written).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("`{field}`: another {what} has this value already, and it must be unique ({detail})")]
    Unique {
        what: &'static str,
        field: String,
        detail: String,
    },

    #[error("`{field}`: the {what} refers to a row that does not exist ({detail})")]
    ForeignKey {
        what: &'static str,
        field: String,
        detail: String,
    },

    #[error("`{field}` needs a value ({detail})")]
    NotNull { field: String, detail: String },

    #[error("the {what} breaks a rule of its table ({detail})")]
    Check { what: &'static str, detail: String },

    #[error(
        "the {what} was not deleted: other rows refer to it (delete them first, or change what they refer to) ({detail})"
    )]
    Referenced { what: &'static str, detail: String },

    #[error("the {what} would not be one of your rows (the model's scope): nothing was written")]
    OutsideScope { what: &'static str },

    #[error("the {what} was not deleted: the user did not confirm it")]
    NotConfirmed { what: &'static str },

    #[error(transparent)]
    Database(diesel::result::Error),
}

/// The database's refusal of a write, as a [`WriteError`] naming the field.
pub fn write_error(e: diesel::result::Error, what: &'static str) -> WriteError {
    use diesel::result::{DatabaseErrorKind as K, Error};
    let Error::DatabaseError(kind, info) = &e else {
        return WriteError::Database(e);
    };
    let detail = match info.details() {
        Some(details) => format!("{}: {details}", info.message()),
        None => info.message().to_owned(),
    };
    let field = info
        .column_name()
        .map(str::to_owned)
        .or_else(|| field_of(info.message()))
        .or_else(|| info.details().and_then(field_of))
        .unwrap_or_else(|| "a field".to_owned());
    match kind {
        K::UniqueViolation => WriteError::Unique {
            what,
            field,
            detail,
        },
        K::ForeignKeyViolation => WriteError::ForeignKey {
            what,
            field,
            detail,
        },
        K::NotNullViolation => WriteError::NotNull { field, detail },
        K::CheckViolation => WriteError::Check { what, detail },
        _ => WriteError::Database(e),
    }
}

/// The database's refusal of a delete: a foreign-key violation is rows that refer to
/// the one deleted.
pub fn delete_error(e: diesel::result::Error, what: &'static str) -> WriteError {
    match write_error(e, what) {
        WriteError::ForeignKey { detail, .. } => WriteError::Referenced { what, detail },
        other => other,
    }
}

/// The column a constraint's message names: SQLite's `UNIQUE constraint failed:
/// notes.text`, PostgreSQL's `Key (text)=(…) already exists.`.
fn field_of(message: &str) -> Option<String> {
    if let Some(rest) = message.split_once("Key (").map(|(_, r)| r) {
        return rest.split_once(")=").map(|(f, _)| f.to_owned());
    }
    let (_, rest) = message.split_once("constraint failed: ")?;
    let first = rest.split(',').next()?.trim();
    Some(first.rsplit('.').next().unwrap_or(first).to_owned())
}

/// For an optional field of an update: absent is `None` (kept), `null` is
/// `Some(None)` (cleared).
pub fn double_option<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The question before a delete: accepting it is the answer.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct Confirm {}

/// The page size asked for, within `[models]`' default and cap.
pub fn limit(ctx: &Context, asked: Option<u32>) -> Result<i64, QueryError> {
    let s = &ctx.project_settings().models;
    match asked {
        None => Ok(i64::from(s.default_limit.min(s.max_limit).max(1))),
        Some(0) => Err(QueryError::LimitZero),
        Some(n) if n > s.max_limit => Err(QueryError::LimitAboveCap {
            asked: n,
            cap: s.max_limit,
        }),
        Some(n) => Ok(i64::from(n)),
    }
}

/// Refuses an `in` of more than [`MAX_IN`] values.
pub fn check_in<T>(field: &'static str, values: &[T]) -> Result<(), QueryError> {
    if values.len() > MAX_IN {
        return Err(QueryError::TooManyValues {
            field,
            given: values.len(),
        });
    }
    Ok(())
}

/// Refuses `is_null` on a field that is never null.
pub fn never_null(field: &'static str, is_null: Option<bool>) -> Result<(), QueryError> {
    match is_null {
        Some(_) => Err(QueryError::NeverNull { field }),
        None => Ok(()),
    }
}

/// A `LIKE` pattern for text that contains `words` (`%`, `_` and `\` taken literally,
/// with `\` as the escape).
pub fn contains_pattern(words: &str) -> String {
    let mut out = String::with_capacity(words.len() + 2);
    out.push('%');
    for c in words.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A key as the text of a URI (a string as it is, a number in digits).
pub fn key_text(key: &impl Serialize) -> String {
    match serde_json::to_value(key) {
        Ok(Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// "no `Note` with id 7".
pub fn not_found(
    what: &'static str,
    key: &'static str,
    value: impl std::fmt::Display,
) -> QueryError {
    QueryError::NotFound {
        what,
        key,
        value: value.to_string(),
    }
}

#[cfg(feature = "sqlite")]
mod functions {
    diesel::define_sql_function! {
        /// Where `needle` starts in `haystack` (from 1; 0 when it is not there).
        #[sql_name = "instr"]
        fn position<T: diesel::sql_types::SingleValue>(
            haystack: T,
            needle: diesel::sql_types::Text,
        ) -> diesel::sql_types::Nullable<diesel::sql_types::Integer>;
    }
}

#[cfg(feature = "postgres")]
mod functions {
    diesel::define_sql_function! {
        /// Where `needle` starts in `haystack` (from 1; 0 when it is not there).
        #[sql_name = "strpos"]
        fn position<T: diesel::sql_types::SingleValue>(
            haystack: T,
            needle: diesel::sql_types::Text,
        ) -> diesel::sql_types::Nullable<diesel::sql_types::Integer>;
    }
}

diesel::define_sql_function! {
    /// The text in lower case (SQLite: ASCII letters only).
    fn lower<T: diesel::sql_types::SingleValue>(text: T) -> T;
}

pub use functions::position;

/// Where a page ended, signed so that a client can neither forge one nor carry it to
/// another query.
#[derive(Serialize, Deserialize)]
struct Mark {
    /// The model, the order and a digest of the filter: the query it belongs to.
    q: String,
    /// The last row's value of the order's field, and its key.
    v: Value,
    k: Value,
}

/// The cursor after a row whose order field is `value` and key `key`.
pub fn seal_cursor(
    ctx: &Context,
    query: &str,
    filter: &impl Serialize,
    value: &impl Serialize,
    key: &impl Serialize,
) -> String {
    use base64::Engine as _;
    let mark = Mark {
        q: query_id(query, filter),
        v: serde_json::to_value(value).unwrap_or(Value::Null),
        k: serde_json::to_value(key).unwrap_or(Value::Null),
    };
    let body = serde_json::to_vec(&mark).unwrap_or_default();
    let tag = hmac(&cursor_key(ctx), &body);
    let mut sealed = body;
    sealed.extend_from_slice(&tag[..16]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
}

/// The order field's value and the key a cursor ended at, when it is this server's and
/// this query's.
pub fn open_cursor<V: DeserializeOwned, K: DeserializeOwned>(
    ctx: &Context,
    cursor: &str,
    query: &str,
    filter: &impl Serialize,
) -> Result<(V, K), QueryError> {
    use base64::Engine as _;
    let bad = |why| QueryError::BadCursor { why };
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| bad("not base64url"))?;
    if sealed.len() < 17 {
        return Err(bad("too short"));
    }
    let (body, tag) = sealed.split_at(sealed.len() - 16);
    let expected = hmac(&cursor_key(ctx), body);
    if !crate::util::same_secret(tag, &expected[..16]) {
        return Err(bad("its signature does not match"));
    }
    let mark: Mark = serde_json::from_slice(body).map_err(|_| bad("unreadable"))?;
    if mark.q != query_id(query, filter) {
        return Err(QueryError::ForeignCursor);
    }
    let value = serde_json::from_value(mark.v).map_err(|_| bad("unreadable"))?;
    let key = serde_json::from_value(mark.k).map_err(|_| bad("unreadable"))?;
    Ok((value, key))
}

/// The model and order (`query`), and a digest of the filter.
fn query_id(query: &str, filter: &impl Serialize) -> String {
    use sha2::Digest;
    let filter = serde_json::to_vec(filter).unwrap_or_default();
    let digest = sha2::Sha256::digest(&filter);
    let mut out = String::from(query);
    out.push(':');
    for b in &digest[..8] {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The key cursors are signed with: from `[input] key` when it is set (replicas that
/// share it accept each other's cursors), else this process's own.
fn cursor_key(ctx: &Context) -> [u8; 32] {
    use sha2::Digest;
    static OWN: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    match &ctx.project_settings().input.key {
        Some(key) => {
            let mut h = sha2::Sha256::new();
            h.update(b"mango model cursor\0");
            h.update(key.expose().as_bytes());
            h.finalize().into()
        }
        None => *OWN.get_or_init(|| {
            let mut key = [0u8; 32];
            if getrandom::fill(&mut key).is_err() {
                // No system randomness: a key of this process's start (cursors are
                // still refused by other processes; they are not secrets).
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos());
                key[..16].copy_from_slice(&t.to_le_bytes());
            }
            key
        }),
    }
}

/// HMAC-SHA256 (RFC 2104).
fn hmac(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut inner = sha2::Sha256::new();
    let mut outer = sha2::Sha256::new();
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, k) in key.iter().enumerate() {
        ipad[i] ^= k;
        opad[i] ^= k;
    }
    inner.update(ipad);
    inner.update(message);
    outer.update(opad);
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231 test case 2 has a 4-byte key; this checks the construction with the
        // 32-byte key padded as HMAC pads it: key "Jefe" zero-extended is the same key.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let tag = hmac(&key, b"what do ya want for nothing?");
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn constraint_messages_name_their_field() {
        assert_eq!(
            field_of("UNIQUE constraint failed: notes.text").as_deref(),
            Some("text")
        );
        assert_eq!(
            field_of("UNIQUE constraint failed: notes.a, notes.b").as_deref(),
            Some("a")
        );
        assert_eq!(
            field_of("Key (text)=(milk) already exists.").as_deref(),
            Some("text")
        );
        assert_eq!(field_of("FOREIGN KEY constraint failed"), None);
    }

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
