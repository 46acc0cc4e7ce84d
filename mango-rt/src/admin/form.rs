//! A tool's input schema as an HTML form, and a submitted form as the tool's arguments
//! (or each field's error, with nothing called).
//!
//! Strings, numbers, integers, booleans, enums, optional fields, lists of those (one item
//! a line) and nested objects get fields of their own; anything else (a list of objects,
//! a union) gets a JSON box; the whole call can also be given as JSON.

use serde::Serialize;
use serde_json::{Map, Number, Value};

/// What a field edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Kind {
    String,
    Number,
    Integer,
    /// A required boolean: a checkbox.
    Boolean,
    /// An optional boolean: unset, true or false.
    MaybeBoolean,
    Select,
    /// A list of scalars, one a line.
    List,
    Object,
    Json,
}

/// One field of the form.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Field {
    /// The form's name for it: the path of keys, `.`-joined.
    pub name: String,
    pub label: String,
    pub kind: Kind,
    pub required: bool,
    pub description: String,
    /// A select's values; a list's item kind is `item`.
    pub options: Vec<String>,
    pub item: Option<Kind>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    /// An object's fields.
    pub fields: Vec<Field>,
    /// What the field holds (as submitted, or the default).
    pub value: String,
    pub error: Option<String>,
}

/// `#/$defs/Name` (or `#/definitions/Name`) resolved against the root schema.
fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut schema = schema;
    for _ in 0..16 {
        let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let found = reference
            .strip_prefix("#/")
            .map(|path| path.split('/').try_fold(root, |node, key| node.get(key)))
            .and_then(|node| node);
        match found {
            Some(node) => schema = node,
            None => break,
        }
    }
    schema
}

/// The schema's type without `null`, and whether `null` is allowed.
fn type_of(root: &Value, schema: &Value) -> (Option<String>, bool, Value) {
    let schema = resolve(root, schema);
    // `anyOf: [X, {type: null}]` is how an optional struct or enum comes out.
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(variants)) = schema.get(key) {
            let non_null: Vec<&Value> = variants
                .iter()
                .filter(|v| v.get("type").and_then(Value::as_str) != Some("null"))
                .collect();
            if non_null.len() < variants.len() && non_null.len() == 1 {
                let (t, _, inner) = type_of(root, non_null[0]);
                return (t, true, inner);
            }
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) => (Some(t.clone()), false, schema.clone()),
        Some(Value::Array(types)) => {
            let nullable = types.iter().any(|t| t == "null");
            let rest: Vec<&str> = types
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect();
            let t = (rest.len() == 1).then(|| rest[0].to_owned());
            (t, nullable, schema.clone())
        }
        _ => (None, false, schema.clone()),
    }
}

/// The values of a string enum: `enum: [..]`, or `oneOf` of `const`s.
fn choices(schema: &Value) -> Option<Vec<String>> {
    if let Some(Value::Array(values)) = schema.get("enum") {
        return values
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect();
    }
    let variants = schema.get("oneOf").or_else(|| schema.get("anyOf"))?;
    variants
        .as_array()?
        .iter()
        .map(|v| {
            v.get("const")
                .and_then(Value::as_str)
                .or_else(|| {
                    v.get("enum")
                        .and_then(Value::as_array)
                        .filter(|e| e.len() == 1)
                        .and_then(|e| e[0].as_str())
                })
                .map(str::to_owned)
        })
        .collect()
}

fn scalar(t: &str) -> Option<Kind> {
    match t {
        "string" => Some(Kind::String),
        "number" => Some(Kind::Number),
        "integer" => Some(Kind::Integer),
        "boolean" => Some(Kind::Boolean),
        _ => None,
    }
}

