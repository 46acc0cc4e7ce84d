//! Asking the client mid-call: elicitation (a form, or a URL to visit) and sampling (a
//! model's reply). [`Context::elicit`](super::Context::elicit) and
//! [`Context::sample`](super::Context::sample) build the request; an [`Asker`] gets the
//! client's answer the way the call's protocol era does it: a server-to-client request
//! (2025-11-25 sessions), a round of the multi-round-trip pattern (2026-07-28), or a
//! test's script.

#![allow(deprecated)] // sampling is deprecated from 2026-07-28 on (SEP-2577); clients still use it

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    ClientCapabilities, ClientResult, ContentBlock, CreateMessageRequest,
    CreateMessageRequestParams, ElicitRequest, ElicitRequestParams, ElicitationSchema,
    InputRequest, ModelHint, ModelPreferences, Role, SamplingMessage, SamplingMessageContentBlock,
    ServerRequest,
};
use rmcp::service::PeerRequestOptions;
use rmcp::{Peer, RoleServer};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{BoxFuture, Content};

/// The client's answer to [`Context::elicit`](super::Context::elicit): the user filled
/// the form in (`Accept`), said no (`Decline`), or dismissed it (`Cancel`).
#[derive(Debug, Clone, PartialEq)]
pub enum Answer<T> {
    Accept(T),
    Decline,
    Cancel,
}

impl<T> Answer<T> {
    /// The values, when the user accepted.
    pub fn accepted(self) -> Option<T> {
        match self {
            Answer::Accept(value) => Some(value),
            Answer::Decline | Answer::Cancel => None,
        }
    }

    /// `accept`, `decline` or `cancel`, as MCP names the actions.
    pub fn action(&self) -> &'static str {
        match self {
            Answer::Accept(_) => "accept",
            Answer::Decline => "decline",
            Answer::Cancel => "cancel",
        }
    }
}

/// Why the client could not be asked, or gave no usable answer. A tool may handle it
/// (ask differently, go on without), or return it with `?`: it becomes the tool's error
/// result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AskError {
    /// The client did not declare the capability (`elicitation`, its `url` mode, or
    /// `sampling`), or the call has no client to ask (a management command).
    #[error("{0}")]
    Unsupported(String),
    /// The client did not answer within `[input] timeout` seconds.
    #[error("the client did not answer within {0:?} (the `[input] timeout` setting)")]
    Timeout(Duration),
    /// The answer does not match what was asked (a form's field of the wrong type, a
    /// missing required field, a value outside the choices …).
    #[error("the client's answer does not match the form: {0}")]
    Invalid(String),
    /// The client answered with an error, or went away.
    #[error("the client could not answer: {0}")]
    Client(String),
    /// A re-run (2026-07-28's rounds) asked a different question than the one answered.
    #[error("{0}")]
    Changed(String),
}

/// A request for a model's reply ([`Context::sample`](super::Context::sample)): the
/// conversation so far, and how to answer.
///
/// ```ignore
/// let reply = ctx
///     .sample(Sampling::new(format!("Summarise in one line: {text}")).max_tokens(60))
///     .await?;
/// ```
#[derive(Debug, Clone)]
pub struct Sampling {
    messages: Vec<SamplingMessage>,
    system: Option<String>,
    max_tokens: u32,
    temperature: Option<f32>,
    stop: Vec<String>,
    hints: Vec<String>,
    priorities: Option<(Option<f32>, Option<f32>, Option<f32>)>,
}

impl Sampling {
    /// A conversation of one user message. At most 1,000 tokens unless
    /// [`max_tokens`](Self::max_tokens) says otherwise.
    pub fn new(prompt: impl Into<String>) -> Sampling {
        Sampling {
            messages: vec![SamplingMessage::user_text(prompt.into())],
            system: None,
            max_tokens: 1000,
            temperature: None,
            stop: Vec::new(),
            hints: Vec::new(),
            priorities: None,
        }
    }

