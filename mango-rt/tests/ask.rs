//! Asking the client mid-call: elicitation and sampling in both protocol eras, scripted
//! with the test client; rounds (2026-07-28) that write, and their transactions; bad
//! round states.

use mango_rt::db::{Db, RunQueryDsl};
use mango_rt::testing::{Era, Reply, Round, TestError, TestServer};
use mango_rt::{Answer, AskError, Context, Sampling, ToolError, tool};
use serde_json::{Value, json};

#[derive(mango_rt::serde::Deserialize, mango_rt::schemars::JsonSchema)]
#[serde(crate = "mango_rt::serde")]
#[schemars(crate = "mango_rt::schemars")]
struct Confirm {
    /// Go ahead?
    confirm: bool,
}

fn default_name() -> String {
    "John Doe".into()
}

#[derive(Debug, mango_rt::serde::Deserialize, mango_rt::schemars::JsonSchema)]
#[serde(crate = "mango_rt::serde", rename_all = "lowercase")]
#[schemars(crate = "mango_rt::schemars")]
enum Colour {
    /// Bright red
    Red,
    /// Deep blue
    Blue,
}

#[derive(Debug, mango_rt::serde::Deserialize, mango_rt::schemars::JsonSchema)]
#[serde(crate = "mango_rt::serde")]
#[schemars(crate = "mango_rt::schemars")]
struct Profile {
    /// Your name.
    #[serde(default = "default_name")]
    name: String,
    age: u8,
    colour: Colour,
}

/// Asks for a profile and tells what came back.
#[tool]
async fn ask_profile(ctx: &Context) -> Result<String, ToolError> {
    Ok(match ctx.elicit::<Profile>("Who are you?").await {
        Ok(Answer::Accept(p)) => format!("{} ({}) likes {:?}", p.name, p.age, p.colour),
        Ok(other) => format!("no profile: {}", other.action()),
        Err(AskError::Unsupported(why)) => format!("cannot ask: {why}"),
        Err(e) => return Err(e.into()),
    })
}

/// Asks the model.
#[tool]
async fn ask_model(question: String, ctx: &Context) -> Result<String, ToolError> {
    let reply = ctx
        .sample(Sampling::new(question).system("Be brief.").max_tokens(50))
        .await?;
    Ok(format!("model says: {}", reply.text()))
}

async fn insert(label: &str, db: &mut Db) -> Result<(), ToolError> {
    diesel::sql_query("INSERT INTO steps (label) VALUES (?)")
        .bind::<diesel::sql_types::Text, _>(label)
        .execute(db)
        .await?;
    Ok(())
}

/// Creates the table.
#[tool]
async fn setup(db: &mut Db) -> Result<(), ToolError> {
    diesel::sql_query("CREATE TABLE IF NOT EXISTS steps (label TEXT NOT NULL)")
        .execute(db)
        .await?;
    Ok(())
}

/// Writes, asks, writes, asks, writes: three rounds on 2026-07-28.
#[tool]
async fn write_and_ask(ctx: &Context, db: &mut Db) -> Result<String, ToolError> {
    insert("first", db).await?;
    let Answer::Accept(Confirm { confirm: true }) = ctx.elicit::<Confirm>("Go on?").await? else {
        return Err(ToolError::new("stopped after the first step"));
    };
    insert("second", db).await?;
    let Answer::Accept(Confirm { confirm: true }) = ctx.elicit::<Confirm>("Really?").await? else {
        return Err(ToolError::new("stopped after the second step"));
    };
    insert("third", db).await?;
    Ok("three steps".into())
}

/// How many rows there are.
#[tool(read_only)]
async fn count(db: &mut Db) -> Result<i64, ToolError> {
    Ok(
        diesel::dsl::sql::<diesel::sql_types::BigInt>("SELECT COUNT(*) FROM steps")
            .get_result(db)
            .await?,
    )
}

