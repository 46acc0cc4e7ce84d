//! An in-process test server for an app's own tests (like FastMCP's
//! `Client(server)`): the app's tools, a fresh migrated database, calls by name.
//!
//! ```
//! use mango_rt::serde_json::json;
//! use mango_rt::testing::{TestError, TestServer};
//!
//! #[tokio::test(flavor = "multi_thread")]
//! async fn notes_are_added() -> Result<(), TestError> {
//!     let server = TestServer::new().await?;
//!     let added = server.call("notes_add", json!({"text": "hi"})).await?;
//!     assert!(!added.is_error(), "{}", added.text());
//!     Ok(())
//! }
//! ```
//!
//! On SQLite the database is a file in a temporary folder, removed with the server. On
//! PostgreSQL, set `MANGO_TEST_DATABASE_URL` to a server URL (its database is only used
//! to connect): each test server creates a database of its own there and drops it at
//! the end.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use diesel_async::pooled_connection::deadpool::Object;
use rmcp::model::{CallToolResult, PromptReference, Reference, ResourceTemplateReference};
use serde_json::Value;

use crate::call::{Asker, Caller, Channel, TransportKind};
use crate::chain::{ListItem, Listed};
use crate::db::Db;
use crate::db::migrate::with_sync_db;
use crate::project::AppInfo;
use crate::runtime::{Runtime, StartError};
use crate::settings::Settings;

/// A call's result, with helpers for tests.
#[derive(Debug, Clone)]
pub struct TestResult(CallToolResult);

impl TestResult {
    /// The whole result, as the client gets it in JSON (`content`, `structuredContent`,
    /// `isError`).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(&self.0).unwrap_or(Value::Null)
    }

    pub fn is_error(&self) -> bool {
        self.0.is_error == Some(true)
    }

    /// The text content, joined.
    pub fn text(&self) -> String {
        self.0
            .content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect()
    }

    /// The structured content (`{"result": …}` for wrapped values).
    pub fn json(&self) -> Value {
        self.0.structured_content.clone().unwrap_or(Value::Null)
    }
}

/// A JSON-RPC error as the test's [`TestError::Protocol`].
fn protocol(e: rmcp::model::ErrorData) -> TestError {
    TestError::Protocol {
        code: e.code.0,
        message: e.message.into_owned(),
    }
}

/// Items as a list hook sees them.
fn listed<T: ListItem>(items: &[T]) -> Vec<Listed> {
    listed_items(items.to_vec())
}

fn listed_items<T: ListItem>(items: Vec<T>) -> Vec<Listed> {
    items.into_iter().map(T::listed).collect()
}

/// The lists a client is given ([`TestServer::lists`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Lists {
    pub tools: Vec<Listed>,
    pub resources: Vec<Listed>,
    pub resource_templates: Vec<Listed>,
    pub prompts: Vec<Listed>,
}

/// Why a test server could not be made or a call not be sent.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    UnknownTool(String),
    #[error("the arguments must be a JSON object, not {0}")]
    NotAnObject(Value),
    #[error("{0}")]
    Database(String),
    /// A tool asked a question (in the rounds era) that no queued reply answers.
    #[error("the test client has no reply for the {0} (queue one with TestServer::reply)")]
    NoReply(String),
    /// The server answered with a JSON-RPC error (an unknown resource, a bad template
    /// variable, a failed read): its code (-32602: invalid params) and message.
    #[error("error {code}: {message}")]
    Protocol { code: i32, message: String },
}

/// How the test client answers the next question a tool asks (`ctx.elicit`,
/// `ctx.elicit_url`, `ctx.sample`): see [`TestServer::reply`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Reply {
    /// The user filled the form in with these values.
    Accept(Value),
    Decline,
    Cancel,
    /// The model replied with this text.
    Sample(String),
}

