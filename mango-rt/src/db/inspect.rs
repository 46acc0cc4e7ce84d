//! The database's tables as they are (Django's `inspectdb`): every table with its
//! columns, primary key and foreign keys, as the `inspectdb` command prints them for
//! `cargo mango` to keep each app's `schema.rs` in step with its migrations.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};

use super::migrate::{MigrateError, SyncDb};

/// One table.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// The primary key's columns, in key order.
    pub primary_key: Vec<String>,
    pub foreign_keys: Vec<ForeignKey>,
}

/// One column, in table order.
#[derive(Debug, serde::Serialize, QueryableByName)]
pub(crate) struct Column {
    #[diesel(sql_type = Text)]
    pub name: String,
    /// The type as the database spells it (`INTEGER`, `character varying(80)`).
    #[diesel(sql_type = Text)]
    pub sql_type: String,
    /// The type's bare name (PostgreSQL's `typname`: `int8`, `_text`; SQLite: the
    /// declared type in lower case).
    #[diesel(sql_type = Text)]
    pub udt: String,
    #[diesel(sql_type = Bool)]
    pub not_null: bool,
    /// Its place in the primary key (1 for the first), 0 when it is not in it.
    #[diesel(sql_type = Integer)]
    #[serde(skip)]
    pub pk: i32,
}

/// A column that refers to another table.
#[derive(Debug, serde::Serialize, QueryableByName)]
pub(crate) struct ForeignKey {
    #[diesel(sql_type = Text)]
    pub column: String,
    #[diesel(sql_type = Text)]
    pub table: String,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[cfg(feature = "sqlite")]
mod sql {
    pub const TABLES: &str = "SELECT name FROM sqlite_master WHERE type = 'table' \
        AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_\\_%' ESCAPE '\\' ORDER BY name";
    pub const COLUMNS: &str = "SELECT name, type AS sql_type, lower(type) AS udt, \
        (\"notnull\" <> 0) AS not_null, pk FROM pragma_table_info(?) ORDER BY cid";
    pub const FOREIGN_KEYS: &str =
        "SELECT \"from\" AS \"column\", \"table\" FROM pragma_foreign_key_list(?) ORDER BY id, seq";
}

#[cfg(feature = "postgres")]
mod sql {
    pub const TABLES: &str = "SELECT table_name::text AS name FROM information_schema.tables \
        WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
        AND table_name NOT LIKE '\\_\\_%' ORDER BY 1";
    pub const COLUMNS: &str = "SELECT a.attname::text AS name, \
        format_type(a.atttypid, a.atttypmod) AS sql_type, t.typname::text AS udt, \
        a.attnotnull AS not_null, \
        COALESCE((SELECT k.n FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
            WHERE k.attnum = a.attnum), 0)::int4 AS pk \
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid \
        LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary \
        WHERE a.attrelid = (quote_ident(current_schema()) || '.' || quote_ident($1))::regclass \
        AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
    pub const FOREIGN_KEYS: &str = "SELECT kcu.column_name::text AS \"column\", \
        ccu.table_name::text AS \"table\" \
        FROM information_schema.table_constraints tc \
        JOIN information_schema.key_column_usage kcu \
            ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema \
        JOIN information_schema.constraint_column_usage ccu \
            ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema \
        WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema() \
        AND tc.table_name = $1 ORDER BY kcu.ordinal_position";
}

fn failed(e: diesel::result::Error) -> MigrateError {
    MigrateError::Record(format!("the database's tables could not be read: {e}"))
}

/// Every table of the database but the migration records (`__…`).
pub(crate) fn tables(conn: &mut SyncDb) -> Result<Vec<Table>, MigrateError> {
    let names: Vec<Name> = diesel::sql_query(sql::TABLES).load(conn).map_err(failed)?;
    let mut out = Vec::new();
    for Name { name } in names {
        let mut columns: Vec<Column> = diesel::sql_query(sql::COLUMNS)
            .bind::<Text, _>(&name)
            .load(conn)
            .map_err(failed)?;
        let mut keyed: Vec<&Column> = columns.iter().filter(|c| c.pk > 0).collect();
        keyed.sort_by_key(|c| c.pk);
        let primary_key: Vec<String> = keyed.iter().map(|c| c.name.clone()).collect();
        // SQLite lets a key column hold NULL unless it says NOT NULL; a key is not
        // nullable as a Diesel table sees it.
        for c in &mut columns {
            c.not_null |= c.pk > 0;
        }
        let foreign_keys: Vec<ForeignKey> = diesel::sql_query(sql::FOREIGN_KEYS)
            .bind::<Text, _>(&name)
            .load(conn)
            .map_err(failed)?;
        out.push(Table {
            name,
            columns,
            primary_key,
            foreign_keys,
        });
    }
    Ok(out)
}

/// `"name"`, for SQL.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    row: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// A page of `table`'s rows (each as its columns' values, in column order, in primary
/// key order) and how many rows it has, read-only.
pub(crate) fn rows(
    conn: &mut SyncDb,
    table: &Table,
    limit: i64,
    offset: i64,
) -> Result<(i64, Vec<Vec<serde_json::Value>>), MigrateError> {
    let name = quoted(&table.name);
    let Count { n } = diesel::sql_query(format!("SELECT count(*) AS n FROM {name}"))
        .get_result(conn)
        .map_err(failed)?;
    let values: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let c = quoted(&c.name);
            // JSON holds no bytes: a blob shows as its length.
            if cfg!(feature = "sqlite") {
                format!("CASE WHEN typeof({c}) = 'blob' THEN '[' || length({c}) || ' bytes]' ELSE {c} END")
            } else {
                c
            }
        })
        .collect();
    let array = if cfg!(feature = "sqlite") {
        format!("json_array({})", values.join(", "))
    } else {
        format!("json_build_array({})::text", values.join(", "))
    };
    let order = if table.primary_key.is_empty() {
        String::new()
    } else {
        let keys: Vec<String> = table.primary_key.iter().map(|k| quoted(k)).collect();
        format!(" ORDER BY {}", keys.join(", "))
    };
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT {array} AS row FROM {name}{order} LIMIT {limit} OFFSET {offset}"
    ))
    .load(conn)
    .map_err(failed)?;
    Ok((
        n,
        rows.into_iter()
            .map(|r| match serde_json::from_str(&r.row) {
                Ok(serde_json::Value::Array(values)) => values,
                _ => vec![serde_json::Value::String(r.row)],
            })
            .collect(),
    ))
}