async fn server(era: Era) -> TestServer {
    let server = match TestServer::new().await {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    server.set_era(era);
    let setup = server.call("mango-rt_setup", json!({})).await;
    assert!(setup.is_ok_and(|r| !r.is_error()));
    server
}

async fn text(server: &TestServer, name: &str, args: Value) -> String {
    match server.call(name, args).await {
        Ok(r) => r.text(),
        Err(e) => panic!("{e}"),
    }
}

async fn count_rows(server: &TestServer) -> Value {
    match server.call("mango-rt_count", json!({})).await {
        Ok(r) => r.json()["result"].clone(),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn elicit_accept_decline_cancel_in_both_eras() {
    for era in [Era::Sessions, Era::Rounds] {
        let server = server(era).await;
        server.reply([
            Reply::Accept(json!({"age": 42, "colour": "blue"})),
            Reply::Decline,
            Reply::Cancel,
        ]);
        assert_eq!(
            text(&server, "mango-rt_ask_profile", json!({})).await,
            "John Doe (42) likes Blue",
            "{era:?}"
        );
        assert_eq!(
            text(&server, "mango-rt_ask_profile", json!({})).await,
            "no profile: decline"
        );
        assert_eq!(
            text(&server, "mango-rt_ask_profile", json!({})).await,
            "no profile: cancel"
        );
        let questions = server.questions();
        assert_eq!(questions.len(), 3, "{era:?}: {questions:?}");
        let schema = &questions[0].request["params"]["requestedSchema"];
        assert_eq!(schema["properties"]["name"]["default"], "John Doe");
        assert_eq!(
            schema["properties"]["colour"]["oneOf"][1]["title"],
            "Deep blue"
        );
        assert_eq!(questions[0].message, "Who are you?");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_that_does_not_match_the_form_is_an_error_naming_the_field() {
    for era in [Era::Sessions, Era::Rounds] {
        let server = server(era).await;
        server.reply([Reply::Accept(json!({"age": 300, "colour": "blue"}))]);
        let result = server.call("mango-rt_ask_profile", json!({})).await;
        let result = result.unwrap_or_else(|e| panic!("{e}"));
        assert!(result.is_error(), "{era:?}");
        assert!(
            result.text().contains("`age` must be at most 255"),
            "{era:?}: {}",
            result.text()
        );
        server.reply([Reply::Accept(json!({"age": 3, "colour": "green"}))]);
        let result = server.call("mango-rt_ask_profile", json!({})).await;
        let text = result.map(|r| r.text()).unwrap_or_default();
        assert!(text.contains("not one of: red, blue"), "{era:?}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sampling_in_both_eras() {
    for era in [Era::Sessions, Era::Rounds] {
        let server = server(era).await;
        server.reply([Reply::Sample("Paris".into())]);
        let said = text(
            &server,
            "mango-rt_ask_model",
            json!({"question": "Capital of France?"}),
        )
        .await;
        assert_eq!(said, "model says: Paris", "{era:?}");
        let q = &server.questions()[0];
        assert_eq!(q.kind, "sampling");
        assert_eq!(q.request["params"]["systemPrompt"], "Be brief.");
        assert_eq!(q.request["params"]["maxTokens"], 50);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_without_the_capability_gets_a_clean_error() {
    for era in [Era::Sessions, Era::Rounds] {
        let server = server(era).await;
        server.set_capabilities(false, false);
        let said = text(&server, "mango-rt_ask_profile", json!({})).await;
        assert!(
            said.starts_with("cannot ask:") && said.contains("`elicitation`"),
            "{said}"
        );
        let result = server
            .call("mango-rt_ask_model", json!({"question": "?"}))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            result.is_error() && result.text().contains("`sampling`"),
            "{}",
            result.text()
        );
        assert!(server.questions().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_in_three_rounds_writes_exactly_what_one_run_writes() {
    for era in [Era::Sessions, Era::Rounds] {
        let server = server(era).await;
        server.reply([
            Reply::Accept(json!({"confirm": true})),
            Reply::Accept(json!({"confirm": true})),
        ]);
        assert_eq!(
            text(&server, "mango-rt_write_and_ask", json!({})).await,
            "three steps"
        );
        assert_eq!(count_rows(&server).await, 3, "{era:?}");
        // Stopped at the second question: nothing of the call is kept.
        server.reply([Reply::Accept(json!({"confirm": true})), Reply::Decline]);
        let result = server.call("mango-rt_write_and_ask", json!({})).await;
        assert!(result.is_ok_and(|r| r.is_error()));
        assert_eq!(count_rows(&server).await, 3, "{era:?}");
    }
}

/// The rounds of a call by hand: its first round asks and keeps nothing.
async fn first_round(server: &TestServer) -> String {
    match server
        .call_round("mango-rt_write_and_ask", json!({}), None, Value::Null)
        .await
    {
        Ok(Round::InputRequired { questions, state }) => {
            assert_eq!(questions["q0"]["method"], "elicitation/create");
            assert_eq!(questions["q0"]["params"]["message"], "Go on?");
            state
        }
        other => panic!("{other:?}"),
    }
}

fn refused(round: Result<Round, TestError>, expected: &str) {
    match round {
        Err(TestError::Protocol { code, message }) => {
            assert_eq!(code, -32602);
            assert!(message.contains(expected), "{message}");
        }
        other => panic!("expected -32602 ({expected}), got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_round_states_are_refused_and_nothing_is_committed() {
    let server = server(Era::Rounds).await;
    let state = first_round(&server).await;
    assert_eq!(count_rows(&server).await, 0);
    let yes = json!({"q0": {"action": "accept", "content": {"confirm": true}}});
    // Forged (one character changed), truncated, garbage.
    let mut forged = state.clone().into_bytes();
    let at = forged.len() - 3;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap_or_default();
    refused(
        server
            .call_round(
                "mango-rt_write_and_ask",
                json!({}),
                Some(&forged),
                yes.clone(),
            )
            .await,
        "was not issued by this server, or was altered",
    );
    refused(
        server
            .call_round(
                "mango-rt_write_and_ask",
                json!({}),
                Some(&state[..state.len() / 2]),
                yes.clone(),
            )
            .await,
        "requestState",
    );
    // Another tool, other arguments.
    refused(
        server
            .call_round("mango-rt_ask_profile", json!({}), Some(&state), yes.clone())
            .await,
        "issued for the tool `mango-rt_write_and_ask`",
    );
    refused(
        server
            .call_round(
                "mango-rt_write_and_ask",
                json!({"x": 1}),
                Some(&state),
                yes.clone(),
            )
            .await,
        "other arguments",
    );
    // An answer to a question that was not asked; answers without a state.
    refused(
        server
            .call_round(
                "mango-rt_write_and_ask",
                json!({}),
                Some(&state),
                json!({"q7": {}}),
            )
            .await,
        "answers `q7`, which this call did not ask",
    );
    refused(
        server
            .call_round("mango-rt_write_and_ask", json!({}), None, yes.clone())
            .await,
        "without a requestState",
    );
    assert_eq!(count_rows(&server).await, 0);
    // The real second round asks again; the third completes and commits once.
    let Ok(Round::InputRequired {
        state: second,
        questions,
    }) = server
        .call_round(
            "mango-rt_write_and_ask",
            json!({}),
            Some(&state),
            yes.clone(),
        )
        .await
    else {
        panic!("the second round should ask again");
    };
    assert_eq!(questions["q1"]["params"]["message"], "Really?");
    let both = json!({"q1": {"action": "accept", "content": {"confirm": true}}});
    let done = server
        .call_round(
            "mango-rt_write_and_ask",
            json!({}),
            Some(&second),
            both.clone(),
        )
        .await;
    assert!(
        matches!(done, Ok(Round::Complete(ref r)) if r.text() == "three steps"),
        "{done:?}"
    );
    assert_eq!(count_rows(&server).await, 3);
    // Replayed once the call completed: refused, nothing written twice.
    refused(
        server
            .call_round("mango-rt_write_and_ask", json!({}), Some(&second), both)
            .await,
        "already completed",
    );
    assert_eq!(count_rows(&server).await, 3);
}

/// Asks the user to visit a page.
#[tool]
async fn sign_in(ctx: &Context) -> Result<String, ToolError> {
    match ctx
        .elicit_url("Sign in, then come back", "https://example.com/sign-in")
        .await
    {
        Ok(answer) => Ok(format!("sign-in: {}", answer.action())),
        Err(AskError::Unsupported(why)) => Ok(format!("cannot ask: {why}")),
        Err(e) => Err(e.into()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn url_elicitation_in_both_eras() {
    for era in [Era::Sessions, Era::Rounds] {
        let server = server(era).await;
        server.reply([Reply::Accept(json!({}))]);
        assert_eq!(
            text(&server, "mango-rt_sign_in", json!({})).await,
            "sign-in: accept"
        );
        let q = &server.questions()[0];
        assert_eq!(q.kind, "url elicitation");
        assert_eq!(q.request["params"]["url"], "https://example.com/sign-in");
        assert_eq!(q.request["params"]["mode"], "url", "{}", q.request);
        server.set_capabilities(false, true);
        let said = text(&server, "mango-rt_sign_in", json!({})).await;
        assert!(said.contains("`elicitation.url`"), "{said}");
    }
}

async fn keyed(key: Option<&str>, previous: Option<&str>, ttl: u64) -> TestServer {
    let mut settings = mango_rt::Settings::default();
    settings.input.key = key.map(mango_rt::Secret::from);
    settings.input.previous_key = previous.map(mango_rt::Secret::from);
    settings.input.state_ttl = ttl;
    let server = TestServer::with_settings(settings)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    server.set_era(Era::Rounds);
    assert!(
        server
            .call("mango-rt_setup", json!({}))
            .await
            .is_ok_and(|r| !r.is_error())
    );
    server
}

const OLD: &str = "an old key that is long enough, 32+ bytes";
const NEW: &str = "a new key that is long enough too, 32+ bytes";

#[tokio::test(flavor = "multi_thread")]
async fn states_outlive_a_key_rotation_and_expire() {
    let before = keyed(Some(OLD), None, 600).await;
    let state = first_round(&before).await;
    let yes = json!({"q0": {"action": "accept", "content": {"confirm": true}}});
    // After the rotation (new key, the old one as previous): still accepted.
    let rotated = keyed(Some(NEW), Some(OLD), 600).await;
    let round = rotated
        .call_round(
            "mango-rt_write_and_ask",
            json!({}),
            Some(&state),
            yes.clone(),
        )
        .await;
    assert!(
        matches!(round, Ok(Round::InputRequired { .. })),
        "{round:?}"
    );
    // Once the old key is gone: refused.
    let retired = keyed(Some(NEW), None, 600).await;
    refused(
        retired
            .call_round(
                "mango-rt_write_and_ask",
                json!({}),
                Some(&state),
                yes.clone(),
            )
            .await,
        "was not issued by this server",
    );
    // Expired.
    let short = keyed(Some(NEW), None, 1).await;
    let state = first_round(&short).await;
    mango_rt::tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    refused(
        short
            .call_round("mango-rt_write_and_ask", json!({}), Some(&state), yes)
            .await,
        "has expired",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_key_stops_start_up_naming_the_setting() {
    let mut settings = mango_rt::Settings::default();
    settings.input.key = Some("too short".into());
    let err = TestServer::with_settings(settings).await.err();
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("`input.key` is 9 bytes long") && message.contains("at least 32"),
        "{message}"
    );
}
