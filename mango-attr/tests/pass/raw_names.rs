// Raw identifiers name items by the word itself: `type`, `match`, `async`.
use mango_rt::{Next, Request, Response};

#[mango_rt::tool]
async fn r#type(value: String) -> String {
    value
}

#[mango_rt::command]
fn r#match() -> String {
    String::new()
}

#[mango_rt::middleware]
async fn r#async(req: &mut Request, next: Next) -> Response {
    next.run(req).await
}

pub fn main() {
    let _ = r#type;
    let _ = r#match;
    let _ = r#async;
}
