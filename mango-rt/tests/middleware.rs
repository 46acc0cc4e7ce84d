//! The middleware chain in process, through the public API (`TestServer` and the
//! macros): order, short-circuit, changed arguments, extensions, the target, rollback on
//! error and panic, the built-in rate limit and timeout. No project is built, no client
//! is started.

use mango_rt::db::{Db, RunQueryDsl};
use mango_rt::diesel;
use mango_rt::testing::{TestResult, TestServer};
use mango_rt::{
    Context, ListRequest, Listed, Middleware, Next, Output, Request, Response, Settings, ToolError,
    middleware, prompt, resource, tool,
};
use serde_json::{Value, json};

/// The steps the middleware took, in order (in the request's extensions).
#[derive(Clone, Default)]
struct Trail(Vec<String>);

fn step(req: &mut Request, name: &str) {
    let mut trail = req.extensions.get::<Trail>().cloned().unwrap_or_default();
    trail.0.push(name.to_owned());
    req.extensions.insert(trail);
}

fn append(response: &mut Response, tag: &str) {
    if let Output::Text(text) = &mut response.output {
        text.push_str(tag);
    }
}

fn flag(req: &mut Request, name: &str) -> bool {
    req.arguments.remove(name) == Some(Value::Bool(true))
}

/// Around style: records the target; `stop: true` answers without calling the rest.
#[middleware]
async fn first(req: &mut Request, next: Next) -> Response {
    let target = format!("first({} {})", req.target.kind, req.target.name);
    step(req, &target);
    if flag(req, "stop") {
        return Response::error("stopped by first");
    }
    let mut response = next.run(req).await;
    append(&mut response, " <first");
    response
}

/// Django style: upper-cases `label`; `audit: true` writes a row of its own in the
/// call's transaction; `explode: true` panics.
#[middleware]
struct Second;

impl Middleware for Second {
    async fn process_request(&self, req: &mut Request) -> Option<Response> {
        step(req, "second");
        if let Some(Value::String(label)) = req.arguments.get_mut("label") {
            *label = label.to_uppercase();
        }
        if flag(req, "explode") {
            panic!("middleware panicking on purpose");
        }
        if flag(req, "audit") {
            let mut db = match req.db().await {
                Ok(db) => db,
                Err(e) => return Some(Response::error(e)),
            };
            if let Err(e) = insert("audit", &mut db).await {
                return Some(Response::error(e));
            }
        }
        None
    }

    async fn process_response(&self, _req: &Request, response: &mut Response) {
        append(response, " <second");
    }

    async fn list_tools(&self, _req: &ListRequest, tools: &mut Vec<Listed>) {
        tools.retain(|t| !t.name().ends_with("_secret"));
        for tool in tools.iter_mut() {
            if tool.name() == "mango-rt_count" {
                tool.set_description("Counted (described by middleware).");
                tool.meta_mut().insert("seen-by".into(), "second".into());
            }
        }
    }

    async fn list_resources(&self, _req: &ListRequest, resources: &mut Vec<Listed>) {
        resources.retain(|r| !r.uri().is_some_and(|uri| uri.starts_with("secret://")));
    }

    async fn list_prompts(&self, _req: &ListRequest, prompts: &mut Vec<Listed>) {
        prompts.retain(|p| !p.name().ends_with("_secret"));
    }
}

/// Hidden from the lists by `second`.
#[tool]
async fn tool_secret() {}

/// Hidden from the lists by `second`.
#[resource("secret://plans")]
async fn plans() -> String {
    "hush".into()
}

/// Shown.
#[resource("open://plans")]
async fn open_plans() -> String {
    "hello".into()
}

/// Hidden from the lists by `second`.
#[prompt]
async fn prompt_secret() -> String {
    "hush".into()
}

async fn insert(label: &str, db: &mut Db) -> Result<(), ToolError> {
    diesel::sql_query("INSERT INTO rows (label) VALUES (?)")
        .bind::<diesel::sql_types::Text, _>(label)
        .execute(db)
        .await?;
    Ok(())
}

/// Creates the table the other tools write to.
#[tool]
async fn setup(db: &mut Db) -> Result<(), ToolError> {
    diesel::sql_query("CREATE TABLE IF NOT EXISTS rows (label TEXT NOT NULL)")
        .execute(db)
        .await?;
    Ok(())
}

/// Writes a row, then (as asked) sleeps, panics or fails; answers with the label it
/// got and the trail of the middleware before it.
#[tool]
async fn record(
    label: String,
    #[serde(default)] sleep_ms: u64,
    #[serde(default)] panic: bool,
    #[serde(default)] fail: bool,
    ctx: &Context,
    db: &mut Db,
) -> Result<String, ToolError> {
    insert(&label, db).await?;
    if sleep_ms > 0 {
        mango_rt::tokio::time::sleep(std::time::Duration::from_millis(sleep_ms)).await;
    }
    if panic {
        panic!("tool panicking on purpose");
    }
    if fail {
        return Err(ToolError::new("failing on purpose"));
    }
    let trail = ctx
        .extension::<Trail>()
        .map(|t| t.0.join(","))
        .unwrap_or_default();
    Ok(format!("{label}|{trail}"))
}

/// How many rows there are.
#[tool(read_only)]
async fn count(db: &mut Db) -> Result<i64, ToolError> {
    Ok(
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT COUNT(*) FROM rows")
            .get_result(db)
            .await?,
    )
}

async fn server(middleware: &[&str], tweak: impl FnOnce(&mut Settings)) -> TestServer {
    let mut settings = Settings::default();
    settings.middleware = middleware.iter().map(|m| (*m).to_owned()).collect();
    tweak(&mut settings);
    let server = match TestServer::with_settings(settings).await {
        Ok(server) => server,
        Err(e) => panic!("{e}"),
    };
    let done = call(&server, "setup", json!({})).await;
    assert!(!done.is_error(), "{}", done.text());
    server
}

