//! The `{{app_name}}` app.
//!
//! Every `#[tool]` here is served by `cargo mango serve` as `{{app_name}}_<fn name>`:
//! its doc comment is the tool's description, its parameters are the tool's arguments.
//! A tool that takes `db: &mut Db` gets a database connection, in a transaction that is
//! committed when it returns `Ok` and rolled back otherwise. `#[resource]` serves data
//! at a URI, `#[prompt]` a reusable prompt, `#[completion]` suggests argument values.

use diesel::prelude::*;
use mango_rt::db::{Db, RunQueryDsl};
use mango_rt::{
    Middleware, Next, Request, Response, ToolError, command, completion, middleware, prompt,
    resource, tool,
};

mod schema;

use schema::{{app_name}}_items;

// This app's migrations (migrations/), applied by `cargo mango migrate`.
mango_rt::migrations!();

/// An item, as stored in the `{{app_name}}_items` table and returned by the tools.
///
/// `#[mango_rt::model]` also serves the table as read-only tools (`{{app_name}}_item_query`:
/// filters, order, pages, a count; `_get`; `_aggregate`) and a resource per row;
/// `#[mango_rt::model(write)]` adds create, update and delete. Over HTTP they need the
/// scope `{{app_name}}_items:read` (`scopes = []` serves them to anyone). See the guide's
/// "Models: expose a table".
#[mango_rt::model]
#[mango_rt::data]
#[derive(Queryable, Selectable)]
#[diesel(table_name = {{app_name}}_items)]
pub struct Item {
    pub id: i64,
    pub name: String,
}

/// Say hello to someone.
#[tool(read_only)]
async fn hello(
    /// Who to greet.
    name: String,
) -> String {
    format!("Hello, {name}!")
}

/// Add an item; returns it with its id.
#[tool]
async fn add_item(
    /// The item's name.
    name: String,
    db: &mut Db,
) -> Result<Item, ToolError> {
    let item = diesel::insert_into({{app_name}}_items::table)
        .values({{app_name}}_items::name.eq(&name))
        .returning(Item::as_returning())
        .get_result(db)
        .await?;
    Ok(item)
}

/// List the items, newest first.
#[tool(read_only)]
async fn list_items(db: &mut Db) -> Result<Vec<Item>, ToolError> {
    let items = {{app_name}}_items::table
        .order({{app_name}}_items::id.desc())
        .select(Item::as_select())
        .load(db)
        .await?;
    Ok(items)
}

/// How many items there are: a resource, read at `{{app_scheme}}://count`.
#[resource("{{app_scheme}}://count")]
async fn item_count(db: &mut Db) -> Result<String, ToolError> {
    let count: i64 = {{app_name}}_items::table.count().get_result(db).await?;
    Ok(format!("{count} items"))
}

/// One item, by id: a resource template (`{{app_scheme}}://items/1` …), its JSON.
#[resource("{{app_scheme}}://items/{id}", complete(id = item_ids))]
async fn item(id: i64, db: &mut Db) -> Result<Item, ToolError> {
    let item = {{app_name}}_items::table
        .find(id)
        .select(Item::as_select())
        .first(db)
        .await
        .optional()?;
    item.ok_or_else(|| ToolError::new(format!("there is no item {id}")))
}

/// The ids of the items that start with the digits typed so far (for clients that
/// complete the template's `{id}`).
#[completion]
async fn item_ids(value: String, db: &mut Db) -> Result<Vec<String>, ToolError> {
    let ids: Vec<i64> = {{app_name}}_items::table
        .select({{app_name}}_items::id)
        .order({{app_name}}_items::id)
        .limit(1000)
        .load(db)
        .await?;
    Ok(ids
        .into_iter()
        .map(|id| id.to_string())
        .filter(|id| id.starts_with(&value))
        .collect())
}

/// Ask the model for a name for a new item.
#[prompt]
async fn suggest_name(
    /// What the item is for.
    purpose: String,
) -> String {
    format!("Suggest a short name for an item used for {purpose}.")
}

/// Print how many items there are: `cargo mango run {{app_name}}_report`.
///
/// A management command: it takes injected values like a tool, and its own arguments
/// (`--verbose` here) from the command line.
#[command]
async fn {{app_name}}_report(
    /// List the items too.
    verbose: bool,
    db: &mut Db,
) -> Result<String, ToolError> {
    let items: Vec<Item> = {{app_name}}_items::table
        .order({{app_name}}_items::id)
        .select(Item::as_select())
        .load(db)
        .await?;
    let mut report = format!("{} items", items.len());
    if verbose {
        for item in &items {
            report.push_str(&format!("\n{:>6}  {}", item.id, item.name));
        }
    }
    Ok(report)
}

/// Middleware, around style: runs around every tool call once Mango.toml lists it
/// (`middleware = ["{{app_name}}.log_slow_calls"]`).
#[middleware]
async fn log_slow_calls(req: &mut Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    if started.elapsed() > std::time::Duration::from_secs(1) {
        mango_rt::tracing::warn!(name = req.target.name, "slow call: {:?}", started.elapsed());
    }
    response
}

/// Middleware, Django style (`middleware = ["{{app_name}}.trim_arguments"]`): trims
/// the spaces around every text argument before the tool sees it.
#[middleware]
struct TrimArguments;

impl Middleware for TrimArguments {
    async fn process_request(&self, req: &mut Request) -> Option<Response> {
        for value in req.arguments.values_mut() {
            if let mango_rt::serde_json::Value::String(text) = value {
                *text = text.trim().to_owned();
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mango_rt::serde_json::json;
    use mango_rt::testing::TestServer;

    #[tokio::test]
    async fn hello_greets_by_name() {
        assert_eq!(hello("Ada".into()).await, "Hello, Ada!");
    }

    /// Through the whole pipeline, with a fresh migrated database.
    #[tokio::test(flavor = "multi_thread")]
    async fn added_items_are_listed() {
        let server = TestServer::new().await.expect("a test server");
        let added = server
            .call("{{app_name}}_add_item", json!({"name": "first"}))
            .await
            .expect("the tool exists");
        assert!(!added.is_error(), "{}", added.text());
        let listed = server
            .call("{{app_name}}_list_items", json!({}))
            .await
            .expect("the tool exists");
        assert_eq!(listed.json()["result"][0]["name"], "first");
        let one = server.read("{{app_scheme}}://items/1").await.expect("a read");
        assert_eq!(one["contents"][0]["text"], r#"{"id":1,"name":"first"}"#);
        let ids = server
            .complete_resource("{{app_scheme}}://items/{id}", "id", "1", &[])
            .await
            .expect("a completion");
        assert_eq!(ids, ["1"]);
        // The model's query tool finds it by a filter on its name.
        let found = server
            .call(
                "{{app_name}}_item_query",
                json!({"filter": {"name": {"icontains": "FIR"}}, "count": true}),
            )
            .await
            .expect("the tool exists");
        assert_eq!(found.json()["total"], 1, "{}", found.text());
        assert_eq!(found.json()["rows"][0]["name"], "first");
    }
}
