//! JSON schemas of items' arguments and results: JSON Schema 2020-12, MCP's default
//! dialect.

use std::sync::Arc;

use rmcp::model::JsonObject;

/// The input schema of a tool's argument struct: JSON Schema 2020-12, an object, without
/// the generated struct's title, and without `$schema`: 2020-12 is MCP's default dialect
/// (SEP-1613, final since the 2025-11-25 revision), and the line, twice per tool, was
/// over a quarter of a `tools/list` answer for small tools.
pub fn input_schema<T: schemars::JsonSchema + 'static>() -> Arc<JsonObject> {
    let schema = rmcp::handler::server::common::schema_for_type::<T>();
    let mut schema = (*schema).clone();
    schema.remove("$schema");
    schema.remove("title");
    schema.remove("description");
    schema
        .entry("properties")
        .or_insert_with(|| serde_json::Value::Object(JsonObject::new()));
    Arc::new(schema)
}

/// `schema` with `$schema` set to `dialect` (a tool's `dialect = "…"` option).
pub fn with_dialect(schema: Arc<JsonObject>, dialect: &str) -> Arc<JsonObject> {
    let mut schema = (*schema).clone();
    schema.insert("$schema".into(), dialect.into());
    Arc::new(schema)
}

/// The output schema of a tool's result type, as rmcp computes it (not yet wrapped),
/// without `$schema` (see [`input_schema`]).
pub fn output_schema<T: schemars::JsonSchema + 'static>() -> Arc<JsonObject> {
    let schema = rmcp::handler::server::common::schema_for_type::<T>();
    if !schema.contains_key("$schema") {
        return schema;
    }
    let mut schema = (*schema).clone();
    schema.remove("$schema");
    Arc::new(schema)
}

/// Whether a result schema describes an object (else results are wrapped as
/// `{"result": …}`).
pub(crate) fn is_object_schema(schema: &JsonObject) -> bool {
    schema.get("type").and_then(|t| t.as_str()) == Some("object")
}

/// The schema `{"type":"object","properties":{"result": inner},"required":["result"]}`,
/// with the inner schema's `$defs` moved to the top, where `$ref`s look for them.
pub(crate) fn wrap_schema(inner: &JsonObject) -> JsonObject {
    let mut inner = inner.clone();
    let defs = inner.remove("$defs");
    inner.remove("$schema");
    inner.remove("title");
    let mut outer = JsonObject::new();
    outer.insert("type".into(), "object".into());
    let mut props = JsonObject::new();
    props.insert("result".into(), serde_json::Value::Object(inner));
    outer.insert("properties".into(), serde_json::Value::Object(props));
    outer.insert("required".into(), serde_json::json!(["result"]));
    if let Some(d) = defs {
        outer.insert("$defs".into(), d);
    }
    outer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_schemas_are_wrapped_with_defs_on_top() {
        let inner = serde_json::json!({"$schema": "s", "type": "array", "items": {"$ref": "#/$defs/Note"}, "$defs": {"Note": {"type": "object"}}});
        let serde_json::Value::Object(inner) = inner else {
            unreachable!()
        };
        assert!(!is_object_schema(&inner));
        let outer = wrap_schema(&inner);
        assert!(is_object_schema(&outer));
        assert_eq!(outer["required"], serde_json::json!(["result"]));
        assert_eq!(outer["$defs"]["Note"]["type"], "object");
        assert!(outer["properties"]["result"].get("$defs").is_none());
        assert!(
            outer.get("$schema").is_none(),
            "2020-12 is MCP's default dialect"
        );
    }

    #[test]
    fn schemas_leave_out_the_default_dialect() {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Args {
            a: i64,
        }
        let input = input_schema::<Args>();
        assert!(input.get("$schema").is_none(), "{input:?}");
        assert_eq!(input["type"], "object");
        let output = output_schema::<Vec<String>>();
        assert!(output.get("$schema").is_none(), "{output:?}");
        assert_eq!(output["type"], "array");
    }
}