fn field(
    root: &Value,
    name: String,
    label: &str,
    schema: &Value,
    required: bool,
    depth: usize,
) -> Field {
    let (t, nullable, inner) = type_of(root, schema);
    let required = required && !nullable;
    let description = resolve(root, schema)
        .get("description")
        .or_else(|| inner.get("description"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let mut f = Field {
        name,
        label: label.to_owned(),
        kind: Kind::Json,
        required,
        description,
        options: Vec::new(),
        item: None,
        minimum: inner.get("minimum").and_then(Value::as_f64),
        maximum: inner.get("maximum").and_then(Value::as_f64),
        fields: Vec::new(),
        value: String::new(),
        error: None,
    };
    if let Some(options) = choices(&inner) {
        f.kind = Kind::Select;
        f.options = options;
    } else {
        match t.as_deref() {
            Some("boolean") if !required => f.kind = Kind::MaybeBoolean,
            Some(s) if scalar(s).is_some() => f.kind = scalar(s).unwrap_or(Kind::Json),
            Some("array") => {
                let items = inner.get("items").cloned().unwrap_or(Value::Null);
                let (item, _, item_schema) = type_of(root, &items);
                match item.as_deref().and_then(scalar) {
                    Some(kind) if choices(&item_schema).is_none() => {
                        f.kind = Kind::List;
                        f.item = Some(kind);
                    }
                    _ => f.kind = Kind::Json,
                }
            }
            Some("object") if depth < 4 && inner.get("properties").is_some() => {
                f.kind = Kind::Object;
                f.fields = fields_of(root, &inner, &f.name, depth + 1);
            }
            _ => f.kind = Kind::Json,
        }
    }
    if let Some(default) = inner.get("default").or_else(|| schema.get("default")) {
        f.value = match default {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            Value::Array(items) if f.kind == Kind::List => items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join("\n"),
            other => other.to_string(),
        };
    }
    f
}

fn fields_of(root: &Value, object: &Value, prefix: &str, depth: usize) -> Vec<Field> {
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(Value::Object(properties)) = object.get("properties") else {
        return Vec::new();
    };
    // Required fields first, in the order the schema lists them (the function's), then
    // the optional ones (by name: that is how the schema's properties come).
    let mut keys: Vec<&String> = properties.keys().collect();
    keys.sort_by_key(|k| required.iter().position(|r| r == k).unwrap_or(usize::MAX));
    keys.into_iter()
        .filter_map(|key| properties.get(key).map(|schema| (key, schema)))
        .map(|(key, schema)| {
            let name = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            field(
                root,
                name,
                key,
                schema,
                required.contains(&key.as_str()),
                depth,
            )
        })
        .collect()
}

/// The form of an input schema (an object schema; anything else is one JSON box).
pub(super) fn fields(schema: &Value) -> Vec<Field> {
    let root = resolve(schema, schema);
    fields_of(schema, root, "", 0)
}

/// The raw JSON box for the whole call.
pub(super) const WHOLE: &str = "__json";

fn lookup<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Why a field's text is not a value of its kind: shown beside the field.
#[derive(Debug, thiserror::Error)]
enum FieldError {
    #[error("required")]
    Required,

    #[error("`{0}` is not a whole number")]
    NotWhole(String),

    #[error("`{0}` is not a number")]
    NotNumber(String),

    #[error("`{0}` is not true or false")]
    NotBool(String),

    #[error("must be at least {0}")]
    Below(f64),

    #[error("must be at most {0}")]
    Above(f64),

    #[error("`{value}` is not one of: {}", options.join(", "))]
    NotAnOption { value: String, options: Vec<String> },

    #[error("line {line}: {why}")]
    Line { line: usize, why: Box<FieldError> },

    #[error("not JSON: {0}")]
    NotJson(serde_json::Error),
}

fn number(text: &str, kind: Kind, f: &Field) -> Result<Value, FieldError> {
    let text = text.trim();
    let value: f64 = match kind {
        Kind::Integer => text
            .parse::<i64>()
            .map(|i| i as f64)
            .map_err(|_| FieldError::NotWhole(text.to_owned()))?,
        _ => text
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| FieldError::NotNumber(text.to_owned()))?,
    };
    if let Some(min) = f.minimum
        && value < min
    {
        return Err(FieldError::Below(min));
    }
    if let Some(max) = f.maximum
        && value > max
    {
        return Err(FieldError::Above(max));
    }
    Ok(match kind {
        Kind::Integer => Value::Number(Number::from(text.parse::<i64>().unwrap_or_default())),
        _ => Number::from_f64(value).map_or(Value::Null, Value::Number),
    })
}

fn item(text: &str, kind: Kind, f: &Field) -> Result<Value, FieldError> {
    match kind {
        Kind::String => Ok(Value::String(text.to_owned())),
        Kind::Boolean => match text.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            other => Err(FieldError::NotBool(other.to_owned())),
        },
        _ => number(text, kind, f),
    }
}

