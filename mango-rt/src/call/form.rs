//! Elicitation forms: a struct's JSON Schema made into MCP's flat form schema, and the
//! check of an answer against it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::model::{ElicitRequest, ElicitRequestParams, ElicitationSchema, InputRequest};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

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
    pub fn cached<T: schemars::JsonSchema + 'static>() -> Result<Arc<Form>, NotAForm> {
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
    pub fn of<T: schemars::JsonSchema>() -> Result<Form, NotAForm> {
        let mut settings = schemars::generate::SchemaSettings::draft07();
        settings.inline_subschemas = true;
        settings.meta_schema = None;
        let root = settings.into_generator().into_root_schema_for::<T>();
        let type_name = std::any::type_name::<T>();
        let Value::Object(root) = root.to_value() else {
            return Err(NotAForm::new(type_name, Why::NotStruct));
        };
        Self::from_schema(type_name, root)
    }

    fn from_schema(type_name: &str, root: Map<String, Value>) -> Result<Form, NotAForm> {
        let not_flat = |why: Why| NotAForm::new(type_name, why);
        if root.get("type").and_then(Value::as_str) != Some("object") {
            return Err(not_flat(Why::NotStruct));
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
                    return Err(not_flat(Why::Field {
                        name: name.clone(),
                        why: FieldWhy::NoSchema,
                    }));
                };
                let flat = flat_property(prop).map_err(|why| {
                    not_flat(Why::Field {
                        name: name.clone(),
                        why,
                    })
                })?;
                properties.insert(name.clone(), Value::Object(flat));
            }
        }
        schema.insert("properties".into(), Value::Object(properties));
        if let Some(required) = root.get("required") {
            schema.insert("required".into(), required.clone());
        }
        // rmcp's own type checks the shape once more.
        let requested = ElicitationSchema::from_json_schema(schema.clone())
            .map_err(|e| not_flat(Why::Refused(e.to_string())))?;
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
    pub fn check(&self, content: &Value) -> Result<(), BadAnswer> {
        let Value::Object(content) = content else {
            return Err(BadAnswer::NotObject(content.clone()));
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
                return Err(BadAnswer::Missing(name.to_owned()));
            }
        }
        for (name, value) in content {
            let Some(Value::Object(prop)) = properties.get(name) else {
                return Err(BadAnswer::Unknown {
                    name: name.clone(),
                    known: properties.keys().cloned().collect(),
                });
            };
            check_value(prop, value).map_err(|why| BadAnswer::Field {
                name: name.clone(),
                why,
            })?;
        }
        Ok(())
    }

    /// The answer's values as `T`.
    pub fn parse<T: DeserializeOwned>(&self, content: Value) -> Result<T, BadAnswer> {
        self.check(&content)?;
        serde_path_to_error::deserialize(content).map_err(|e| BadAnswer::Type {
            path: e.path().to_string(),
            source: e.into_inner(),
        })
    }
}

/// Why a type cannot be an elicitation form.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{type_name}` cannot be an elicitation form: {why} (a form is a struct of strings, numbers, integers, booleans, enums of strings and lists of such enums)"
)]
pub(crate) struct NotAForm {
    type_name: String,
    why: Why,
}

