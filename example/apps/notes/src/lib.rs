//! The `notes` app: notes kept in the project's database.
//!
//! Each tool that takes `db: &mut Db` runs in a transaction: committed when it returns
//! `Ok`, rolled back when it returns `Err` or panics.

use diesel::prelude::*;
use mango_rt::db::{Db, RunQueryDsl};
use mango_rt::{
    Answer, Context, Message, Middleware, Next, Request, Response, ToolError, command, completion,
    middleware, prompt, resource, tool,
};

mod schema;

use schema::notes;

mango_rt::migrations!();

/// A note.
///
/// `#[mango_rt::model]` serves the table as read-only tools: `notes_note_query`
/// (filters on `id` and `text`, an order, pages, a count), `notes_note_get` and
/// `notes_note_aggregate`, and each row as the resource `notes://notes/{id}`.
#[mango_rt::model]
#[mango_rt::data]
#[derive(Queryable, Selectable)]
#[diesel(table_name = notes)]
pub struct Note {
    pub id: i64,
    pub text: String,
}

/// A `LIKE` pattern that finds `words` anywhere (its `%` and `_` taken literally, with
/// `\` as the escape).
fn like_pattern(words: &str) -> String {
    format!("%{}%", words.replace('%', "\\%").replace('_', "\\_"))
}

/// The ten newest notes, as JSON: a resource clients can read without a tool call.
#[resource("notes://recent", title = "Recent notes")]
async fn recent(db: &mut Db) -> Result<Vec<Note>, ToolError> {
    Ok(notes::table
        .order(notes::id.desc())
        .limit(10)
        .select(Note::as_select())
        .load(db)
        .await?)
}

/// One note's text, by id (`notes://1` …).
#[resource("notes://{id}", complete(id = note_ids))]
async fn note(id: i64, db: &mut Db) -> Result<String, ToolError> {
    let text = notes::table
        .find(id)
        .select(notes::text)
        .first(db)
        .await
        .optional()?;
    text.ok_or_else(|| ToolError::new(format!("there is no note {id}")))
}

/// The ids of the notes that start with the digits typed so far.
#[completion]
async fn note_ids(value: String, db: &mut Db) -> Result<Vec<String>, ToolError> {
    let ids: Vec<i64> = notes::table
        .select(notes::id)
        .order(notes::id)
        .limit(1000)
        .load(db)
        .await?;
    Ok(ids
        .into_iter()
        .map(|id| id.to_string())
        .filter(|id| id.starts_with(&value))
        .collect())
}