/// One field's value from the form: `Ok(None)` when left empty and optional.
fn read(f: &mut Field, form: &[(String, String)]) -> Result<Option<Value>, ()> {
    let raw = lookup(form, &f.name).unwrap_or("").to_owned();
    if f.kind != Kind::Object {
        f.value = raw.clone();
    }
    let empty = raw.trim().is_empty();
    let result: Result<Option<Value>, FieldError> = match f.kind {
        Kind::Boolean => Ok(Some(Value::Bool(matches!(raw.as_str(), "on" | "true")))),
        Kind::Object => {
            let mut object = Map::new();
            let mut failed = false;
            for child in &mut f.fields {
                match read(child, form) {
                    Ok(Some(v)) => {
                        object.insert(child.label.clone(), v);
                    }
                    Ok(None) => {}
                    Err(()) => failed = true,
                }
            }
            if failed {
                return Err(());
            }
            Ok((f.required || !object.is_empty()).then_some(Value::Object(object)))
        }
        _ if empty && !f.required => Ok(None),
        Kind::String => Ok(Some(Value::String(raw.clone()))),
        _ if empty => Err(FieldError::Required),
        Kind::MaybeBoolean => match raw.as_str() {
            "true" => Ok(Some(Value::Bool(true))),
            "false" => Ok(Some(Value::Bool(false))),
            other => Err(FieldError::NotBool(other.to_owned())),
        },
        Kind::Number | Kind::Integer => number(&raw, f.kind, f).map(Some),
        Kind::Select => {
            if f.options.contains(&raw) {
                Ok(Some(Value::String(raw.clone())))
            } else {
                Err(FieldError::NotAnOption {
                    value: raw.clone(),
                    options: f.options.clone(),
                })
            }
        }
        Kind::List => {
            let kind = f.item.unwrap_or(Kind::String);
            let mut items = Vec::new();
            let mut problem = None;
            for (n, line) in raw.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match item(line.trim_end_matches('\r'), kind, f) {
                    Ok(v) => items.push(v),
                    Err(e) => {
                        problem = Some(FieldError::Line {
                            line: n + 1,
                            why: Box::new(e),
                        });
                        break;
                    }
                }
            }
            match problem {
                Some(e) => Err(e),
                None => Ok(Some(Value::Array(items))),
            }
        }
        Kind::Json => serde_json::from_str::<Value>(&raw)
            .map(Some)
            .map_err(FieldError::NotJson),
    };
    match result {
        Ok(v) => Ok(v),
        Err(e) => {
            f.error = Some(e.to_string());
            Err(())
        }
    }
}

