//! What the guide's Rust snippets take as given: the rest of the app each is cut from
//! (its table, its model, its settings, the helpers it calls). `tests/tests/fixtures.rs`
//! builds every snippet of README.md and docs/guide/*.md as an app of its own, with
//! this module beside it (`use guide_prelude::*;`: what a snippet defines itself comes
//! first).

pub use diesel::prelude::*;
pub use mango_rt::db::{Db, RunQueryDsl};
pub use mango_rt::{
    Content, Context, ListRequest, Listed, Message, Middleware, Next, Request, Response, ToolError,
    command, completion, middleware, prompt, resource, tool,
};

diesel::table! {
    notes (id) {
        id -> BigInt,
        text -> Text,
    }
}

/// A note.
#[mango_rt::data]
#[derive(Queryable, Selectable)]
#[diesel(table_name = notes)]
pub struct Note {
    pub id: i64,
    pub text: String,
}

/// The app's settings.
#[mango_rt::settings]
pub struct Settings {
    pub page_size: u32,
    pub catalog: String,
}

/// The numbers a chart shows.
#[mango_rt::data]
pub struct Stats {
    pub count: i64,
}

pub async fn load(db: &mut Db) -> Result<Stats, ToolError> {
    let count = notes::table.count().get_result(db).await?;
    Ok(Stats { count })
}

pub async fn render_png(db: &mut Db) -> Result<Vec<u8>, ToolError> {
    let stats = load(db).await?;
    Ok(format!("\u{89}PNG {}", stats.count).into_bytes())
}

pub async fn archive(topic: &str, db: &mut Db) -> Result<usize, ToolError> {
    let about = notes::table.filter(notes::text.like(format!("%{topic}%")));
    Ok(about.count().get_result::<i64>(db).await? as usize)
}

pub async fn delete_archived(topic: &str, db: &mut Db) -> Result<usize, ToolError> {
    let about = notes::table.filter(notes::text.like(format!("%{topic}%")));
    Ok(diesel::delete(about).execute(db).await?)
}

pub async fn read_entries(path: &str, db: &mut Db) -> Result<Vec<String>, ToolError> {
    let _ = path;
    Ok(notes::table.select(notes::text).load(db).await?)
}