    /// One more user message.
    pub fn user(mut self, text: impl Into<String>) -> Sampling {
        self.messages.push(SamplingMessage::user_text(text.into()));
        self
    }

    /// One more assistant message (an earlier reply, or the start of this one).
    pub fn assistant(mut self, text: impl Into<String>) -> Sampling {
        self.messages
            .push(SamplingMessage::assistant_text(text.into()));
        self
    }

    /// The system prompt.
    pub fn system(mut self, prompt: impl Into<String>) -> Sampling {
        self.system = Some(prompt.into());
        self
    }

    pub fn max_tokens(mut self, tokens: u32) -> Sampling {
        self.max_tokens = tokens;
        self
    }

    pub fn temperature(mut self, temperature: f32) -> Sampling {
        self.temperature = Some(temperature);
        self
    }

    /// A sequence that ends the reply.
    pub fn stop_at(mut self, sequence: impl Into<String>) -> Sampling {
        self.stop.push(sequence.into());
        self
    }

    /// A model the client should prefer (a name or a family: `claude-3-5-sonnet`,
    /// `claude`); the first hint matters most.
    pub fn model_hint(mut self, name: impl Into<String>) -> Sampling {
        self.hints.push(name.into());
        self
    }

    /// How much cost, speed and intelligence matter, each from 0 to 1.
    pub fn priorities(
        mut self,
        cost: Option<f32>,
        speed: Option<f32>,
        intelligence: Option<f32>,
    ) -> Sampling {
        self.priorities = Some((cost, speed, intelligence));
        self
    }

    pub(crate) fn into_request(self) -> InputRequest {
        let mut params = CreateMessageRequestParams::new(self.messages, self.max_tokens);
        params.system_prompt = self.system;
        params.temperature = self.temperature;
        if !self.stop.is_empty() {
            params.stop_sequences = Some(self.stop);
        }
        if !self.hints.is_empty() || self.priorities.is_some() {
            let mut preferences = ModelPreferences::default();
            if !self.hints.is_empty() {
                preferences.hints = Some(
                    self.hints
                        .into_iter()
                        .map(|name| {
                            let mut hint = ModelHint::default();
                            hint.name = Some(name);
                            hint
                        })
                        .collect(),
                );
            }
            if let Some((cost, speed, intelligence)) = self.priorities {
                preferences.cost_priority = cost;
                preferences.speed_priority = speed;
                preferences.intelligence_priority = intelligence;
            }
            params.model_preferences = Some(preferences);
        }
        InputRequest::CreateMessage(CreateMessageRequest::new(params))
    }
}

impl From<&str> for Sampling {
    fn from(prompt: &str) -> Sampling {
        Sampling::new(prompt)
    }
}

impl From<String> for Sampling {
    fn from(prompt: String) -> Sampling {
        Sampling::new(prompt)
    }
}

/// A model's reply to [`Context::sample`](super::Context::sample).
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    /// The reply's blocks (text, image or audio).
    pub content: Vec<Content>,
    /// The model that answered, as the client names it.
    pub model: String,
    /// Why the reply ended (`endTurn`, `maxTokens`, `stopSequence` …), when the client
    /// says.
    pub stop_reason: Option<String>,
}

impl Sampled {
    /// The reply's text blocks, joined.
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(|c| c.clone().into_rmcp().as_text().map(|t| t.text.clone()))
            .collect()
    }

    pub(crate) fn from_value(value: Value) -> Result<Sampled, AskError> {
        let result: rmcp::model::CreateMessageResult = serde_json::from_value(value)
            .map_err(|e| AskError::Invalid(format!("not a sampling result: {e}")))?;
        let mut content = Vec::new();
        for block in result.message.content.iter() {
            let block = match block {
                SamplingMessageContentBlock::Text(t) => ContentBlock::text(t.text.clone()),
                SamplingMessageContentBlock::Image(i) => {
                    ContentBlock::image(i.data.clone(), i.mime_type.clone())
                }
                SamplingMessageContentBlock::Audio(a) => {
                    ContentBlock::audio(a.data.clone(), a.mime_type.clone())
                }
                _ => continue,
            };
            content.push(Content::from(block));
        }
        if result.message.role != Role::Assistant {
            tracing::debug!("a sampling reply came with the user's role");
        }
        Ok(Sampled {
            content,
            model: result.model,
            stop_reason: result.stop_reason,
        })
    }
}