/// The arguments a submitted form gives. Each field keeps what was submitted, and on
/// `Err` the fields that were wrong hold why; `Err(Some(..))` is the whole-call JSON
/// box's error, when that was used.
pub(super) fn arguments(
    fields: &mut [Field],
    form: &[(String, String)],
) -> Result<Map<String, Value>, Option<String>> {
    if let Some(whole) = lookup(form, WHOLE).filter(|w| !w.trim().is_empty()) {
        return match serde_json::from_str::<Value>(whole) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(Some("the arguments must be a JSON object".into())),
            Err(e) => Err(Some(format!("not JSON: {e}"))),
        };
    }
    let mut arguments = Map::new();
    let mut failed = false;
    for f in fields.iter_mut() {
        match read(f, form) {
            Ok(Some(v)) => {
                arguments.insert(f.label.clone(), v);
            }
            Ok(None) => {}
            Err(()) => failed = true,
        }
    }
    if failed { Err(None) } else { Ok(arguments) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "text": {"type": "string", "description": "What to write."},
                "count": {"type": "integer", "format": "uint32", "minimum": 0},
                "ratio": {"type": ["number", "null"]},
                "urgent": {"type": "boolean"},
                "pinned": {"type": ["boolean", "null"]},
                "color": {"type": "string", "enum": ["red", "green"]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "where": {"anyOf": [{"$ref": "#/$defs/Place"}, {"type": "null"}]},
                "extra": {"type": "array", "items": {"$ref": "#/$defs/Place"}}
            },
            "required": ["text", "count", "urgent", "color", "tags"],
            "$defs": {"Place": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}
        })
    }

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_kind_of_field() {
        let fields = fields(&schema());
        let kinds: Vec<(&str, Kind, bool)> = fields
            .iter()
            .map(|f| (f.name.as_str(), f.kind, f.required))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("text", Kind::String, true),
                ("count", Kind::Integer, true),
                ("urgent", Kind::Boolean, true),
                ("color", Kind::Select, true),
                ("tags", Kind::List, true),
                ("extra", Kind::Json, false),
                ("pinned", Kind::MaybeBoolean, false),
                ("ratio", Kind::Number, false),
                ("where", Kind::Object, false),
            ]
        );
        assert_eq!(fields[8].fields[0].name, "where.x");
        let mut fields = fields;
        let args = arguments(
            &mut fields,
            &form(&[
                ("text", "<b>hi</b>"),
                ("count", "3"),
                ("urgent", "on"),
                ("pinned", ""),
                ("color", "green"),
                ("tags", "a\nb\n\n"),
                ("where.x", "7"),
                ("extra", ""),
            ]),
        )
        .expect("valid");
        assert_eq!(
            Value::Object(args),
            json!({"text": "<b>hi</b>", "count": 3, "urgent": true, "color": "green",
                   "tags": ["a", "b"], "where": {"x": 7}})
        );
        assert_eq!(fields[1].value, "3", "a field keeps what was submitted");
    }

    #[test]
    fn each_bad_field_says_why_and_nothing_is_made() {
        let mut fields = fields(&schema());
        let whole = arguments(
            &mut fields,
            &form(&[
                ("count", "-1"),
                ("color", "blue"),
                ("ratio", "x"),
                ("where.x", "1.5"),
            ]),
        )
        .expect_err("invalid");
        assert_eq!(whole, None);
        let error = |name: &str| {
            fields
                .iter()
                .flat_map(|f| std::iter::once(f).chain(f.fields.iter()))
                .find(|f| f.name == name)
                .and_then(|f| f.error.clone())
        };
        assert_eq!(error("count").as_deref(), Some("must be at least 0"));
        assert_eq!(
            error("color").as_deref(),
            Some("`blue` is not one of: red, green")
        );
        assert_eq!(error("ratio").as_deref(), Some("`x` is not a number"));
        assert_eq!(
            error("where.x").as_deref(),
            Some("`1.5` is not a whole number")
        );
        assert_eq!(error("text"), None, "an empty string is a string");
        // The whole call as JSON takes over.
        let args = arguments(&mut fields, &form(&[(WHOLE, r#"{"anything": [1]}"#)])).expect("json");
        assert_eq!(Value::Object(args), json!({"anything": [1]}));
        let whole = arguments(&mut [], &form(&[(WHOLE, "[1]")])).expect_err("array");
        assert_eq!(
            whole.as_deref(),
            Some("the arguments must be a JSON object")
        );
    }
}
