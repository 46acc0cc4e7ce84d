//! The `notes` app: notes kept in the project's database.
//!
//! Each tool that takes `db: &mut Db` runs in a transaction: committed when it returns
//! `Ok`, rolled back when it returns `Err` or panics.

use diesel::prelude::*;
use mango_rt::db::{Db, RunQueryDsl};
use mango_rt::{Middleware, Next, Request, Response, ToolError, command, middleware, tool};

mod schema;

use schema::notes;

mango_rt::migrations!();

/// A note.
#[derive(Queryable, Selectable, mango_rt::serde::Serialize, mango_rt::schemars::JsonSchema)]
#[diesel(table_name = notes)]
#[serde(crate = "mango_rt::serde")]
#[schemars(crate = "mango_rt::schemars")]
pub struct Note {
    pub id: i64,
    pub text: String,
}

/// Write a note down; returns it with its id.
#[tool]
async fn add(
    /// What the note says.
    text: String,
    db: &mut Db,
) -> Result<Note, ToolError> {
    if text.trim().is_empty() {
        return Err(ToolError::new("a note needs some text"));
    }
    let note = diesel::insert_into(notes::table)
        .values(notes::text.eq(text.trim()))
        .returning(Note::as_returning())
        .get_result(db)
        .await?;
    Ok(note)
}

/// Find the notes that contain some words (case-insensitive), newest first.
#[tool(read_only)]
async fn search(
    /// The words to look for.
    query: String,
    db: &mut Db,
) -> Result<Vec<Note>, ToolError> {
    let pattern = format!("%{}%", query.replace('%', "\\%").replace('_', "\\_"));
    let found = notes::table
        .filter(notes::text.like(pattern).escape('\\'))
        .order(notes::id.desc())
        .select(Note::as_select())
        .load(db)
        .await?;
    Ok(found)
}

/// The latest notes, newest first.
#[tool(read_only)]
async fn list(
    /// At most this many (default 20).
    #[serde(default)]
    limit: Option<i64>,
    db: &mut Db,
) -> Result<Vec<Note>, ToolError> {
    let latest = notes::table
        .order(notes::id.desc())
        .limit(limit.unwrap_or(20).clamp(1, 1000))
        .select(Note::as_select())
        .load(db)
        .await?;
    Ok(latest)
}

/// Delete a note by its id.
#[tool(destructive, idempotent)]
async fn delete(
    /// The note's id.
    id: i64,
    db: &mut Db,
) -> Result<String, ToolError> {
    let deleted = diesel::delete(notes::table.find(id)).execute(db).await?;
    if deleted == 0 {
        return Err(ToolError::new(format!("no note has the id {id}")));
    }
    Ok(format!("deleted note {id}"))
}

/// Middleware, around style: refuses notes longer than 10,000 characters before any
/// tool sees them. Listed in Mango.toml as `notes.reject_long_text`.
#[middleware]
async fn reject_long_text(req: &mut Request, next: Next) -> Response {
    let too_long = req
        .arguments
        .get("text")
        .and_then(|t| t.as_str())
        .is_some_and(|t| t.chars().count() > 10_000);
    if too_long {
        return Response::error("a note holds at most 10,000 characters");
    }
    next.run(req).await
}

/// Middleware, Django style: trims the spaces around `text` and `query` arguments.
/// Listed in Mango.toml as `notes.trim_text`.
#[middleware]
struct TrimText;

impl Middleware for TrimText {
    async fn process_request(&self, req: &mut Request) -> Option<Response> {
        for key in ["text", "query"] {
            if let Some(mango_rt::serde_json::Value::String(s)) = req.arguments.get_mut(key) {
                *s = s.trim().to_owned();
            }
        }
        None
    }
}

/// Export the notes as JSON lines on stdout (one note per line), oldest first.
#[command]
async fn export(
    /// Only the notes with an id above this one.
    since: Option<i64>,
    db: &mut Db,
) -> Result<String, ToolError> {
    let notes: Vec<Note> = notes::table
        .filter(notes::id.gt(since.unwrap_or(0)))
        .order(notes::id)
        .select(Note::as_select())
        .load(db)
        .await?;
    let mut lines = String::new();
    for note in &notes {
        lines.push_str(&mango_rt::serde_json::to_string(note)?);
        lines.push('\n');
    }
    Ok(lines)
}

/// Import notes from a JSON lines file (as `export` writes them); all or nothing.
#[command]
async fn import(
    /// The file to read.
    path: std::path::PathBuf,
    db: &mut Db,
) -> Result<String, ToolError> {
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ToolError::new(format!("cannot read {}: {e}", path.display())))?;
    let mut count = 0;
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let value: mango_rt::serde_json::Value = mango_rt::serde_json::from_str(line)
            .map_err(|e| ToolError::new(format!("line {}: {e}", n + 1)))?;
        let Some(note) = value["text"].as_str() else {
            return Err(ToolError::new(format!("line {}: no `text`", n + 1)));
        };
        diesel::insert_into(notes::table)
            .values(notes::text.eq(note))
            .execute(db)
            .await?;
        count += 1;
    }
    Ok(format!("imported {count} notes"))
}

#[cfg(test)]
mod tests {
    use mango_rt::serde_json::json;
    use mango_rt::testing::TestServer;

    #[tokio::test(flavor = "multi_thread")]
    async fn add_search_list_delete() {
        let server = TestServer::new().await.expect("a test server");
        let added = server
            .call("notes_add", json!({"text": "buy mangoes"}))
            .await
            .expect("add");
        assert!(!added.is_error(), "{}", added.text());
        let id = added.json()["id"].as_i64().expect("an id");
        server
            .call("notes_add", json!({"text": "call Ada"}))
            .await
            .expect("add");

        let found = server
            .call("notes_search", json!({"query": "MANGO"}))
            .await
            .expect("search");
        assert_eq!(found.json()["result"][0]["text"], "buy mangoes");
        let all = server.call("notes_list", json!({})).await.expect("list");
        assert_eq!(all.json()["result"].as_array().map(Vec::len), Some(2));

        let gone = server
            .call("notes_delete", json!({"id": id}))
            .await
            .expect("delete");
        assert_eq!(gone.text(), format!("deleted note {id}"));
        let again = server
            .call("notes_delete", json!({"id": id}))
            .await
            .expect("delete");
        assert!(again.is_error());
    }

    /// With the example's middleware listed, as in its Mango.toml.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_middleware_trims_and_refuses() {
        let settings = mango_rt::Settings {
            middleware: vec!["notes.reject_long_text".into(), "notes.trim_text".into()],
            ..Default::default()
        };
        let server = TestServer::with_settings(settings)
            .await
            .expect("a test server");
        let added = server
            .call("notes_add", json!({"text": "  padded  "}))
            .await
            .expect("add");
        assert_eq!(added.json()["text"], "padded");
        let long = "x".repeat(10_001);
        let refused = server
            .call("notes_add", json!({"text": long}))
            .await
            .expect("add");
        assert!(refused.is_error() && refused.text().contains("at most 10,000"));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_empty_note_is_refused_and_nothing_is_written() {
        let server = TestServer::new().await.expect("a test server");
        let r = server
            .call("notes_add", json!({"text": "  "}))
            .await
            .expect("add");
        assert!(r.is_error() && r.text().contains("needs some text"));
        let all = server.call("notes_list", json!({})).await.expect("list");
        assert_eq!(all.json()["result"], json!([]));
    }
}