/// A form for [`Context::elicit`](super::Context::elicit): a struct's JSON Schema made
/// into MCP's flat form schema (strings, numbers, integers, booleans, single and
/// multiple choices, with titles, descriptions and defaults), kept to check the answer.
pub(crate) struct Form {
    pub schema: Map<String, Value>,
    /// The same as MCP's type, as the request carries it.
    requested: ElicitationSchema,
}

impl Form {
    /// The form of `T`, made once per type and kept.
    pub fn cached<T: schemars::JsonSchema + 'static>() -> Result<Arc<Form>, String> {
        use std::any::TypeId;
        static FORMS: std::sync::OnceLock<Mutex<HashMap<TypeId, Arc<Form>>>> =
            std::sync::OnceLock::new();
        let forms = FORMS.get_or_init(Default::default);
        if let Some(form) = forms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&TypeId::of::<T>())
        {
            return Ok(form.clone());
        }
        let form = Arc::new(Self::of::<T>()?);
        forms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(TypeId::of::<T>(), form.clone());
        Ok(form)
    }

    /// The form of `T` (a struct deriving `JsonSchema` and `Deserialize`).
    pub fn of<T: schemars::JsonSchema>() -> Result<Form, String> {
        let mut settings = schemars::generate::SchemaSettings::draft07();
        settings.inline_subschemas = true;
        settings.meta_schema = None;
        let root = settings.into_generator().into_root_schema_for::<T>();
        let Value::Object(root) = serde_json::to_value(root).map_err(|e| e.to_string())? else {
            return Err(format!("`{}` has no schema", std::any::type_name::<T>()));
        };
        Self::from_schema(std::any::type_name::<T>(), root)
    }

    fn from_schema(type_name: &str, root: Map<String, Value>) -> Result<Form, String> {
        let not_flat = |why: String| {
            format!(
                "`{type_name}` cannot be an elicitation form: {why} (a form is a struct of strings, numbers, integers, booleans, enums of strings and lists of such enums)"
            )
        };
        if root.get("type").and_then(Value::as_str) != Some("object") {
            return Err(not_flat("it is not a struct".into()));
        }
        let mut schema = Map::new();
        schema.insert("type".into(), "object".into());
        for key in ["title", "description"] {
            if let Some(v) = root.get(key) {
                schema.insert(key.into(), v.clone());
            }
        }
        let mut properties = Map::new();
        if let Some(Value::Object(props)) = root.get("properties") {
            for (name, prop) in props {
                let Value::Object(prop) = prop else {
                    return Err(not_flat(format!("the field `{name}` has no schema")));
                };
                let flat = flat_property(prop)
                    .map_err(|why| not_flat(format!("the field `{name}` {why}")))?;
                properties.insert(name.clone(), Value::Object(flat));
            }
        }
        schema.insert("properties".into(), Value::Object(properties));
        if let Some(required) = root.get("required") {
            schema.insert("required".into(), required.clone());
        }
        // rmcp's own type checks the shape once more.
        let requested = ElicitationSchema::from_json_schema(schema.clone())
            .map_err(|e| not_flat(format!("MCP's form schema refuses it: {e}")))?;
        Ok(Form { schema, requested })
    }

    pub fn request(&self, message: String) -> InputRequest {
        InputRequest::Elicitation(ElicitRequest::new(
            ElicitRequestParams::FormElicitationParams {
                meta: None,
                message,
                requested_schema: self.requested.clone(),
            },
        ))
    }

    /// Checks an accepted answer's values against the form, naming the field at fault.
    pub fn check(&self, content: &Value) -> Result<(), String> {
        let Value::Object(content) = content else {
            return Err(format!("the values must be an object, not {content}"));
        };
        let empty = Map::new();
        let properties = self
            .schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for name in self
            .schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !content.contains_key(name) {
                return Err(format!("the required field `{name}` is missing"));
            }
        }
        for (name, value) in content {
            let Some(Value::Object(prop)) = properties.get(name) else {
                let known: Vec<&str> = properties.keys().map(String::as_str).collect();
                return Err(format!(
                    "the form has no field `{name}` (it has: {})",
                    known.join(", ")
                ));
            };
            check_value(prop, value).map_err(|why| format!("the field `{name}` {why}"))?;
        }
        Ok(())
    }

    /// The answer's values as `T`.
    pub fn parse<T: DeserializeOwned>(&self, content: Value) -> Result<T, String> {
        self.check(&content)?;
        serde_path_to_error::deserialize(content).map_err(|e| {
            let path = e.path().to_string();
            format!("the field `{path}`: {}", e.into_inner())
        })
    }
}

