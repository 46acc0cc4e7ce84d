//! A `#[model]`'s tools, in process on SQLite: filters, orders, pages through 1,000 rows,
//! the count, get; and every bad input a clean error that changes nothing.

use diesel_async::SimpleAsyncConnection;
use mango_rt::testing::{Reply, TestResult, TestServer};
use serde_json::{Value, json};

diesel::table! {
    notes (id) {
        id -> BigInt,
        text -> Text,
        author -> Nullable<Text>,
        score -> Integer,
        secret -> Text,
    }
}

/// A note.
#[mango_rt::model]
#[derive(diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = notes)]
#[allow(dead_code)]
struct Note {
    id: i64,
    /// What the note says.
    text: String,
    /// Who wrote it, when known.
    author: Option<String>,
    score: i32,
    #[model(hidden)]
    secret: String,
}

diesel::table! {
    diary (id) {
        id -> BigInt,
        owner -> Text,
        entry -> Text,
    }
}

/// A diary entry: each caller sees only their own.
#[mango_rt::model(scope = own_entries)]
#[derive(diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = diary)]
#[allow(dead_code)]
struct Entry {
    id: i64,
    owner: String,
    entry: String,
}

fn own_entries(ctx: &mango_rt::Context) -> mango_rt::db::RowFilter<diary::table> {
    use diesel::ExpressionMethods;
    let me = ctx
        .identity()
        .map(|i| i.subject().to_owned())
        .unwrap_or_default();
    Box::new(diary::owner.eq(me))
}

diesel::table! {
    tags (id) {
        id -> BigInt,
        label -> Text,
        note -> Nullable<Text>,
        owner -> Text,
        created -> Text,
    }
}

/// A tag: written through the model's tools, each caller's own.
#[mango_rt::model(write, confirm_delete, clean = clean_tag, scope = own_tags)]
#[derive(diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = tags)]
#[allow(dead_code)]
struct Tag {
    id: i64,
    /// The tag's label (lower case, unique).
    label: String,
    note: Option<String>,
    #[model(hidden)]
    owner: String,
    #[model(read_only)]
    created: String,
}

fn me(ctx: &mango_rt::Context) -> String {
    ctx.identity()
        .map(|i| i.subject().to_owned())
        .unwrap_or_default()
}

/// Django's `clean`: refuses an empty label, keeps labels in lower case, and makes the
/// caller the owner.
fn clean_tag(tag: &mut Tag, ctx: &mango_rt::Context) -> Result<(), mango_rt::ToolError> {
    if tag.label.trim().is_empty() {
        return Err(mango_rt::ToolError::new("`label`: a tag needs a label"));
    }
    tag.label = tag.label.trim().to_lowercase();
    if tag.label == "steal" {
        tag.owner = "mallory".into();
    } else {
        tag.owner = me(ctx);
    }
    Ok(())
}

fn own_tags(ctx: &mango_rt::Context) -> mango_rt::db::RowFilter<tags::table> {
    use diesel::ExpressionMethods;
    Box::new(tags::owner.eq(me(ctx)))
}

diesel::table! {
    writers (id) {
        id -> BigInt,
        name -> Text,
        owner -> Text,
    }
}

diesel::table! {
    books (id) {
        id -> BigInt,
        title -> Text,
        writer -> Nullable<BigInt>,
        pages -> Integer,
        price -> Double,
        out -> Bool,
    }
}

diesel::allow_tables_to_appear_in_same_query!(writers, books);

/// Someone who writes books; each caller sees the writers they own.
#[mango_rt::model(scope = own_writers)]
#[derive(diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = writers)]
#[allow(dead_code)]
struct Writer {
    id: i64,
    name: String,
    #[model(hidden)]
    owner: String,
}

fn own_writers(ctx: &mango_rt::Context) -> mango_rt::db::RowFilter<writers::table> {
    use diesel::ExpressionMethods;
    Box::new(writers::owner.eq(me(ctx)))
}

/// A book, by a writer.
#[mango_rt::model(scopes = [])]
#[derive(diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = books)]
#[allow(dead_code)]
struct Book {
    id: i64,
    title: String,
    /// Who wrote it.
    #[model(refers_to = Writer)]
    #[diesel(column_name = writer)]
    writer_id: Option<i64>,
    pages: i32,
    price: f64,
    out: bool,
}