impl Reply {
    /// The client's result, as its JSON.
    fn into_result(self) -> Value {
        match self {
            Reply::Accept(content) => serde_json::json!({"action": "accept", "content": content}),
            Reply::Decline => serde_json::json!({"action": "decline"}),
            Reply::Cancel => serde_json::json!({"action": "cancel"}),
            Reply::Sample(text) => serde_json::json!({
                "role": "assistant",
                "content": {"type": "text", "text": text},
                "model": "test-model",
                "stopReason": "endTurn",
            }),
        }
    }
}

/// The protocol era the test client speaks ([`TestServer::set_era`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Era {
    /// 2025-11-25: a question is a request to the client during the call.
    #[default]
    Sessions,
    /// 2026-07-28: a question ends the call's round (`input_required`); the test client
    /// answers and calls again, as a real one does, until the call completes.
    Rounds,
}

/// One round of a 2026-07-28 call ([`TestServer::call_round`]).
#[derive(Debug, Clone)]
pub enum Round {
    /// The call completed with this result.
    Complete(TestResult),
    /// The call asked: its questions (`inputRequests`, by key) and the state to send
    /// back with the answers.
    InputRequired { questions: Value, state: String },
}

/// How a task ended ([`TestServer::run_task`]).
#[derive(Debug, Clone)]
pub struct TestTask {
    /// Its id, as `tasks/get` and `run tasks` know it.
    pub id: String,
    /// `completed`, `failed` or `cancelled`.
    pub status: String,
    /// The status messages its progress gave (`ctx.progress`), in order, as polled.
    pub messages: Vec<String>,
    /// The call's result, when it completed (a tool error is a completed task whose
    /// result is an error, as the extension says).
    pub result: Option<TestResult>,
    /// The JSON-RPC error, when it failed.
    pub error: Option<Value>,
}

/// A question a tool asked the test client.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// `elicitation`, `url elicitation` or `sampling`.
    pub kind: &'static str,
    /// The form's message, or the last message of a sampling request.
    pub message: String,
    /// The whole request, as its JSON (`requestedSchema`, `maxTokens` …).
    pub request: Value,
}

/// What the test client does when asked, and what it was asked.
#[derive(Default)]
struct TestClient {
    era: Era,
    elicitation: bool,
    sampling: bool,
    replies: std::collections::VecDeque<Reply>,
    questions: Vec<Question>,
    identity: Option<crate::call::Identity>,
}

impl TestClient {
    fn capabilities(&self) -> rmcp::model::ClientCapabilities {
        let mut caps = rmcp::model::ClientCapabilities::default();
        if self.elicitation {
            let mut elicitation = rmcp::model::ElicitationCapability::default();
            elicitation.form = Some(Default::default());
            elicitation.url = Some(Default::default());
            caps.elicitation = Some(elicitation);
        }
        if self.sampling {
            caps.sampling = Some(Default::default());
        }
        caps
    }

    /// Records `request` and gives the next reply (none left: `None`).
    fn answer(&mut self, request: &rmcp::model::InputRequest) -> Option<Value> {
        let (kind, message) = crate::call::describe_question(request);
        self.questions.push(Question {
            kind,
            message,
            request: serde_json::to_value(request).unwrap_or_default(),
        });
        self.replies.pop_front().map(Reply::into_result)
    }
}

/// An in-process server over the linked apps' tools, with a database of its own.
pub struct TestServer {
    runtime: Arc<Runtime>,
    client: Arc<std::sync::Mutex<TestClient>>,
    _dir: tempfile::TempDir,
    #[cfg(feature = "postgres")]
    dropper: Option<(String, String)>,
}