/// Ask the model to summarize the notes about a topic.
#[prompt(title = "Summarize notes")]
async fn summarize(
    /// What the notes are about.
    topic: String,
    db: &mut Db,
) -> Result<Vec<Message>, ToolError> {
    let found: Vec<String> = notes::table
        .filter(notes::text.like(like_pattern(&topic)).escape('\\'))
        .order(notes::id)
        .select(notes::text)
        .load(db)
        .await?;
    Ok(vec![
        Message::user(format!(
            "Summarize these notes about {topic} in three sentences:\n- {}",
            found.join("\n- ")
        )),
        Message::assistant("Here is the summary:"),
    ])
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
    let found = notes::table
        .filter(notes::text.like(like_pattern(&query)).escape('\\'))
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

/// Remind of a note in some minutes (a background job: `cargo mango run jobs` and the
/// admin's Jobs page show it, and what it said).
#[tool]
async fn remind(
    /// The note's id.
    id: i64,
    /// In how many minutes.
    minutes: u32,
    db: &mut Db,
) -> Result<String, ToolError> {
    if notes::table.find(id).count().get_result::<i64>(db).await? == 0 {
        return Err(ToolError::new(format!("no note has the id {id}")));
    }
    let delay = std::time::Duration::from_secs(u64::from(minutes) * 60);
    // In the call's transaction: the reminder exists if and only if the call commits.
    let job = reminder::job(id).after(delay).enqueue(db).await?;
    Ok(format!(
        "reminding of note {id} in {minutes} minutes (job {job})"
    ))
}

/// The reminder itself, run by a worker when it is due (`serve` runs them, or
/// `cargo mango run worker`): idempotent, so a run cut off runs again.
#[mango_rt::job(idempotent)]
async fn reminder(id: i64, db: &mut Db) -> Result<String, ToolError> {
    let note: Option<Note> = notes::table
        .find(id)
        .select(Note::as_select())
        .first(db)
        .await
        .optional()?;
    let said = match note {
        Some(note) => format!("reminder: {}", note.text),
        None => format!("note {id} is gone; nothing to remind of"),
    };
    mango_rt::tracing::info!("{said}");
    Ok(said)
}

/// Export every note as JSON lines, oldest first, 500 at a time. It may run as a task
/// (the MCP tasks extension): a client that asks for one gets a handle at once, polls
/// it (`tasks/get` shows how far it got) and may cancel it; `cargo mango run tasks` and
/// the admin's Tasks page show it.
#[tool(read_only, task)]
async fn export_all(ctx: &Context, db: &mut Db) -> Result<String, ToolError> {
    let total: i64 = notes::table.count().get_result(db).await?;
    let (mut lines, mut last, mut done) = (String::new(), 0, 0_u32);
    loop {
        let batch: Vec<Note> = notes::table
            .filter(notes::id.gt(last))
            .order(notes::id)
            .limit(500)
            .select(Note::as_select())
            .load(db)
            .await?;
        let Some(end) = batch.last() else { break };
        last = end.id;
        for note in &batch {
            lines.push_str(&mango_rt::serde_json::to_string(note)?);
            lines.push('\n');
            done += 1;
        }
        ctx.progress(f64::from(done), Some(total as f64), Some("notes exported"))
            .await;
    }
    Ok(lines)
}

/// What `clean_up` asks before it deletes.
#[mango_rt::data]
struct Confirm {
    /// Delete them?
    confirm: bool,
}

/// Delete every note that contains some words, once the user confirms (the client asks
/// them: MCP elicitation). Subscribers of `notes://recent` hear of it.
#[tool(destructive)]
async fn clean_up(
    /// The words the notes to delete contain.
    query: String,
    ctx: &Context,
    db: &mut Db,
) -> Result<String, ToolError> {
    let pattern = like_pattern(&query);
    let matching: i64 = notes::table
        .filter(notes::text.like(&pattern).escape('\\'))
        .count()
        .get_result(db)
        .await?;
    if matching == 0 {
        return Ok(format!("no note contains \"{query}\""));
    }
    let question = format!("Delete the {matching} notes that contain \"{query}\"?");
    match ctx.elicit::<Confirm>(question).await? {
        Answer::Accept(Confirm { confirm: true }) => {}
        _ => return Ok("kept them".into()),
    }
    let deleted = diesel::delete(notes::table.filter(notes::text.like(&pattern).escape('\\')))
        .execute(db)
        .await?;
    ctx.resource_changed("notes://recent");
    Ok(format!("deleted {deleted} notes"))
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
    async fn a_reminder_runs_as_a_job() {
        let server = TestServer::new().await.expect("a test server");
        let added = server
            .call("notes_add", json!({"text": "water the mango tree"}))
            .await
            .expect("add");
        let id = added.json()["id"].as_i64().expect("an id");
        let r = server
            .call("notes_remind", json!({"id": id, "minutes": 0}))
            .await
            .expect("remind");
        assert!(r.text().starts_with("reminding of note"), "{}", r.text());
        let r = server
            .call("notes_remind", json!({"id": 999, "minutes": 0}))
            .await
            .expect("remind");
        assert!(r.is_error(), "{}", r.text());
        assert_eq!(server.run_jobs().await.expect("run"), 1);
        let jobs = server.jobs().await.expect("jobs");
        assert_eq!(jobs[0]["status"], "completed", "{jobs:?}");
        assert_eq!(jobs[0]["result"], r#""reminder: water the mango tree""#);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_export_runs_as_a_task() {
        let server = TestServer::new().await.expect("a test server");
        for n in 0..1200 {
            server
                .call("notes_add", json!({"text": format!("note {n}")}))
                .await
                .expect("add");
        }
        let task = server
            .run_task("notes_export_all", json!({}))
            .await
            .expect("the task");
        assert_eq!(task.status, "completed", "{task:?}");
        let text = task.result.expect("a result").text();
        assert_eq!(text.lines().count(), 1200);
        assert!(
            text.starts_with(r#"{"id":1,"text":"note 0"}"#),
            "{text:.60}"
        );
        // Its progress, as a client polling it saw it (at least the last batch's).
        assert!(
            task.messages
                .iter()
                .any(|m| m.ends_with("/1200: notes exported")),
            "{:?}",
            task.messages
        );
    }

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

    /// The model's tools: a filtered, ordered page, then the next one by its cursor.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_model_finds_notes_a_page_at_a_time() {
        let server = TestServer::new().await.expect("a test server");
        for text in ["tea at five", "more tea", "coffee", "green tea"] {
            let r = server.call("notes_add", json!({"text": text})).await;
            assert!(r.is_ok_and(|r| !r.is_error()));
        }
        let args = json!({"filter": {"text": {"icontains": "TEA"}}, "order": "-id", "limit": 2, "count": true});
        let page = server
            .call("notes_note_query", args)
            .await
            .expect("query")
            .json();
        assert_eq!(page["total"], 3, "{page}");
        assert_eq!(page["rows"][0]["text"], "green tea");
        assert_eq!(page["rows"][1]["text"], "more tea");
        let args = json!({"filter": {"text": {"icontains": "TEA"}}, "order": "-id", "limit": 2, "cursor": page["next_cursor"]});
        let rest = server
            .call("notes_note_query", args)
            .await
            .expect("query")
            .json();
        assert_eq!(rest["rows"][0]["text"], "tea at five", "{rest}");
        assert!(rest.get("next_cursor").is_none());
        let one = server
            .call("notes_note_get", json!({"id": 3}))
            .await
            .expect("get");
        assert_eq!(one.json()["text"], "coffee");
    }

    /// `clean_up` asks first, in both protocol eras (on 2026-07-28 the call runs twice:
    /// its first round asks and keeps nothing).
    #[tokio::test(flavor = "multi_thread")]
    async fn clean_up_asks_before_it_deletes() {
        use mango_rt::testing::{Era, Reply};
        for era in [Era::Sessions, Era::Rounds] {
            let server = TestServer::new().await.expect("a test server");
            server.set_era(era);
            for text in ["tea at five", "more tea", "coffee"] {
                let r = server.call("notes_add", json!({"text": text})).await;
                assert!(r.is_ok_and(|r| !r.is_error()));
            }
            server.reply([Reply::Decline, Reply::Accept(json!({"confirm": true}))]);
            let kept = server
                .call("notes_clean_up", json!({"query": "tea"}))
                .await
                .expect("clean_up");
            assert_eq!(kept.text(), "kept them");
            let done = server
                .call("notes_clean_up", json!({"query": "tea"}))
                .await
                .expect("clean_up");
            assert_eq!(done.text(), "deleted 2 notes", "{era:?}");
            let left = server.call("notes_list", json!({})).await.expect("list");
            assert_eq!(left.json()["result"][0]["text"], "coffee");
            let asked = server.questions();
            assert_eq!(asked[0].message, "Delete the 2 notes that contain \"tea\"?");
        }
    }

    /// With the example's middleware listed, as in its Mango.toml.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_middleware_trims_and_refuses() {
        let mut settings = mango_rt::Settings::default();
        settings.middleware = vec!["notes.reject_long_text".into(), "notes.trim_text".into()];
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
    async fn notes_are_resources_and_a_prompt_summarizes_them() {
        let server = TestServer::new().await.expect("a test server");
        for text in ["tea is green", "coffee is black", "tea is warm"] {
            let added = server
                .call("notes_add", json!({"text": text}))
                .await
                .expect("add");
            assert!(!added.is_error(), "{}", added.text());
        }
        let one = server.read("notes://2").await.expect("a read");
        assert_eq!(one["contents"][0]["text"], "coffee is black");
        let recent = server.read("notes://recent").await.expect("a read");
        assert!(
            recent["contents"][0]["text"]
                .as_str()
                .unwrap_or("")
                .contains("tea is warm")
        );
        let prompt = server
            .get_prompt("notes_summarize", json!({"topic": "tea"}))
            .await
            .expect("a prompt");
        assert_eq!(
            prompt["messages"][0]["content"]["text"],
            "Summarize these notes about tea in three sentences:\n- tea is green\n- tea is warm"
        );
        let ids = server
            .complete_resource("notes://{id}", "id", "", &[])
            .await
            .expect("a completion");
        assert_eq!(ids, ["1", "2", "3"]);
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