async fn call(server: &TestServer, tool: &str, args: Value) -> TestResult {
    match server.call(&format!("mango-rt_{tool}"), args).await {
        Ok(result) => result,
        Err(e) => panic!("{e}"),
    }
}

async fn rows(server: &TestServer) -> i64 {
    call(server, "count", json!({})).await.json()["result"]
        .as_i64()
        .unwrap_or(-1)
}

const CHAIN: &[&str] = &["mango-rt.first", "mango-rt.second"];

#[tokio::test(flavor = "multi_thread")]
async fn the_chain_runs_in_order_and_can_change_the_arguments() {
    let server = server(CHAIN, |_| {}).await;
    let r = call(&server, "record", json!({"label": "abc"})).await;
    assert_eq!(
        r.text(),
        "ABC|first(tool mango-rt_record),second <second <first",
        "request phase top-down, response phase bottom-up"
    );
    assert_eq!(rows(&server).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_middleware_that_answers_stops_the_call() {
    let server = server(CHAIN, |_| {}).await;
    let r = call(&server, "record", json!({"label": "x", "stop": true})).await;
    assert!(
        r.is_error() && r.text() == "stopped by first",
        "{}",
        r.text()
    );
    assert_eq!(rows(&server).await, 0, "the tool did not run");
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_and_panics_roll_back_the_tool_and_the_middleware() {
    let server = server(CHAIN, |_| {}).await;
    let r = call(
        &server,
        "record",
        json!({"label": "a", "audit": true, "fail": true}),
    )
    .await;
    assert!(
        r.is_error() && r.text().contains("failing on purpose"),
        "{}",
        r.text()
    );
    let r = call(
        &server,
        "record",
        json!({"label": "b", "audit": true, "panic": true}),
    )
    .await;
    assert!(
        r.is_error()
            && r.text()
                .contains("the tool panicked: tool panicking on purpose"),
        "{}",
        r.text()
    );
    let r = call(&server, "record", json!({"label": "c", "explode": true})).await;
    assert!(
        r.is_error() && r.text().contains("the middleware panicked"),
        "{}",
        r.text()
    );
    assert_eq!(rows(&server).await, 0, "nothing of a failed call is kept");
    let r = call(&server, "record", json!({"label": "d", "audit": true})).await;
    assert!(!r.is_error(), "{}", r.text());
    assert_eq!(
        rows(&server).await,
        2,
        "the tool's row and the middleware's"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_limit_belongs_to_the_server() {
    let limited = |s: &mut Settings| {
        s.rate_limit.per_minute = 1;
        s.rate_limit.burst = 2;
    };
    let one = server(&["mango.rate_limit"], limited).await;
    // `setup` took one call of the burst.
    let r = call(&one, "count", json!({})).await;
    assert!(!r.is_error(), "{}", r.text());
    let r = call(&one, "count", json!({})).await;
    assert!(
        r.is_error() && r.text().contains("rate limit") && r.text().contains("in-process"),
        "{}",
        r.text()
    );
    // Another server in the same process has buckets of its own.
    let two = server(&["mango.rate_limit"], limited).await;
    let r = call(&two, "count", json!({})).await;
    assert!(!r.is_error(), "{}", r.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_past_the_timeout_is_stopped_and_rolled_back() {
    let server = server(&["mango.timeout"], |s| s.timeout.seconds = 0.3).await;
    let started = std::time::Instant::now();
    let r = call(
        &server,
        "record",
        json!({"label": "slow", "sleep_ms": 5000}),
    )
    .await;
    assert!(
        r.is_error() && r.text().contains("ran longer than 0.3 s"),
        "{}",
        r.text()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(rows(&server).await, 0);
    let r = call(&server, "record", json!({"label": "quick"})).await;
    assert!(!r.is_error(), "{}", r.text());
    assert_eq!(rows(&server).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_middleware_stops_start_up_with_the_known_names() {
    let mut settings = Settings::default();
    settings.middleware = vec!["mango-rt.nope".into()];
    let message = match TestServer::with_settings(settings).await {
        Ok(_) => panic!("a server started with an unknown middleware"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains("`mango-rt.nope`")
            && message.contains("mango-rt.first")
            && message.contains("mango.timeout"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_hooks_hide_items_of_every_list() {
    let server = server(CHAIN, |_| {}).await;
    let lists = server.lists().await;
    let tools: Vec<&str> = lists.tools.iter().map(|t| t.name()).collect();
    assert!(
        !tools.contains(&"mango-rt_tool_secret") && tools.contains(&"mango-rt_record"),
        "{tools:?}"
    );
    // A hook changes what the client reads of an item: its description, its `_meta`.
    let count = lists.tools.iter().find(|t| t.name() == "mango-rt_count");
    let count = count.map(|t| t.to_json()).unwrap_or_default();
    assert_eq!(count["description"], "Counted (described by middleware).");
    assert_eq!(count["_meta"]["seen-by"], "second", "{count}");
    let uris: Vec<&str> = lists.resources.iter().filter_map(|r| r.uri()).collect();
    assert_eq!(uris, ["open://plans"]);
    assert!(lists.prompts.is_empty(), "{:?}", lists.prompts);
    // Without the middleware, everything is listed.
    let plain = server_without_middleware().await;
    assert_eq!(plain.lists().await.resources.len(), 2);
    assert_eq!(plain.lists().await.prompts.len(), 1);
}

async fn server_without_middleware() -> TestServer {
    match TestServer::new().await {
        Ok(server) => server,
        Err(e) => panic!("{e}"),
    }
}