/// One field's schema as MCP's forms take it (or why it cannot be one).
fn flat_property(prop: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut prop = prop.clone();
    // Option<T>: `"type": ["string", "null"]`, or `anyOf: [T, {"type": "null"}]`.
    if let Some(Value::Array(types)) = prop.get("type") {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if kept.len() != 1 {
            return Err("has several types".into());
        }
        prop.insert("type".into(), kept[0].clone());
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = prop.get(key).cloned() {
            let (nulls, others): (Vec<&Value>, Vec<&Value>) = options
                .iter()
                .partition(|o| o.get("type").and_then(Value::as_str) == Some("null"));
            if !nulls.is_empty() && others.len() == 1 {
                prop.remove(key);
                if let Some(Value::Object(inner)) = others.first().map(|v| (*v).clone()) {
                    for (k, v) in inner {
                        prop.entry(k).or_insert(v);
                    }
                }
            }
        }
    }
    let mut out = Map::new();
    for key in ["title", "description", "default"] {
        if let Some(v) = prop.get(key)
            && !v.is_null()
        {
            out.insert(key.into(), v.clone());
        }
    }
    // A titled choice: `oneOf` of consts (an enum whose variants have titles or docs).
    if let Some(choices) = titled_choices(&prop) {
        out.insert("type".into(), "string".into());
        out.insert("oneOf".into(), Value::Array(choices));
        return Ok(out);
    }
    let kind = prop.get("type").and_then(Value::as_str).unwrap_or("");
    out.insert("type".into(), kind.into());
    match kind {
        "string" => {
            for key in ["minLength", "maxLength", "enum", "enumNames"] {
                if let Some(v) = prop.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
            if let Some(format) = prop.get("format").and_then(Value::as_str)
                && ["email", "uri", "date", "date-time"].contains(&format)
            {
                out.insert("format".into(), format.into());
            }
        }
        "integer" | "number" => {
            for key in ["minimum", "maximum"] {
                if let Some(v) = prop.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
        }
        "boolean" => {}
        "array" => {
            let Some(Value::Object(items)) = prop.get("items") else {
                return Err("is a list without an item type".into());
            };
            let mut flat_items = Map::new();
            if let Some(choices) = titled_choices(items) {
                flat_items.insert("anyOf".into(), Value::Array(choices));
            } else if let Some(values) = items.get("enum") {
                flat_items.insert("type".into(), "string".into());
                flat_items.insert("enum".into(), values.clone());
            } else {
                return Err("is a list of something other than choices (an enum)".into());
            }
            out.insert("items".into(), Value::Object(flat_items));
            for key in ["minItems", "maxItems"] {
                if let Some(v) = prop.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
        }
        "object" => return Err("is a nested struct or a map".into()),
        "" => return Err("has no single type".into()),
        other => return Err(format!("is of the type `{other}`")),
    }
    Ok(out)
}

/// `[{"const": …, "title": …}]` for a `oneOf` (or `anyOf`) of constant strings; each
/// choice's title is its title, else its doc comment, else the value itself.
fn titled_choices(prop: &Map<String, Value>) -> Option<Vec<Value>> {
    let options = prop
        .get("oneOf")
        .or_else(|| prop.get("anyOf"))?
        .as_array()?;
    let mut choices = Vec::new();
    for option in options {
        let value = option
            .get("const")
            .or_else(|| {
                option
                    .get("enum")
                    .and_then(Value::as_array)
                    .filter(|e| e.len() == 1)
                    .and_then(|e| e.first())
            })?
            .as_str()?;
        let title = option
            .get("title")
            .or_else(|| option.get("description"))
            .and_then(Value::as_str)
            .unwrap_or(value);
        choices.push(serde_json::json!({"const": value, "title": title}));
    }
    Some(choices)
}

/// One answered value against its field's flat schema.
fn check_value(prop: &Map<String, Value>, value: &Value) -> Result<(), String> {
    let kind = prop.get("type").and_then(Value::as_str).unwrap_or("");
    let choices = |schema: &Map<String, Value>| -> Option<Vec<String>> {
        if let Some(Value::Array(values)) = schema.get("enum") {
            return Some(
                values
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            );
        }
        let options = schema.get("oneOf").or_else(|| schema.get("anyOf"))?;
        Some(
            options
                .as_array()?
                .iter()
                .filter_map(|o| o.get("const").and_then(Value::as_str).map(str::to_owned))
                .collect(),
        )
    };
    let one_of = |allowed: &[String], v: &Value| match v.as_str() {
        Some(s) if allowed.iter().any(|a| a == s) => Ok(()),
        _ => Err(format!("is {v}, not one of: {}", allowed.join(", "))),
    };
    match kind {
        "string" => {
            let Some(text) = value.as_str() else {
                return Err(format!("must be a string, not {value}"));
            };
            if let Some(allowed) = choices(prop) {
                one_of(&allowed, value)?;
            }
            let chars = text.chars().count() as u64;
            if let Some(min) = prop.get("minLength").and_then(Value::as_u64)
                && chars < min
            {
                return Err(format!("must be at least {min} characters long"));
            }
            if let Some(max) = prop.get("maxLength").and_then(Value::as_u64)
                && chars > max
            {
                return Err(format!("must be at most {max} characters long"));
            }
        }
        "integer" | "number" => {
            let Some(n) = value.as_f64() else {
                return Err(format!("must be a number, not {value}"));
            };
            if kind == "integer" && !(value.is_i64() || value.is_u64()) {
                return Err(format!("must be a whole number, not {value}"));
            }
            if let Some(min) = prop.get("minimum").and_then(Value::as_f64)
                && n < min
            {
                return Err(format!("must be at least {min}, not {value}"));
            }
            if let Some(max) = prop.get("maximum").and_then(Value::as_f64)
                && n > max
            {
                return Err(format!("must be at most {max}, not {value}"));
            }
        }
        "boolean" if !value.is_boolean() => {
            return Err(format!("must be true or false, not {value}"));
        }
        "array" => {
            let Some(values) = value.as_array() else {
                return Err(format!("must be a list, not {value}"));
            };
            let allowed = prop
                .get("items")
                .and_then(Value::as_object)
                .and_then(choices)
                .unwrap_or_default();
            for v in values {
                one_of(&allowed, v)?;
            }
            if let Some(min) = prop.get("minItems").and_then(Value::as_u64)
                && (values.len() as u64) < min
            {
                return Err(format!("must have at least {min} choices"));
            }
            if let Some(max) = prop.get("maxItems").and_then(Value::as_u64)
                && values.len() as u64 > max
            {
                return Err(format!("must have at most {max} choices"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// What an elicitation's answer says: the action, and the values when accepted.
pub(crate) fn elicit_result(value: Value) -> Result<(String, Option<Value>), AskError> {
    let result: rmcp::model::ElicitResult = serde_json::from_value(value)
        .map_err(|e| AskError::Invalid(format!("not an elicitation result: {e}")))?;
    let action = serde_json::to_value(&result.action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok((action, result.content))
}

/// What kind of question a request is, for capability checks and messages.
pub(crate) fn describe(request: &InputRequest) -> (&'static str, String) {
    match request {
        InputRequest::Elicitation(e) => match &e.params {
            ElicitRequestParams::UrlElicitationParams { message, .. } => {
                ("url elicitation", message.clone())
            }
            ElicitRequestParams::FormElicitationParams { message, .. } => {
                ("elicitation", message.clone())
            }
            _ => ("elicitation", String::new()),
        },
        InputRequest::CreateMessage(m) => (
            "sampling",
            m.params
                .messages
                .last()
                .and_then(|m| m.content.iter().next().and_then(|c| c.as_text()))
                .map(|t| t.text.clone())
                .unwrap_or_default(),
        ),
        _ => ("roots", String::new()),
    }
}

/// Whether `caps` let the client answer `request`; the error says what is missing.
pub(crate) fn check_capability(
    caps: &ClientCapabilities,
    request: &InputRequest,
) -> Result<(), AskError> {
    let (kind, _) = describe(request);
    let ok = match kind {
        "sampling" => caps.sampling.is_some(),
        "elicitation" => caps
            .elicitation
            .as_ref()
            .is_some_and(|e| e.form.is_some() || e.url.is_none()),
        "url elicitation" => caps.elicitation.as_ref().is_some_and(|e| e.url.is_some()),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        let capability = match kind {
            "sampling" => "`sampling`",
            "url elicitation" => "`elicitation.url`",
            _ => "`elicitation`",
        };
        Err(AskError::Unsupported(format!(
            "the client cannot answer a {kind} request: it did not declare the {capability} capability"
        )))
    }
}

/// A test's stand-in for a client: answers each question (as the client's JSON result).
pub(crate) type Script =
    Arc<dyn Fn(InputRequest) -> BoxFuture<Result<Value, AskError>> + Send + Sync + 'static>;

/// How a call asks its client.
#[derive(Clone, Default)]
pub(crate) enum Asker {
    /// No client can answer (a management command, an in-process call).
    #[default]
    Nobody,
    /// This kind of call cannot ask, for this reason.
    Unsupported(&'static str),
    /// 2025-11-25: a server-to-client request over the session.
    Peer {
        peer: Peer<RoleServer>,
        caps: Box<ClientCapabilities>,
        timeout: Duration,
    },
    /// 2026-07-28: a round of the multi-round-trip pattern.
    Rounds(Arc<Rounds>),
    /// A test's script.
    Script {
        caps: Box<ClientCapabilities>,
        script: Script,
    },
}

impl Asker {
    /// The client's result for `request` (its JSON), however this call gets it.
    pub async fn ask(&self, request: InputRequest) -> Result<Value, AskError> {
        match self {
            Asker::Nobody => Err(AskError::Unsupported(
                "this call has no client to ask (it is not an MCP request)".into(),
            )),
            Asker::Unsupported(why) => Err(AskError::Unsupported((*why).into())),
            Asker::Peer {
                peer,
                caps,
                timeout,
            } => {
                check_capability(caps, &request)?;
                let request = match request {
                    InputRequest::Elicitation(e) => ServerRequest::ElicitRequest(e),
                    InputRequest::CreateMessage(m) => ServerRequest::CreateMessageRequest(m),
                    InputRequest::ListRoots(r) => ServerRequest::ListRootsRequest(r),
                    _ => return Err(AskError::Unsupported("an unknown kind of request".into())),
                };
                let mut options = PeerRequestOptions::default();
                options.timeout = Some(*timeout);
                let sent = peer
                    .send_request_with_option(request, options)
                    .await
                    .map_err(|e| AskError::Client(e.to_string()))?;
                match sent.await_response().await {
                    Ok(result) => client_result(result),
                    Err(rmcp::ServiceError::Timeout { timeout }) => Err(AskError::Timeout(timeout)),
                    Err(rmcp::ServiceError::McpError(e)) => Err(AskError::Client(format!(
                        "error {}: {}",
                        e.code.0, e.message
                    ))),
                    Err(e) => Err(AskError::Client(e.to_string())),
                }
            }
            Asker::Rounds(rounds) => {
                check_capability(&rounds.caps, &request)?;
                rounds.ask(request).await
            }
            Asker::Script { caps, script } => {
                check_capability(caps, &request)?;
                script(request).await
            }
        }
    }

    /// The rounds of this call, when it is a 2026-07-28 one.
    pub fn rounds(&self) -> Option<Arc<Rounds>> {
        match self {
            Asker::Rounds(rounds) => Some(rounds.clone()),
            _ => None,
        }
    }
}

fn client_result(result: ClientResult) -> Result<Value, AskError> {
    let value = match result {
        ClientResult::ElicitResult(r) => serde_json::to_value(r),
        ClientResult::CreateMessageResult(r) => serde_json::to_value(r),
        ClientResult::ListRootsResult(r) => serde_json::to_value(r),
        _ => {
            return Err(AskError::Client(
                "it sent an unexpected kind of result".into(),
            ));
        }
    };
    value.map_err(|e| AskError::Client(e.to_string()))
}

/// The digest of a question, to tell on a re-run that it is the one answered.
pub(crate) fn digest(request: &InputRequest) -> String {
    use sha2::Digest;
    let text = serde_json::to_string(request).unwrap_or_default();
    let hash = sha2::Sha256::digest(text.as_bytes());
    hash.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// One round of a 2026-07-28 call: the answers the client has given so far, and the
/// questions this run asks that have none yet. A question without an answer never
/// returns: the pipeline sees it asked, ends the round (`input_required`) and rolls the
/// round's transaction back; the client answers and the call runs again from the top.
pub(crate) struct Rounds {
    pub caps: ClientCapabilities,
    /// Answers, by question key (`q0`, `q1` … in the order the tool asks).
    pub answers: HashMap<String, Value>,
    /// The digests of the questions asked in earlier rounds, by key.
    pub asked_before: HashMap<String, String>,
    next: AtomicUsize,
    /// Questions of this round still without an answer.
    pending: Mutex<Vec<(String, InputRequest)>>,
    asked: tokio::sync::Notify,
}

impl Rounds {
    pub fn new(
        caps: ClientCapabilities,
        answers: HashMap<String, Value>,
        asked_before: HashMap<String, String>,
    ) -> Rounds {
        Rounds {
            caps,
            answers,
            asked_before,
            next: AtomicUsize::new(0),
            pending: Mutex::new(Vec::new()),
            asked: tokio::sync::Notify::new(),
        }
    }

    async fn ask(&self, request: InputRequest) -> Result<Value, AskError> {
        let key = format!("q{}", self.next.fetch_add(1, Ordering::SeqCst));
        let digest = digest(&request);
        if let Some(before) = self.asked_before.get(&key)
            && *before != digest
        {
            let (kind, message) = describe(&request);
            return Err(AskError::Changed(format!(
                "this run of the call asked a different question ({kind} \"{message}\") than the one its client answered for `{key}`: a tool that asks must ask the same questions, in the same order, each time it runs (its arguments and the answers so far decide them)"
            )));
        }
        if let Some(answer) = self.answers.get(&key) {
            return Ok(answer.clone());
        }
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((key, request));
        self.asked.notify_one();
        std::future::pending().await
    }

    /// The questions asked without an answer (taken).
    pub fn take_pending(&self) -> Vec<(String, InputRequest)> {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Runs `item` until it finishes or asks a question nobody answered yet; then
    /// `None`.
    pub async fn run<F: std::future::Future<Output = O>, O>(&self, item: F) -> Option<O> {
        let mut item = std::pin::pin!(item);
        tokio::select! {
            biased;
            out = &mut item => Some(out),
            () = self.asked.notified() => {
                // Questions asked together (`join!`) are recorded in the same round.
                for _ in 0..4 {
                    if let std::task::Poll::Ready(out) = futures_util::poll!(&mut item) {
                        return Some(out);
                    }
                }
                None
            }
        }
    }
}

/// An answer of the client's, as [`Context::elicit`](super::Context::elicit) returns it.
pub(crate) fn answer_of<T: DeserializeOwned>(
    form: &Form,
    value: Value,
) -> Result<Answer<T>, AskError> {
    let (action, content) = elicit_result(value)?;
    match action.as_str() {
        "accept" => {
            let content = content.unwrap_or(Value::Object(Map::new()));
            form.parse(content)
                .map(Answer::Accept)
                .map_err(AskError::Invalid)
        }
        "decline" => Ok(Answer::Decline),
        "cancel" => Ok(Answer::Cancel),
        other => Err(AskError::Invalid(format!("unknown action `{other}`"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    enum Status {
        #[serde(rename = "active")]
        Active,
        #[serde(rename = "inactive")]
        Inactive,
    }

    #[derive(Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    enum Titled {
        /// First Option
        #[serde(rename = "value1")]
        One,
        /// Second Option
        #[serde(rename = "value2")]
        Two,
    }

    fn default_name() -> String {
        "John Doe".into()
    }

    #[derive(Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Profile {
        /// Your name.
        #[serde(default = "default_name")]
        name: String,
        age: u8,
        score: Option<f64>,
        status: Status,
        titled: Titled,
        many: Vec<Titled>,
        plain_many: Vec<Status>,
        verified: bool,
    }

    #[test]
    fn a_struct_becomes_a_flat_form_with_defaults_and_titled_choices() {
        let form = Form::of::<Profile>().unwrap_or_else(|e| panic!("{e}"));
        let p = &form.schema["properties"];
        assert_eq!(p["name"]["default"], "John Doe");
        assert_eq!(p["name"]["description"], "Your name.");
        assert_eq!(p["age"]["type"], "integer");
        assert_eq!(p["age"]["maximum"], 255);
        assert_eq!(p["score"]["type"], "number");
        assert_eq!(
            p["status"]["enum"],
            serde_json::json!(["active", "inactive"])
        );
        assert_eq!(
            p["titled"]["oneOf"][0],
            serde_json::json!({"const": "value1", "title": "First Option"})
        );
        assert_eq!(p["many"]["items"]["anyOf"][1]["title"], "Second Option");
        assert_eq!(p["plain_many"]["items"]["enum"][0], "active");
        let required = form.schema["required"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(required.contains(&"age".into()) && !required.contains(&"name".into()));
        assert!(!required.contains(&"score".into()));
    }

    #[test]
    fn answers_are_checked_against_the_form() {
        let form = Form::of::<Profile>().unwrap_or_else(|e| panic!("{e}"));
        let good = serde_json::json!({"age": 3, "status": "active", "titled": "value2",
            "many": ["value1"], "plain_many": [], "verified": true});
        assert!(form.check(&good).is_ok());
        let mut bad = good.clone();
        bad["age"] = 300.into();
        assert!(
            form.check(&bad)
                .err()
                .unwrap_or_default()
                .contains("`age` must be at most 255")
        );
        bad = good.clone();
        bad["status"] = "asleep".into();
        assert!(
            form.check(&bad)
                .err()
                .unwrap_or_default()
                .contains("not one of: active, inactive")
        );
        bad = good.clone();
        bad.as_object_mut().map(|o| o.remove("verified"));
        assert!(
            form.check(&bad)
                .err()
                .unwrap_or_default()
                .contains("`verified` is missing")
        );
        bad = good.clone();
        bad["extra"] = 1.into();
        assert!(
            form.check(&bad)
                .err()
                .unwrap_or_default()
                .contains("no field `extra`")
        );
    }

    #[derive(Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Nested {
        inner: Profile,
    }

    #[test]
    fn a_nested_struct_is_refused_with_the_field_named() {
        let err = Form::of::<Nested>().err().unwrap_or_default();
        assert!(
            err.contains("the field `inner` is a nested struct"),
            "{err}"
        );
    }
}
