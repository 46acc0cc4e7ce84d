//! The `{{app_name}}` app.
//!
//! Every `#[tool]` here is served by `cargo mango serve` as `{{app_name}}_<fn name>`:
//! its doc comment is the tool's description, its parameters are the tool's arguments.

use mango_rt::tool;

/// Say hello to someone.
#[tool(read_only)]
async fn hello(
    /// Who to greet.
    name: String,
) -> String {
    format!("Hello, {name}!")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hello_greets_by_name() {
        assert_eq!(hello("Ada".into()).await, "Hello, Ada!");
    }
}
