use mango_rt::db::Db;
use mango_rt::{Context, prompt, tool};

/// The context taken by value, as in FastMCP.
#[tool]
async fn whoami(ctx: Context) -> String {
    ctx.target().name.to_owned()
}

/// The database connection taken by value.
#[tool]
async fn count(db: Db, table: String) -> String {
    let _ = db;
    table
}

/// A prompt's context taken by value.
#[prompt]
async fn hello(ctx: Context, name: String) -> String {
    format!("{} says hello to {name}", ctx.target().name)
}

fn main() {}
