//! Resources and resource templates in process, through the public API: listing,
//! reading text, JSON and bytes, typed template variables, errors, middleware.

use mango_rt::testing::{TestError, TestServer};
use mango_rt::{Next, Request, Response, Settings, ToolError, completion, middleware, resource};
use serde_json::{Value, json};

/// What the server is about.
#[resource("docs://readme", title = "Read me")]
async fn readme() -> String {
    "hello from a resource".into()
}

/// Counters, as JSON.
#[resource("stats://counters")]
async fn counters() -> Value {
    json!({"notes": 3})
}

/// A tiny picture.
#[resource("images://dot.png", mime_type = "image/png")]
fn dot() -> Vec<u8> {
    vec![137, 80, 78, 71]
}

/// The ids of the notes that start with what was typed.
#[completion]
async fn note_ids(value: String) -> Vec<String> {
    ["1", "12", "2"]
        .iter()
        .filter(|id| id.starts_with(&value))
        .map(|id| (*id).to_owned())
        .collect()
}

/// One note, by id (ids are positive).
#[resource("notes://{id}", mime_type = "text/markdown", complete(id = note_ids))]
async fn note(id: i64) -> mango_rt::Result<String> {
    if id <= 0 {
        return Err(ToolError::new(format!("there is no note {id}")));
    }
    Ok(format!("# Note {id}"))
}

/// A file under a folder (the path may hold `/`).
#[resource("files://{+path}")]
async fn file(path: String) -> String {
    format!("the file {path}")
}

/// A folder: several contents, each with its URI and type.
#[resource("folder://docs")]
async fn folder() -> Vec<mango_rt::Content> {
    vec![
        mango_rt::Content::embedded_text("folder://docs/a.md", "# A", "text/markdown"),
        mango_rt::Content::embedded_blob(
            "folder://docs/b.bin",
            [1u8, 2],
            "application/octet-stream",
        ),
    ]
}

/// Panics on purpose.
#[resource("boom://now")]
async fn boom() -> String {
    panic!("resource panicking on purpose")
}

/// Records what middleware sees.
#[middleware]
async fn seen(req: &mut Request, next: Next) -> Response {
    let seen = format!(
        "{} {} {:?}",
        req.target.kind, req.target.name, req.arguments
    );
    let mut response = next.run(req).await;
    if let mango_rt::Output::Text(text) = &mut response.output {
        text.push_str(&format!(" [{seen}]"));
    }
    response
}

async fn server() -> TestServer {
    match TestServer::new().await {
        Ok(server) => server,
        Err(e) => panic!("{e}"),
    }
}

async fn read(server: &TestServer, uri: &str) -> Value {
    match server.read(uri).await {
        Ok(result) => serde_json::to_value(result).unwrap_or_default(),
        Err(e) => panic!("{uri}: {e}"),
    }
}

async fn refused(server: &TestServer, uri: &str) -> (i32, String) {
    match server.read(uri).await {
        Err(TestError::Protocol { code, message }) => (code, message),
        other => panic!("{uri} was not refused: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn resources_and_templates_are_listed_sorted() {
    let server = server().await;
    let resources = server.resources();
    let uris: Vec<&str> = resources.iter().filter_map(|r| r.uri()).collect();
    assert_eq!(
        uris,
        [
            "boom://now",
            "docs://readme",
            "folder://docs",
            "images://dot.png",
            "stats://counters"
        ]
    );
    let readme = &resources[1];
    assert_eq!(
        (readme.name(), readme.title(), readme.description()),
        ("readme", Some("Read me"), Some("What the server is about."))
    );
    let templates = server.resource_templates();
    let uris: Vec<&str> = templates.iter().filter_map(|t| t.uri()).collect();
    assert_eq!(uris, ["files://{+path}", "notes://{id}"]);
    assert_eq!(templates[1].to_json()["mimeType"], "text/markdown");
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_give_text_json_and_bytes() {
    let server = server().await;
    let r = read(&server, "docs://readme").await;
    assert_eq!(
        r["contents"],
        json!([{"uri": "docs://readme", "mimeType": "text/plain", "text": "hello from a resource"}])
    );
    let r = read(&server, "stats://counters").await;
    assert_eq!(r["contents"][0]["mimeType"], "application/json");
    assert_eq!(r["contents"][0]["text"], r#"{"notes":3}"#);
    let r = read(&server, "images://dot.png").await;
    assert_eq!(r["contents"][0]["blob"], "iVBORw==");
    assert_eq!(r["contents"][0]["mimeType"], "image/png");
    let r = read(&server, "folder://docs").await;
    assert_eq!(
        r["contents"],
        json!([
            {"uri": "folder://docs/a.md", "mimeType": "text/markdown", "text": "# A"},
            {"uri": "folder://docs/b.bin", "mimeType": "application/octet-stream", "blob": "AQI="}
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn templates_parse_their_variables() {
    let server = server().await;
    let r = read(&server, "notes://42").await;
    assert_eq!(
        r["contents"],
        json!([{"uri": "notes://42", "mimeType": "text/markdown", "text": "# Note 42"}])
    );
    let r = read(&server, "files://a/b/c.txt").await;
    assert_eq!(r["contents"][0]["text"], "the file a/b/c.txt");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_reads_are_clean_errors_and_the_server_goes_on() {
    let server = server().await;
    let (code, message) = refused(&server, "notes://abc").await;
    assert_eq!(code, -32602);
    assert!(
        message.contains("invalid value `abc` for `id`"),
        "{message}"
    );
    let (code, message) = refused(&server, "docs://readm").await;
    assert_eq!(code, -32602);
    assert!(
        message.contains("no resource has the URI `docs://readm`")
            && message.contains("did you mean `docs://readme`"),
        "{message}"
    );
    let (code, message) = refused(&server, "notes://-1").await;
    assert_eq!(code, -32603);
    assert!(message.contains("there is no note -1"), "{message}");
    let (_, message) = refused(&server, "boom://now").await;
    assert!(
        message.contains("the resource panicked: resource panicking on purpose"),
        "{message}"
    );
    let r = read(&server, "notes://1").await;
    assert_eq!(r["contents"][0]["text"], "# Note 1");
}

#[tokio::test(flavor = "multi_thread")]
async fn middleware_sees_resource_reads() {
    let mut settings = Settings::default();
    settings.middleware = vec!["mango-rt.seen".into()];
    let server = match TestServer::with_settings(settings).await {
        Ok(server) => server,
        Err(e) => panic!("{e}"),
    };
    let r = read(&server, "notes://7").await;
    assert_eq!(
        r["contents"][0]["text"],
        r#"# Note 7 [resource note {"id": String("7")}]"#
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn template_variables_are_completed() {
    let server = server().await;
    let ids = server
        .complete_resource("notes://{id}", "id", "1", &[])
        .await;
    assert_eq!(ids.ok(), Some(vec!["1".to_owned(), "12".to_owned()]));
    match server
        .complete_resource("notes://{id}", "name", "1", &[])
        .await
    {
        Err(TestError::Protocol { code, message }) => {
            assert_eq!(code, -32602);
            assert!(message.contains("no variable `name`"), "{message}");
        }
        other => panic!("an unknown variable was completed: {other:?}"),
    }
    match server
        .complete_resource("notes://{nope}", "id", "1", &[])
        .await
    {
        Err(TestError::Protocol { message, .. }) => {
            assert!(message.contains("no resource template"), "{message}")
        }
        other => panic!("an unknown template was completed: {other:?}"),
    }
}
