//! The `greetings` app: a tool that reads its settings from Mango.toml and talks back
//! to the client through its `Context`.

use mango_rt::{Context, settings, tool};

/// `[default.apps.greetings]` in Mango.toml.
#[settings]
struct Settings {
    /// How greetings start ("Hello" unless set).
    #[serde(default = "hello")]
    greeting: String,
}

fn hello() -> String {
    "Hello".into()
}

/// Greet someone, the way Mango.toml says.
#[tool(read_only)]
async fn greet(
    /// Who to greet.
    name: String,
    settings: &Settings,
    ctx: &Context,
) -> String {
    ctx.info(format!("greeting {name}")).await;
    format!("{}, {name}!", settings.greeting)
}
