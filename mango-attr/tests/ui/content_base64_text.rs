use mango_rt::Content;

/// A picture given as base64 text to the constructor that takes bytes.
#[mango_rt::tool]
async fn picture() -> Content {
    Content::image("iVBORw0KGgo=", "image/png")
}

fn main() {}