/// An id the database assigns, in each backend's words.
#[cfg(feature = "sqlite")]
const ID: &str = "INTEGER PRIMARY KEY";
#[cfg(feature = "postgres")]
const ID: &str = "BIGSERIAL PRIMARY KEY";

const QUERY: &str = "mango-rt_note_query";
const GET: &str = "mango-rt_note_get";

/// A server whose `notes` has 1,000 rows: `note i` by `author (i % 3)` (none for
/// multiples of 5), scored `i % 10`.
async fn server() -> TestServer {
    let server = TestServer::new().await.expect("a test server");
    let mut sql = format!(
        "CREATE TABLE notes (id {ID}, text TEXT NOT NULL, author TEXT, score INTEGER NOT NULL, secret TEXT NOT NULL);\n",
    );
    for i in 1..=1000 {
        let author = if i % 5 == 0 {
            "NULL".to_owned()
        } else {
            format!("'author {}'", i % 3)
        };
        sql.push_str(&format!(
            "INSERT INTO notes VALUES ({i}, 'note {i}', {author}, {}, 'hidden {i}');\n",
            i % 10
        ));
    }
    sql.push_str(
        "INSERT INTO notes VALUES (1001, 'Robert''); DROP TABLE notes;--', NULL, 0, 'x');",
    );
    let mut conn = server.db().await.expect("a connection");
    conn.batch_execute(&sql).await.expect("the rows");
    server
}

async fn query(server: &TestServer, args: Value) -> Value {
    let result = server.call(QUERY, args.clone()).await.expect("the tool");
    assert!(!result.is_error(), "{args}: {}", result.text());
    result.json()
}

async fn refused(server: &TestServer, args: Value) -> String {
    let result: TestResult = server.call(QUERY, args.clone()).await.expect("the tool");
    assert!(
        result.is_error(),
        "{args} was not refused: {}",
        result.text()
    );
    result.text()
}