/// The prefix of the app under test, from its Cargo.toml (cargo sets
/// `CARGO_MANIFEST_DIR` for tests), so tools get the names they are served with.
fn app_under_test() -> Vec<AppInfo> {
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") else {
        return Vec::new();
    };
    let manifest = PathBuf::from(dir).join("Cargo.toml");
    let Ok(text) = std::fs::read_to_string(&manifest) else {
        return Vec::new();
    };
    use figment::providers::Format;
    let Ok(doc) = figment::providers::Toml::from_str::<Value>(&text) else {
        return Vec::new();
    };
    let (Some(name), Some(mango)) = (
        doc.pointer("/package/name").and_then(Value::as_str),
        doc.pointer("/package/metadata/mango"),
    ) else {
        return Vec::new();
    };
    let prefix = mango.get("prefix").and_then(Value::as_str).unwrap_or(name);
    let name: &'static str = Box::leak(name.to_owned().into_boxed_str());
    let prefix: &'static str = Box::leak(prefix.to_owned().into_boxed_str());
    vec![AppInfo::new(name, prefix)]
}

impl TestServer {
    /// A server with default settings, a fresh database, every migration applied, and
    /// the apps' start-up hooks run.
    pub async fn new() -> Result<TestServer, TestError> {
        Self::with_settings(Settings::default()).await
    }

    /// A server with these settings (their database URL is replaced by a fresh one).
    pub async fn with_settings(mut settings: Settings) -> Result<TestServer, TestError> {
        let dir = tempfile::tempdir()?;
        settings.path = Some(dir.path().join(crate::settings::SETTINGS_FILE));
        #[cfg(feature = "sqlite")]
        {
            settings.database.url = "sqlite://test.sqlite3".into();
        }
        #[cfg(feature = "postgres")]
        let dropper = {
            let (url, dropper) = postgres_database().await?;
            settings.database.url = url;
            Some(dropper)
        };
        let runtime = Arc::new(
            Runtime::new(settings, &app_under_test(), "test", "0.0.0").map_err(TestError::Start)?,
        );
        crate::runtime::register(&runtime);
        let server = TestServer {
            runtime,
            client: Arc::new(std::sync::Mutex::new(TestClient {
                elicitation: true,
                sampling: true,
                ..TestClient::default()
            })),
            _dir: dir,
            #[cfg(feature = "postgres")]
            dropper,
        };
        server.migrate().await?;
        // The apps' start-up hooks, once, as a served project runs them.
        server.runtime.start_up().await?;
        Ok(server)
    }

    /// Runs the apps' shutdown hooks (as a server does once its last call drained).
    pub async fn shut_down(&self) {
        self.runtime.shut_down().await;
    }

    async fn migrate(&self) -> Result<(), TestError> {
        let migrator = self.runtime.migrator.clone();
        with_sync_db(self.runtime.database(), move |c| migrator.migrate_all(c))
            .await
            .map(|_| ())
            .map_err(|e| TestError::Start(e.into()))
    }