impl NotAForm {
    fn new(type_name: &str, why: Why) -> NotAForm {
        NotAForm {
            type_name: type_name.to_owned(),
            why,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum Why {
    #[error("it is not a struct")]
    NotStruct,

    #[error("the field `{name}` {why}")]
    Field { name: String, why: FieldWhy },

    /// rmcp's own check of the shape, with its words.
    #[error("MCP's form schema refuses it: {0}")]
    Refused(String),
}

/// Why a field cannot be one of a form's.
#[derive(Debug, thiserror::Error)]
enum FieldWhy {
    #[error("has no schema")]
    NoSchema,

    #[error("has several types")]
    SeveralTypes,

    #[error("is a list without an item type")]
    ListWithoutItems,

    #[error("is a list of something other than choices (an enum)")]
    ListOfOther,

    #[error("is a nested struct or a map")]
    Nested,

    #[error("has no single type")]
    NoType,

    #[error("is of the type `{0}`")]
    Type(String),
}

/// Why an answer does not fit its form.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BadAnswer {
    #[error("the values must be an object, not {0}")]
    NotObject(Value),

    #[error("the required field `{0}` is missing")]
    Missing(String),

    #[error("the form has no field `{name}` (it has: {})", known.join(", "))]
    Unknown { name: String, known: Vec<String> },

    #[error("the field `{name}` {why}")]
    Field { name: String, why: BadValue },

    #[error("the field `{path}`: {source}")]
    Type {
        path: String,
        source: serde_json::Error,
    },
}

/// Why one answered value does not fit its field.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BadValue {
    #[error("is {value}, not one of: {}", allowed.join(", "))]
    NotOneOf { value: Value, allowed: Vec<String> },

    #[error("must be {expected}, not {value}")]
    Kind {
        expected: &'static str,
        value: Value,
    },

    #[error("must be at least {0} characters long")]
    TooShort(u64),

    #[error("must be at most {0} characters long")]
    TooLong(u64),

    #[error("must be at least {min}, not {value}")]
    Below { min: f64, value: Value },

    #[error("must be at most {max}, not {value}")]
    Above { max: f64, value: Value },

    #[error("must have at least {0} choices")]
    FewChoices(u64),

    #[error("must have at most {0} choices")]
    ManyChoices(u64),
}

/// One field's schema as MCP's forms take it (or why it cannot be one).
fn flat_property(prop: &Map<String, Value>) -> Result<Map<String, Value>, FieldWhy> {
    let mut prop = prop.clone();
    // Option<T>: `"type": ["string", "null"]`, or `anyOf: [T, {"type": "null"}]`.
    if let Some(Value::Array(types)) = prop.get("type") {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if kept.len() != 1 {
            return Err(FieldWhy::SeveralTypes);
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
                return Err(FieldWhy::ListWithoutItems);
            };
            let mut flat_items = Map::new();
            if let Some(choices) = titled_choices(items) {
                flat_items.insert("anyOf".into(), Value::Array(choices));
            } else if let Some(values) = items.get("enum") {
                flat_items.insert("type".into(), "string".into());
                flat_items.insert("enum".into(), values.clone());
            } else {
                return Err(FieldWhy::ListOfOther);
            }
            out.insert("items".into(), Value::Object(flat_items));
            for key in ["minItems", "maxItems"] {
                if let Some(v) = prop.get(key) {
                    out.insert(key.into(), v.clone());
                }
            }
        }
        "object" => return Err(FieldWhy::Nested),
        "" => return Err(FieldWhy::NoType),
        other => return Err(FieldWhy::Type(other.to_owned())),
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
fn check_value(prop: &Map<String, Value>, value: &Value) -> Result<(), BadValue> {
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
        _ => Err(BadValue::NotOneOf {
            value: v.clone(),
            allowed: allowed.to_vec(),
        }),
    };
    let not = |expected: &'static str| BadValue::Kind {
        expected,
        value: value.clone(),
    };
    match kind {
        "string" => {
            let Some(text) = value.as_str() else {
                return Err(not("a string"));
            };
            if let Some(allowed) = choices(prop) {
                one_of(&allowed, value)?;
            }
            let chars = text.chars().count() as u64;
            if let Some(min) = prop.get("minLength").and_then(Value::as_u64)
                && chars < min
            {
                return Err(BadValue::TooShort(min));
            }
            if let Some(max) = prop.get("maxLength").and_then(Value::as_u64)
                && chars > max
            {
                return Err(BadValue::TooLong(max));
            }
        }
        "integer" | "number" => {
            let Some(n) = value.as_f64() else {
                return Err(not("a number"));
            };
            if kind == "integer" && !(value.is_i64() || value.is_u64()) {
                return Err(not("a whole number"));
            }
            if let Some(min) = prop.get("minimum").and_then(Value::as_f64)
                && n < min
            {
                return Err(BadValue::Below {
                    min,
                    value: value.clone(),
                });
            }
            if let Some(max) = prop.get("maximum").and_then(Value::as_f64)
                && n > max
            {
                return Err(BadValue::Above {
                    max,
                    value: value.clone(),
                });
            }
        }
        "boolean" if !value.is_boolean() => {
            return Err(not("true or false"));
        }
        "array" => {
            let Some(values) = value.as_array() else {
                return Err(not("a list"));
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
                return Err(BadValue::FewChoices(min));
            }
            if let Some(max) = prop.get("maxItems").and_then(Value::as_u64)
                && values.len() as u64 > max
            {
                return Err(BadValue::ManyChoices(max));
            }
        }
        _ => {}
    }
    Ok(())
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
                .map_err(|e| e.to_string())
                .err()
                .unwrap_or_default()
                .contains("`age` must be at most 255")
        );
        bad = good.clone();
        bad["status"] = "asleep".into();
        assert!(
            form.check(&bad)
                .map_err(|e| e.to_string())
                .err()
                .unwrap_or_default()
                .contains("not one of: active, inactive")
        );
        bad = good.clone();
        bad.as_object_mut().map(|o| o.remove("verified"));
        assert!(
            form.check(&bad)
                .map_err(|e| e.to_string())
                .err()
                .unwrap_or_default()
                .contains("`verified` is missing")
        );
        bad = good.clone();
        bad["extra"] = 1.into();
        assert!(
            form.check(&bad)
                .map_err(|e| e.to_string())
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
        let err = Form::of::<Nested>()
            .map_err(|e| e.to_string())
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("the field `inner` is a nested struct"),
            "{err}"
        );
    }
}