fn ids(page: &Value) -> Vec<i64> {
    page["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["id"].as_i64().expect("an id"))
        .collect()
}

#[tokio::test]
async fn a_model_is_served_as_a_query_and_a_get_tool() {
    let server = server().await;
    let names = server.tool_names();
    assert!(names.contains(&QUERY) && names.contains(&GET), "{names:?}");
    let tools = server.tools();
    let query_tool = tools
        .iter()
        .find(|t| t.name() == QUERY)
        .expect("the query tool")
        .to_json();
    assert_eq!(query_tool["annotations"]["readOnlyHint"], true);
    let filter = &query_tool["inputSchema"]["properties"]["filter"];
    let text = filter.pointer("/properties/text").map(Value::to_string);
    assert!(
        text.as_deref().is_some_and(|t| t.contains("icontains")),
        "text's conditions: {filter}"
    );
    assert!(
        filter.pointer("/properties/secret").is_none(),
        "a hidden field is not in the schema: {filter}"
    );
    let output = &query_tool["outputSchema"];
    assert_eq!(
        output["properties"]["rows"]["items"]["$ref"], "#/$defs/Note",
        "{output}"
    );
    let row = &output["$defs"]["Note"];
    assert_eq!(
        row["properties"]["text"]["description"], "What the note says.",
        "{row}"
    );
    assert!(row["properties"].get("secret").is_none(), "{row}");

    let page = query(&server, json!({})).await;
    assert_eq!(ids(&page), (1..=50).collect::<Vec<_>>());
    assert!(
        page["rows"][0].get("secret").is_none(),
        "{}",
        page["rows"][0]
    );
    assert_eq!(page["rows"][0]["author"], "author 1");
    assert!(page.get("total").is_none());

    let one = server.call(GET, json!({"id": 7})).await.expect("get");
    assert_eq!(one.json()["text"], "note 7", "{}", one.text());
    let none = server.call(GET, json!({"id": 5000})).await.expect("get");
    assert!(none.is_error());
    assert_eq!(none.text(), "there is no Note with id 5000");
}

#[tokio::test]
async fn pages_follow_the_cursor_through_every_row_in_order() {
    let server = server().await;
    // By the key: 1,001 rows in pages of 200, each once.
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let page = query(
            &server,
            json!({"limit": 200, "cursor": cursor, "count": seen.is_empty()}),
        )
        .await;
        if seen.is_empty() {
            assert_eq!(page["total"], 1001);
        }
        seen.extend(ids(&page));
        match page.get("next_cursor") {
            Some(next) => cursor = next.clone(),
            None => break,
        }
    }
    assert_eq!(seen, (1..=1001).collect::<Vec<_>>());

    // By a field with ties (score), largest first: the key breaks them, nothing is
    // skipped or repeated between pages.
    let filter = json!({"author": {"eq": "author 2"}});
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    loop {
        let page = query(
            &server,
            json!({"filter": filter, "order": "-score", "limit": 37, "cursor": cursor}),
        )
        .await;
        for row in page["rows"].as_array().expect("rows") {
            seen.push((
                row["score"].as_i64().expect("score"),
                row["id"].as_i64().expect("id"),
            ));
        }
        match page.get("next_cursor") {
            Some(next) => cursor = next.clone(),
            None => break,
        }
    }
    let mut expected: Vec<(i64, i64)> = (1..=1000)
        .filter(|i| i % 5 != 0 && i % 3 == 2)
        .map(|i| (i % 10, i))
        .collect();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn filters_hold_together() {
    let server = server().await;
    let page = query(
        &server,
        json!({"filter": {"id": {"gte": 10, "lt": 20}, "score": {"in": [1, 2, 3]}}}),
    )
    .await;
    assert_eq!(ids(&page), vec![11, 12, 13]);

    let page = query(
        &server,
        json!({"filter": {"text": {"icontains": "NOTE 99"}}}),
    )
    .await;
    assert_eq!(
        ids(&page),
        vec![99, 990, 991, 992, 993, 994, 995, 996, 997, 998, 999]
    );
    let page = query(
        &server,
        json!({"filter": {"text": {"contains": "NOTE 99"}}}),
    )
    .await;
    assert_eq!(ids(&page), Vec::<i64>::new(), "contains is case-sensitive");
    let page = query(
        &server,
        json!({"filter": {"text": {"starts_with": "note 100"}}}),
    )
    .await;
    assert_eq!(ids(&page), vec![100, 1000]);

    let page = query(
        &server,
        json!({"filter": {"author": {"is_null": true}}, "order": "-id", "limit": 3, "count": true}),
    )
    .await;
    assert_eq!(ids(&page), vec![1001, 1000, 995]);
    assert_eq!(page["total"], 201);

    // Text that looks like SQL is data: matched, stored, never run.
    let page = query(
        &server,
        json!({"filter": {"text": {"contains": "'); DROP TABLE notes;--"}}}),
    )
    .await;
    assert_eq!(ids(&page), vec![1001]);
    let page = query(&server, json!({"filter": {"text": {"icontains": "%"}}})).await;
    assert_eq!(
        ids(&page),
        Vec::<i64>::new(),
        "`%` is a character, not a wildcard"
    );
    assert_eq!(query(&server, json!({"count": true})).await["total"], 1001);
}

#[tokio::test]
async fn bad_queries_are_clean_errors_naming_what_was_wrong() {
    let server = server().await;
    let cases = [
        (
            json!({"filter": {"title": {"eq": "x"}}}),
            "unknown field `title`",
        ),
        (
            json!({"filter": {"secret": {"eq": "x"}}}),
            "`filter.secret`: the value given is not one the tool takes (expected one of `id`, `text`, `author`, `score`)",
        ),
        (
            json!({"filter": {"text": {"like": "x"}}}),
            "unknown field `like`",
        ),
        (
            json!({"filter": {"text": {"gt": "x"}}}),
            "unknown field `gt`",
        ),
        (json!({"filter": {"id": {"eq": "seven"}}}), "filter.id.eq"),
        (
            json!({"filter": {"score": {"is_null": true}}}),
            "`score`: is_null is for a field that may be empty",
        ),
        (json!({"order": "secret"}), "unknown variant `secret`"),
        (json!({"order": "author"}), "unknown variant `author`"),
        (
            json!({"limit": 501}),
            "limit 501 is above the most a page holds, 500",
        ),
        (json!({"limit": 0}), "limit must be at least 1"),
        (
            json!({"cursor": "not a cursor"}),
            "the cursor is not one this server gave",
        ),
        (json!({"sql": "SELECT 1"}), "unknown field `sql`"),
    ];
    for (args, expected) in cases {
        let message = refused(&server, args.clone()).await;
        assert!(message.contains(expected), "{args}: {message}");
    }
    let too_many: Vec<i64> = (0..1001).collect();
    let message = refused(&server, json!({"filter": {"id": {"in": too_many}}})).await;
    assert!(
        message.contains("`id`: `in` takes at most 1000 values, not 1001"),
        "{message}"
    );

    // A cursor tampered with, or carried to another query.
    let page = query(&server, json!({"limit": 5, "order": "-score"})).await;
    let cursor = page["next_cursor"].as_str().expect("a cursor").to_owned();
    let mut tampered = cursor.clone().into_bytes();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let message = refused(
        &server,
        json!({"limit": 5, "order": "-score", "cursor": tampered}),
    )
    .await;
    assert!(
        message.contains("the cursor is not one this server gave"),
        "{message}"
    );
    let message = refused(
        &server,
        json!({"limit": 5, "order": "score", "cursor": cursor}),
    )
    .await;
    assert!(
        message.contains("the cursor belongs to another query"),
        "{message}"
    );
    let message = refused(
        &server,
        json!({"limit": 5, "order": "-score", "cursor": cursor, "filter": {"score": {"eq": 1}}}),
    )
    .await;
    assert!(
        message.contains("the cursor belongs to another query"),
        "{message}"
    );
    // The good cursor still works, and nothing changed.
    let page = query(
        &server,
        json!({"limit": 5, "order": "-score", "cursor": cursor}),
    )
    .await;
    assert_eq!(page["rows"].as_array().map(Vec::len), Some(5));
    assert_eq!(query(&server, json!({"count": true})).await["total"], 1001);
}

#[tokio::test]
async fn a_scope_hook_narrows_every_operation_to_the_callers_rows() {
    let server = TestServer::new().await.expect("a test server");
    let mut conn = server.db().await.expect("a connection");
    conn.batch_execute(&format!(
        "CREATE TABLE diary (id {ID}, owner TEXT NOT NULL, entry TEXT NOT NULL);
         INSERT INTO diary VALUES (1, 'alice', 'a1'), (2, 'bob', 'b1'), (3, 'alice', 'a2'), (4, 'bob', 'b2'), (5, 'bob', 'b3');",
    ))
    .await
    .expect("the rows");
    drop(conn);
    let entries = |page: Value| -> Vec<String> {
        page["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["entry"].as_str().expect("entry").to_owned())
            .collect()
    };
    for (who, own, total) in [
        ("alice", vec!["a1", "a2"], 2),
        ("bob", vec!["b1", "b2", "b3"], 3),
    ] {
        server.as_identity(mango_rt::Identity::new(who));
        let page = server
            .call("mango-rt_entry_query", json!({"count": true}))
            .await
            .expect("query");
        assert!(!page.is_error(), "{}", page.text());
        let page = page.json();
        assert_eq!(entries(page.clone()), own, "{who}");
        assert_eq!(page["total"], total, "{who}");
        // Filtering for another's rows finds nothing, and paging stays inside.
        let other = if who == "alice" { "bob" } else { "alice" };
        let page = server
            .call(
                "mango-rt_entry_query",
                json!({"filter": {"owner": {"eq": other}}, "count": true}),
            )
            .await
            .expect("query")
            .json();
        assert_eq!(page["total"], 0, "{who} sees {other}'s rows: {page}");
        let page = server
            .call("mango-rt_entry_query", json!({"limit": 1}))
            .await
            .expect("query")
            .json();
        let next = page["next_cursor"].clone();
        let rest = server
            .call("mango-rt_entry_query", json!({"limit": 10, "cursor": next}))
            .await
            .expect("query")
            .json();
        assert_eq!(entries(rest), own[1..].to_vec(), "{who}");
    }
    // Another's row is not found, exactly as a row that is not there.
    server.as_identity(mango_rt::Identity::new("alice"));
    let theirs = server
        .call("mango-rt_entry_get", json!({"id": 2}))
        .await
        .expect("get");
    let missing = server
        .call("mango-rt_entry_get", json!({"id": 99}))
        .await
        .expect("get");
    assert!(theirs.is_error() && missing.is_error());
    assert_eq!(theirs.text(), "there is no Entry with id 2");
    assert_eq!(missing.text(), "there is no Entry with id 99");
    let mine = server
        .call("mango-rt_entry_get", json!({"id": 3}))
        .await
        .expect("get");
    assert_eq!(mine.json()["entry"], "a2", "{}", mine.text());
}

async fn tag_count(server: &TestServer) -> i64 {
    use diesel::QueryDsl;
    use diesel_async::RunQueryDsl;
    let mut conn = server.db().await.expect("a connection");
    tags::table
        .count()
        .get_result(&mut conn)
        .await
        .expect("a count")
}

#[tokio::test]
async fn writes_go_through_clean_the_constraints_and_the_scope() {
    let server = TestServer::new().await.expect("a test server");
    let mut conn = server.db().await.expect("a connection");
    conn.batch_execute(&format!(
        "CREATE TABLE tags (id {ID}, label TEXT NOT NULL UNIQUE, note TEXT, owner TEXT NOT NULL, created TEXT NOT NULL DEFAULT 'by the database');
         INSERT INTO tags (id, label, owner) VALUES (100, 'bobs', 'bob');",
    ))
    .await
    .expect("the table");
    drop(conn);
    server.as_identity(mango_rt::Identity::new("alice"));
    let call = |name: &'static str, args: Value| {
        let server = &server;
        async move {
            server
                .call(&format!("mango-rt_tag_{name}"), args)
                .await
                .expect("the tool")
        }
    };
    let tools = server.tools();
    let delete = tools
        .iter()
        .find(|t| t.name() == "mango-rt_tag_delete")
        .expect("the delete tool")
        .to_json();
    assert_eq!(delete["annotations"]["destructiveHint"], true);
    let create = tools
        .iter()
        .find(|t| t.name() == "mango-rt_tag_create")
        .expect("the create tool")
        .to_json();
    let properties = &create["inputSchema"]["properties"];
    assert!(
        properties.get("label").is_some()
            && properties.get("owner").is_none()
            && properties.get("id").is_none(),
        "{properties}"
    );

    // Created through clean: trimmed, lower case, owned by the caller; the database
    // sets what is read-only.
    let made = call("create", json!({"label": "  Milk ", "note": "dairy"})).await;
    assert!(!made.is_error(), "{}", made.text());
    let made = made.json();
    assert_eq!(made["label"], "milk");
    assert_eq!(made["created"], "by the database");
    assert!(made.get("owner").is_none(), "{made}");
    let id = made["id"].as_i64().expect("an id");

    // Refused, each with nothing written: by clean, by a unique constraint, a field
    // the tool does not take, a row that would leave the caller's scope.
    for (args, expected) in [
        (json!({"label": "  "}), "`label`: a tag needs a label"),
        (
            json!({"label": "MILK"}),
            "`label`: another Tag has this value already, and it must be unique",
        ),
        (
            json!({"label": "x", "owner": "bob"}),
            "unknown field `owner`",
        ),
        (json!({"label": "x", "id": 7}), "unknown field `id`"),
        (
            json!({"label": "x", "created": "then"}),
            "unknown field `created`",
        ),
        (json!({"note": "no label"}), "missing field `label`"),
        (
            json!({"label": "steal"}),
            "the Tag would not be one of your rows",
        ),
    ] {
        let refused = call("create", args.clone()).await;
        assert!(refused.is_error(), "{args}: {}", refused.text());
        assert!(
            refused.text().contains(expected),
            "{args}: {}",
            refused.text()
        );
    }
    assert_eq!(
        tag_count(&server).await,
        2,
        "a refused create wrote nothing"
    );

    // Update: the fields given, the others kept; null clears an optional one.
    let changed = call("update", json!({"id": id, "label": "Oat Milk"})).await;
    assert_eq!(changed.json()["label"], "oat milk", "{}", changed.text());
    assert_eq!(changed.json()["note"], "dairy");
    let cleared = call("update", json!({"id": id, "note": null})).await;
    assert_eq!(cleared.json()["note"], Value::Null, "{}", cleared.text());
    assert_eq!(cleared.json()["label"], "oat milk");
    call("create", json!({"label": "bread"})).await;
    let clash = call("update", json!({"id": id, "label": "bread"})).await;
    assert!(
        clash.text().contains("another Tag has this value already"),
        "{}",
        clash.text()
    );
    assert_eq!(
        call("get", json!({"id": id})).await.json()["label"],
        "oat milk"
    );
    // Another's row cannot be changed or deleted, and is not said to exist.
    let theirs = call("update", json!({"id": 100, "label": "mine"})).await;
    assert_eq!(theirs.text(), "there is no Tag with id 100");
    let theirs = call("delete", json!({"id": 100})).await;
    assert_eq!(theirs.text(), "there is no Tag with id 100");

    // Delete asks first: declined, nothing goes; accepted, the row goes.
    server.reply([Reply::Decline]);
    let kept = call("delete", json!({"id": id})).await;
    assert!(
        kept.text()
            .contains("was not deleted: the user did not confirm it"),
        "{}",
        kept.text()
    );
    assert_eq!(tag_count(&server).await, 3);
    server.reply([Reply::Accept(json!({}))]);
    let gone = call("delete", json!({"id": id})).await;
    assert!(!gone.is_error(), "{}", gone.text());
    assert_eq!(gone.json()["label"], "oat milk");
    assert_eq!(tag_count(&server).await, 2);
    let again = call("get", json!({"id": id})).await;
    assert!(again.is_error());
}

#[tokio::test]
async fn each_row_is_a_resource_whose_key_completes_within_the_scope() {
    let server = server().await;
    let templates: Vec<String> = server
        .resource_templates()
        .iter()
        .filter_map(|t| t.uri().map(str::to_owned))
        .collect();
    assert!(
        templates.contains(&"mango-rt://notes/{id}".to_owned()),
        "{templates:?}"
    );
    let read = server.read("mango-rt://notes/7").await.expect("read");
    let text = read["contents"][0]["text"].as_str().expect("text");
    let row: Value = serde_json::from_str(text).expect("JSON");
    assert_eq!(row["text"], "note 7");
    assert!(row.get("secret").is_none(), "{row}");
    assert_eq!(read["contents"][0]["mimeType"], "application/json");
    let missing = server.read("mango-rt://notes/5000").await;
    assert!(
        format!("{missing:?}").contains("there is no Note with id 5000"),
        "{missing:?}"
    );
    let keys = server
        .complete_resource("mango-rt://notes/{id}", "id", "99", &[])
        .await
        .expect("completion");
    assert_eq!(
        keys,
        vec![
            "99", "990", "991", "992", "993", "994", "995", "996", "997", "998", "999"
        ]
    );
    // Matched in the database: the keys past the first thousand rows complete too.
    let keys = server
        .complete_resource("mango-rt://notes/{id}", "id", "100", &[])
        .await
        .expect("completion");
    assert_eq!(keys, vec!["100", "1000", "1001"]);

    // The scope holds for reads and completions too.
    let mut conn = server.db().await.expect("a connection");
    conn.batch_execute(&format!(
        "CREATE TABLE diary (id {ID}, owner TEXT NOT NULL, entry TEXT NOT NULL);
         INSERT INTO diary VALUES (1, 'alice', 'a1'), (2, 'bob', 'b1'), (3, 'alice', 'a2');",
    ))
    .await
    .expect("the rows");
    drop(conn);
    server.as_identity(mango_rt::Identity::new("alice"));
    let keys = server
        .complete_resource("mango-rt://diary/{id}", "id", "", &[])
        .await
        .expect("completion");
    assert_eq!(keys, vec!["1", "3"]);
    let theirs = server.read("mango-rt://diary/2").await;
    assert!(
        format!("{theirs:?}").contains("there is no Entry with id 2"),
        "{theirs:?}"
    );
}

/// Books 1..=12: writer 1 (ada, alice's) wrote the odd ones, writer 2 (grace, bob's)
/// the even ones but 12, which has no writer; pages 100·i, price i + 0.5, out when
/// i % 3 == 0.
async fn library() -> TestServer {
    let server = TestServer::new().await.expect("a test server");
    let mut sql = format!(
        "CREATE TABLE writers (id {ID}, name TEXT NOT NULL, owner TEXT NOT NULL);
         CREATE TABLE books (id {ID}, title TEXT NOT NULL, writer BIGINT REFERENCES writers (id), pages INTEGER NOT NULL, price DOUBLE PRECISION NOT NULL, out BOOLEAN NOT NULL);
         INSERT INTO writers VALUES (1, 'ada', 'alice'), (2, 'grace', 'bob');\n",
    );
    for i in 1..=12 {
        let writer = match i {
            12 => "NULL".to_owned(),
            i if i % 2 == 1 => "1".to_owned(),
            _ => "2".to_owned(),
        };
        let out = if i % 3 == 0 { "TRUE" } else { "FALSE" };
        sql.push_str(&format!(
            "INSERT INTO books VALUES ({i}, 'book {i}', {writer}, {}, {}.5, {out});\n",
            100 * i,
            i
        ));
    }
    let mut conn = server.db().await.expect("a connection");
    conn.batch_execute(&sql).await.expect("the rows");
    drop(conn);
    server
}

async fn books(server: &TestServer, tool: &str, args: Value) -> Value {
    let result = server
        .call(&format!("mango-rt_book_{tool}"), args.clone())
        .await
        .expect("the tool");
    assert!(!result.is_error(), "{args}: {}", result.text());
    result.json()
}

#[tokio::test]
async fn aggregates_count_sum_and_group_the_rows_a_filter_lets_through() {
    let server = server().await;
    let call = |args: Value| {
        let server = &server;
        async move {
            server
                .call("mango-rt_note_aggregate", args)
                .await
                .expect("the tool")
        }
    };
    // By default: the count of rows.
    let all = call(json!({})).await;
    assert_eq!(
        all.json(),
        json!({"rows": [{"count": 1001}], "more": false}),
        "{}",
        all.text()
    );

    // Grouped by a field that may be null, over the rows a filter lets through.
    let grouped = call(json!({
        "filter": {"id": {"lte": 1000}},
        "group_by": "author",
        "aggregate": [
            {"fn": "count"},
            {"fn": "sum", "field": "score"},
            {"fn": "avg", "field": "score"},
            {"fn": "min", "field": "text"},
            {"fn": "max", "field": "score"},
            {"fn": "count", "field": "author"}
        ]
    }))
    .await;
    assert!(!grouped.is_error(), "{}", grouped.text());
    let rows = grouped.json()["rows"].as_array().expect("rows").clone();
    assert_eq!(rows.len(), 4, "{rows:?}");
    let group = |author: Value| {
        rows.iter()
            .find(|r| r["author"] == author)
            .unwrap_or_else(|| panic!("the group {author} in {rows:?}"))
            .clone()
    };
    for (author, ids) in [
        (
            json!(null),
            (1..=1000).filter(|i| i % 5 == 0).collect::<Vec<i64>>(),
        ),
        (
            json!("author 0"),
            (1..=1000).filter(|i| i % 5 != 0 && i % 3 == 0).collect(),
        ),
        (
            json!("author 1"),
            (1..=1000).filter(|i| i % 5 != 0 && i % 3 == 1).collect(),
        ),
    ] {
        let row = group(author.clone());
        let sum: i64 = ids.iter().map(|i| i % 10).sum();
        assert_eq!(row["count"], ids.len(), "{author}: {row}");
        assert_eq!(
            row["sum_score"].as_f64(),
            Some(sum as f64),
            "{author}: {row}"
        );
        let avg = row["avg_score"].as_f64().expect("an average");
        assert!(
            (avg - sum as f64 / ids.len() as f64).abs() < 1e-9,
            "{author}: {row}"
        );
        assert_eq!(
            row["max_score"].as_f64(),
            Some(ids.iter().map(|i| i % 10).max().unwrap_or(0) as f64)
        );
        let first = ids
            .iter()
            .map(|i| format!("note {i}"))
            .min()
            .expect("a text");
        assert_eq!(row["min_text"], first.as_str(), "{author}: {row}");
        let with_author = if author.is_null() { 0 } else { ids.len() };
        assert_eq!(row["count_author"], with_author, "{author}: {row}");
    }

    // A limit on the groups says there are more.
    let some = call(json!({"group_by": "score", "limit": 3})).await.json();
    assert_eq!(some["rows"].as_array().map(Vec::len), Some(3), "{some}");
    assert_eq!(some["rows"][0], json!({"score": 0, "count": 101}), "{some}");
    assert_eq!(some["more"], true);

    for (args, expected) in [
        (
            json!({"aggregate": [{"fn": "sum", "field": "text"}]}),
            "`sum` takes a number field, and `text` is not one",
        ),
        (
            json!({"aggregate": [{"fn": "avg"}]}),
            "`avg` needs a `field`",
        ),
        (
            json!({"aggregate": [{"fn": "median", "field": "score"}]}),
            "unknown variant `median`",
        ),
        (
            json!({"aggregate": [{"fn": "sum", "field": "secret"}]}),
            "unknown variant `secret`",
        ),
        (json!({"group_by": "secret"}), "unknown variant `secret`"),
        (
            json!({"aggregate": [{"fn": "count"}, {"fn": "count"}]}),
            "`count` is asked for twice",
        ),
        (
            json!({"aggregate": [{"fn": "sum", "field": "score; DROP TABLE notes"}]}),
            "unknown variant",
        ),
        (
            json!({"group_by": "score", "limit": 501}),
            "limit 501 is above the most a page holds",
        ),
    ] {
        let refused = call(args.clone()).await;
        assert!(refused.is_error(), "{args}: {}", refused.text());
        assert!(
            refused.text().contains(expected),
            "{args}: {}",
            refused.text()
        );
    }
    assert_eq!(call(json!({})).await.json()["rows"][0]["count"], 1001);
}

#[tokio::test]
async fn a_query_hops_across_a_relation_within_the_callers_scope() {
    let server = library().await;
    server.as_identity(mango_rt::Identity::new("alice"));
    let titles = |page: &Value| -> Vec<String> {
        page["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| r["title"].as_str().expect("a title").to_owned())
            .collect()
    };
    // Books by their writer's name.
    let page = books(
        &server,
        "query",
        json!({"filter": {"writer": {"name": {"eq": "ada"}}}, "limit": 3, "count": true}),
    )
    .await;
    assert_eq!(titles(&page), ["book 1", "book 3", "book 5"]);
    assert_eq!(page["total"], 6);
    // With the book's own conditions, and through the aggregate tool.
    let page = books(
        &server,
        "query",
        json!({"filter": {"writer": {"name": {"icontains": "AD"}}, "pages": {"gt": 500}}}),
    )
    .await;
    assert_eq!(titles(&page), ["book 7", "book 9", "book 11"]);
    let sums = books(
        &server,
        "aggregate",
        json!({
            "filter": {"writer": {"name": {"eq": "ada"}}},
            "group_by": "out",
            "aggregate": [{"fn": "sum", "field": "pages"}, {"fn": "max", "field": "price"}]
        }),
    )
    .await;
    // Numbers as each backend gives them (SQLite's integer sum 2400, PostgreSQL's 2400).
    let got: Vec<(bool, f64, f64)> = sums["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["out"].as_bool().expect("out"),
                r["sum_pages"].as_f64().expect("a sum"),
                r["max_price"].as_f64().expect("a max"),
            )
        })
        .collect();
    assert_eq!(got, [(false, 2400.0, 11.5), (true, 1200.0, 9.5)], "{sums}");
    // The writer's scope holds across the hop: grace is bob's, so alice finds none of
    // her books by her name; bob does.
    let page = books(
        &server,
        "query",
        json!({"filter": {"writer": {"name": {"eq": "grace"}}}, "count": true}),
    )
    .await;
    assert_eq!(page["total"], 0, "{page}");
    server.as_identity(mango_rt::Identity::new("bob"));
    let page = books(
        &server,
        "query",
        json!({"filter": {"writer": {"name": {"eq": "grace"}}}, "count": true}),
    )
    .await;
    assert_eq!(page["total"], 5, "{page}");
    // A book with no writer matches no condition on the writer.
    let page = books(
        &server,
        "query",
        json!({"filter": {"writer": {}}, "count": true}),
    )
    .await;
    assert_eq!(
        page["total"], 5,
        "only grace's books are bob's to see through her: {page}"
    );
    let page = books(
        &server,
        "query",
        json!({"filter": {"writer_id": {"is_null": true}}}),
    )
    .await;
    assert_eq!(titles(&page), ["book 12"]);

    // The schema says what the hop takes.
    let tools = server.tools();
    let query = tools
        .iter()
        .find(|t| t.name() == "mango-rt_book_query")
        .expect("the query tool")
        .to_json();
    let writer = &query["inputSchema"]["properties"]["filter"]["properties"]["writer"];
    assert!(writer.to_string().contains("\"name\""), "{writer}");
    let bad = server
        .call(
            "mango-rt_book_query",
            json!({"filter": {"writer": {"owner": {"eq": "bob"}}}}),
        )
        .await
        .expect("the tool");
    assert!(
        bad.is_error() && bad.text().contains("owner"),
        "{}",
        bad.text()
    );
}