    /// The exposed names of every tool, sorted.
    pub fn tool_names(&self) -> Vec<&'static str> {
        self.runtime.tools.list.iter().map(|t| t.name()).collect()
    }

    /// The tools as a client's `tools/list` gets them (with their schemas), before any
    /// middleware's list hook.
    pub fn tools(&self) -> Vec<Listed> {
        listed(&self.runtime.tools.listed)
    }

    fn client(&self) -> std::sync::MutexGuard<'_, TestClient> {
        self.client.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues the test client's answers to the questions tools ask, in order:
    ///
    /// ```
    /// # use mango_rt::serde_json::json;
    /// # use mango_rt::testing::{Reply, TestServer};
    /// # fn f(server: &TestServer) {
    /// server.reply([Reply::Accept(json!({"confirm": true})), Reply::Sample("Paris".into())]);
    /// # }
    /// ```
    ///
    /// A question with no reply left fails: the tool's `ctx.elicit` gets an error in
    /// the sessions era; in the rounds era the call is [`TestError::NoReply`].
    pub fn reply(&self, replies: impl IntoIterator<Item = Reply>) {
        self.client().replies.extend(replies);
    }

    /// The protocol era of later calls (the sessions of 2025-11-25 unless set).
    pub fn set_era(&self, era: Era) {
        self.client().era = era;
    }

    /// Whether the test client declares the `elicitation` (form and URL) and `sampling`
    /// capabilities (both, unless set): a tool asking a client without one gets
    /// `AskError::Unsupported`.
    pub fn set_capabilities(&self, elicitation: bool, sampling: bool) {
        let mut client = self.client();
        client.elicitation = elicitation;
        client.sampling = sampling;
    }

    /// Who later calls (and lists) come from: without one, the test client is trusted
    /// with every scope, as the local user over stdio is; with one, items whose scopes
    /// it lacks are hidden from it and refused, as over HTTP.
    ///
    /// ```
    /// # async fn f(server: mango_rt::testing::TestServer) {
    /// use mango_rt::Identity;
    /// server.as_identity(Identity::new("alice").with_scopes(["notes:read"]));
    /// let refused = server.call("notes_add", serde_json::json!({"text": "hi"})).await;
    /// # }
    /// ```
    pub fn as_identity(&self, identity: crate::call::Identity) {
        self.client().identity = Some(identity);
    }

    /// The caller of the test client's requests.
    fn caller(&self) -> Caller {
        let mut caller = Caller::new(TransportKind::InProcess);
        caller.identity = self.client().identity.clone();
        caller
    }

    /// Every question asked of the test client so far, in order.
    pub fn questions(&self) -> Vec<Question> {
        self.client().questions.clone()
    }

    /// Calls a tool by its exposed name, through the same pipeline as stdio and HTTP,
    /// answering its questions with the [`reply`](Self::reply)s queued.
    pub async fn call(&self, name: &str, arguments: Value) -> Result<TestResult, TestError> {
        let Value::Object(arguments) = arguments else {
            return Err(TestError::NotAnObject(arguments));
        };
        let caller = self.caller();
        let (era, caps) = {
            let client = self.client();
            (client.era, client.capabilities())
        };
        if era == Era::Rounds {
            return self.call_in_rounds(name, arguments, caps).await;
        }
        let client = self.client.clone();
        let script: crate::call::Script = Arc::new(move |request| {
            let reply = client
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .answer(&request);
            Box::pin(async move {
                reply.ok_or_else(|| {
                    crate::AskError::Client(
                        "the test scripted no reply for this question (TestServer::reply)".into(),
                    )
                })
            })
        });
        let channel = Channel {
            asker: Asker::Script {
                caps: Box::new(caps),
                script,
            },
            ..Channel::default()
        };
        match self
            .runtime
            .call_tool(name, arguments, caller, channel)
            .await
        {
            Some(result) => Ok(TestResult(result)),
            None => Err(TestError::UnknownTool(self.runtime.unknown_tool(name))),
        }
    }

    /// One round of a 2026-07-28 call, driven by hand: the `requestState` and the
    /// `inputResponses` (an object, by question key) to send, as a client would (or
    /// would not: to test what a forged or replayed state gets).
    pub async fn call_round(
        &self,
        name: &str,
        arguments: Value,
        request_state: Option<&str>,
        input_responses: Value,
    ) -> Result<Round, TestError> {
        let Value::Object(arguments) = arguments else {
            return Err(TestError::NotAnObject(arguments));
        };
        let responses = match input_responses {
            Value::Null => None,
            Value::Object(map) => Some(map.into_iter().collect()),
            other => return Err(TestError::NotAnObject(other)),
        };
        let round = crate::runtime::RoundRequest {
            caps: self.client().capabilities(),
            state: request_state.map(str::to_owned),
            responses,
        };
        let caller = self.caller();
        match self
            .runtime
            .call_tool_in_rounds(name, arguments, caller, Channel::default(), round)
            .await
            .map_err(protocol)?
        {
            rmcp::model::CallToolResponse::InputRequired(asked) => Ok(Round::InputRequired {
                questions: serde_json::to_value(asked.input_requests.unwrap_or_default())
                    .unwrap_or_default(),
                state: asked.request_state.unwrap_or_default(),
            }),
            rmcp::model::CallToolResponse::Complete(result) => {
                Ok(Round::Complete(TestResult(result)))
            }
            _ => Err(TestError::NoReply("a task result".into())),
        }
    }

    /// A call as a 2026-07-28 client makes it: rounds until it completes (at most 10,
    /// as the official SDKs).
    async fn call_in_rounds(
        &self,
        name: &str,
        arguments: serde_json::Map<String, Value>,
        caps: rmcp::model::ClientCapabilities,
    ) -> Result<TestResult, TestError> {
        if self.runtime.tools.get(name).is_none() {
            return Err(TestError::UnknownTool(self.runtime.unknown_tool(name)));
        }
        let (mut state, mut responses) = (None, None);
        for _ in 0..rmcp::model::DEFAULT_MRTR_MAX_ROUNDS {
            let round = crate::runtime::RoundRequest {
                caps: caps.clone(),
                state: state.take(),
                responses: responses.take(),
            };
            let caller = self.caller();
            let response = self
                .runtime
                .call_tool_in_rounds(name, arguments.clone(), caller, Channel::default(), round)
                .await
                .map_err(protocol)?;
            match response {
                rmcp::model::CallToolResponse::InputRequired(asked) => {
                    let mut answers = rmcp::model::InputResponses::new();
                    for (key, request) in asked.input_requests.unwrap_or_default() {
                        let reply = self.client().answer(&request);
                        let Some(reply) = reply else {
                            let (kind, message) = crate::call::describe_question(&request);
                            return Err(TestError::NoReply(format!("{kind} \"{message}\"")));
                        };
                        answers.insert(key, reply);
                    }
                    state = asked.request_state;
                    responses = Some(answers);
                }
                rmcp::model::CallToolResponse::Complete(result) => return Ok(TestResult(result)),
                _ => break,
            }
        }
        Err(TestError::NoReply(format!(
            "`{name}` did not complete within {} rounds",
            rmcp::model::DEFAULT_MRTR_MAX_ROUNDS
        )))
    }

    /// Reads a resource by URI (a static one, or one a template matches), through the
    /// same pipeline as stdio and HTTP.
    /// The result is the client's JSON: `{"contents": [{"uri", "mimeType", "text" or
    /// "blob"}]}`.
    pub async fn read(&self, uri: &str) -> Result<Value, TestError> {
        let caller = self.caller();
        self.runtime
            .read_resource(uri, caller, Channel::default())
            .await
            .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
            .map_err(protocol)
    }

    /// Gets a prompt by its exposed name with these arguments (a JSON object of text
    /// values), through the same pipeline as stdio and HTTP.
    pub async fn get_prompt(&self, name: &str, arguments: Value) -> Result<Value, TestError> {
        let Value::Object(arguments) = arguments else {
            return Err(TestError::NotAnObject(arguments));
        };
        let caller = self.caller();
        self.runtime
            .get_prompt(name, arguments, caller, Channel::default())
            .await
            .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
            .map_err(protocol)
    }

    /// Completes `argument` of the prompt `prompt` (its exposed name) from `value`, with
    /// the other arguments already given.
    pub async fn complete_prompt(
        &self,
        prompt: &str,
        argument: &str,
        value: &str,
        given: &[(&str, &str)],
    ) -> Result<Vec<String>, TestError> {
        let reference = Reference::Prompt(PromptReference::new(prompt));
        self.complete(&reference, argument, value, given).await
    }

    /// Completes the variable `argument` of the resource template `template` (written
    /// as declared: `notes://{id}`) from `value`.
    pub async fn complete_resource(
        &self,
        template: &str,
        argument: &str,
        value: &str,
        given: &[(&str, &str)],
    ) -> Result<Vec<String>, TestError> {
        let reference = Reference::Resource(ResourceTemplateReference::new(template));
        self.complete(&reference, argument, value, given).await
    }

    async fn complete(
        &self,
        reference: &Reference,
        argument: &str,
        value: &str,
        given: &[(&str, &str)],
    ) -> Result<Vec<String>, TestError> {
        let given = given
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let caller = self.caller();
        self.runtime
            .complete(
                reference,
                argument,
                value,
                given,
                caller,
                Channel::default(),
            )
            .await
            .map(|r| r.completion.values)
            .map_err(protocol)
    }

    /// Every list as a client is given it: the middleware's list hooks applied (a client
    /// in process, as `call` makes).
    pub async fn lists(&self) -> Lists {
        let rt = &self.runtime;
        let req = crate::chain::ListRequest {
            caller: self.caller(),
        };
        let req = Some(&req);
        let tools = rt.listed(&rt.tools.listed, &rt.tools.listed_scopes, req, |h| h.tools);
        let resources = rt.listed(
            &rt.resources.listed,
            &rt.resources.listed_scopes,
            req,
            |h| h.resources,
        );
        let templates = rt.listed(
            &rt.resources.listed_templates,
            &rt.resources.listed_template_scopes,
            req,
            |h| h.resource_templates,
        );
        let prompts = rt.listed(&rt.prompts.listed, &rt.prompts.listed_scopes, req, |h| {
            h.prompts
        });
        Lists {
            tools: listed_items(tools.await),
            resources: listed_items(resources.await),
            resource_templates: listed_items(templates.await),
            prompts: listed_items(prompts.await),
        }
    }

    /// The prompts, as `prompts/list` gives them.
    pub fn prompts(&self) -> Vec<Listed> {
        listed(&self.runtime.prompts.listed)
    }

    /// The static resources, as `resources/list` gives them.
    pub fn resources(&self) -> Vec<Listed> {
        listed(&self.runtime.resources.listed)
    }

    /// The resource templates, as `resources/templates/list` gives them.
    pub fn resource_templates(&self) -> Vec<Listed> {
        listed(&self.runtime.resources.listed_templates)
    }

    /// Runs every due job (those the calls enqueued and committed) as a worker does,
    /// one after the other, through the middleware chain, until none is due; returns
    /// how many runs there were. A failed run is due again after `[jobs] backoff`
    /// seconds (0 in the settings makes it due at once, so that this runs every
    /// attempt).
    pub async fn run_jobs(&self) -> Result<usize, TestError> {
        self.runtime
            .run_due_jobs()
            .await
            .map_err(|e| TestError::Database(e.to_string()))
    }

    /// The jobs, newest first (at most 1000), as `run jobs --json` shows them: `name`
    /// (`app.job`), `arguments` and `result` (JSON text), `status`, `attempts`, `error`.
    pub async fn jobs(&self) -> Result<Vec<Value>, TestError> {
        let mut db = self.db().await?;
        let rows = crate::jobs::list(&mut db, None, 1000)
            .await
            .map_err(|e| TestError::Database(e.to_string()))?;
        Ok(rows
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or_default())
            .collect())
    }

    /// Calls a `#[tool(task)]` as a task (as a client that declares the tasks
    /// extension does), and follows it to its end as that client would: polls it,
    /// answers its questions (`tasks/update`) with the [`reply`](Self::reply)s queued,
    /// and records every status message its progress gave. The task's row is in the
    /// test database, as in a served project.
    pub async fn run_task(&self, name: &str, arguments: Value) -> Result<TestTask, TestError> {
        use rmcp::model::TaskPayload;
        let Value::Object(arguments) = arguments else {
            return Err(TestError::NotAnObject(arguments));
        };
        match self.runtime.task_mode(name) {
            None => return Err(TestError::UnknownTool(self.runtime.unknown_tool(name))),
            Some(crate::registry::TaskMode::Forbidden) => {
                return Err(TestError::Protocol {
                    code: -32602,
                    message: format!(
                        "`{name}` does not run as a task: mark it #[tool(task)] (TestServer::call calls it)"
                    ),
                });
            }
            Some(_) => {}
        }
        let caps = self.client().capabilities();
        let task = self
            .runtime
            .start_task(name, arguments, self.caller(), Channel::default(), caps)
            .await
            .map_err(|e| TestError::Protocol {
                code: e.code.0,
                message: e.message.to_string(),
            })?;
        let id = task.task_id;
        let mut messages: Vec<String> = Vec::new();
        let mut answered = std::collections::BTreeSet::new();
        loop {
            let now = self
                .runtime
                .get_task(&id, &self.caller())
                .await
                .map_err(|e| TestError::Protocol {
                    code: e.code.0,
                    message: e.message.to_string(),
                })?;
            if let Some(said) = &now.task.status_message
                && messages.last() != Some(said)
            {
                messages.push(said.clone());
            }
            let end = |status: &str, result, error| TestTask {
                id: id.clone(),
                status: status.to_owned(),
                messages: messages.clone(),
                result,
                error,
            };
            match now.payload {
                TaskPayload::Completed { result } => {
                    let result: CallToolResult = serde_json::from_value(Value::Object(result))
                        .map_err(|e| TestError::Database(format!("the task's result: {e}")))?;
                    return Ok(end("completed", Some(TestResult(result)), None));
                }
                TaskPayload::Failed { error } => {
                    return Ok(end("failed", None, Some(Value::Object(error))));
                }
                TaskPayload::Cancelled => return Ok(end("cancelled", None, None)),
                TaskPayload::InputRequired { input_requests } => {
                    let mut responses = std::collections::BTreeMap::new();
                    for (key, request) in input_requests {
                        if answered.contains(&key) {
                            continue;
                        }
                        let (kind, _) = crate::call::describe_question(&request);
                        let answer = self
                            .client()
                            .answer(&request)
                            .ok_or_else(|| TestError::NoReply(kind.to_owned()))?;
                        answered.insert(key.clone());
                        responses.insert(key, answer);
                    }
                    if !responses.is_empty() {
                        self.runtime
                            .update_task(&id, &self.caller(), responses)
                            .await
                            .map_err(|e| TestError::Protocol {
                                code: e.code.0,
                                message: e.message.to_string(),
                            })?;
                    }
                }
                _ => {}
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// A connection to the test database, to look at what the tools did.
    pub async fn db(&self) -> Result<Object<Db>, TestError> {
        self.runtime
            .database()
            .get()
            .await
            .map_err(|e| TestError::Database(e.to_string()))
    }

    /// The folder the test database lives in (SQLite).
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }
}

#[cfg(feature = "postgres")]
async fn postgres_database() -> Result<(String, (String, String)), TestError> {
    use diesel_async::SimpleAsyncConnection;
    let base = std::env::var("MANGO_TEST_DATABASE_URL").map_err(|_| {
        TestError::Database(
            "set MANGO_TEST_DATABASE_URL to a PostgreSQL server (postgres://user:pw@host/postgres): each test server makes a database there".into(),
        )
    })?;
    let name = format!(
        "mango_test_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let mut conn = crate::db::pg::connect_url(&base)
        .await
        .map_err(|e| TestError::Database(format!("{}: {e}", crate::db::redact(&base))))?;
    conn.batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(|e| TestError::Database(e.to_string()))?;
    Ok((
        crate::db::pg::with_database(&base, &name),
        (base.clone(), name),
    ))
}

#[cfg(feature = "postgres")]
impl Drop for TestServer {
    fn drop(&mut self) {
        self.runtime.database().close();
        if let Some((base, name)) = self.dropper.take() {
            // A thread of its own: Drop cannot await, and may run inside a runtime.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    use diesel_async::SimpleAsyncConnection;
                    if let Ok(mut conn) = crate::db::pg::connect_url(&base).await {
                        let _ = conn
                            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .await;
                    }
                });
            })
            .join();
        }
    }
}
