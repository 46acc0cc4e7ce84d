//! The transports: stdio and Streamable HTTP, both guarded against input that rmcp
//! 3.x mishandles (see [`guard`]).

pub(crate) mod http;
pub(crate) mod listen;
pub(crate) mod proxy;
pub(crate) mod stdio;

#[cfg(test)]
mod props;

use rmcp::model::ClientJsonRpcMessage;
use serde_json::{Value, json};

/// JSON-RPC's error codes for input that is not a valid message.
pub(crate) const PARSE_ERROR: i64 = -32700;
pub(crate) const INVALID_REQUEST: i64 = -32600;
pub(crate) const INVALID_PARAMS: i64 = -32602;
pub(crate) const INTERNAL_ERROR: i64 = -32603;

/// What to do with one incoming message.
pub(crate) enum Verdict {
    /// A valid message: hand it to rmcp.
    Pass(Box<ClientJsonRpcMessage>),
    /// Invalid: answer the sender with this JSON-RPC error and go on.
    Reply(Value),
    /// Invalid and unanswerable (a notification): log it and go on.
    Drop(String),
}

/// A JSON-RPC error response.
pub(crate) fn error_response(id: Value, code: i64, message: impl Into<String>) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message.into()}})
}

/// Reads one raw message the way rmcp would, but answers what rmcp would drop or answer
/// without an `id` (measured on rmcp 3.11: a request whose `params` is not an object got
/// an error with no `id`, so its caller waited forever; unparsable JSON got no answer).
pub(crate) fn guard(raw: &[u8]) -> Verdict {
    match serde_json::from_slice::<ClientJsonRpcMessage>(raw) {
        Ok(message) => Verdict::Pass(Box::new(message)),
        Err(error) => explain(raw, &error.to_string()),
    }
}

/// The answer to a raw message that rmcp refused, given why.
pub(crate) fn explain(raw: &[u8], why: &str) -> Verdict {
    let value: Value = match serde_json::from_slice(raw) {
        Ok(value) => value,
        Err(e) => {
            return Verdict::Reply(error_response(
                Value::Null,
                PARSE_ERROR,
                format!("parse error: the message is not JSON ({e})"),
            ));
        }
    };
    let Value::Object(object) = &value else {
        let what = if value.is_array() {
            "batches are not supported: send one JSON-RPC message at a time".to_owned()
        } else {
            "invalid request: a JSON-RPC message is an object".to_owned()
        };
        return Verdict::Reply(error_response(Value::Null, INVALID_REQUEST, what));
    };
    let id = match object.get("id") {
        // rmcp keeps numeric ids as i64. A larger integer parses as a float (no longer
        // the id that was sent, so an answer with it could never be matched): refused
        // with a null id. One between 2^63 and 2^64 is still exact: echoed.
        Some(Value::Number(n)) if n.as_i64().is_none() => {
            let id = if n.is_u64() {
                Value::Number(n.clone())
            } else {
                Value::Null
            };
            return Verdict::Reply(error_response(
                id,
                INVALID_REQUEST,
                "invalid request: a numeric `id` must be a whole number from -2^63 to 2^63-1; send a larger one as a string",
            ));
        }
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        Some(_) => {
            return Verdict::Reply(error_response(
                Value::Null,
                INVALID_REQUEST,
                "invalid request: `id` must be a string or a number",
            ));
        }
        None => {
            return Verdict::Drop(format!("ignored an invalid notification: {why}"));
        }
    };
    let method = object.get("method").and_then(Value::as_str);
    match (method, object.get("params")) {
        (None, _) => Verdict::Reply(error_response(
            id,
            INVALID_REQUEST,
            "invalid request: `method` is missing or not a string",
        )),
        (Some(method), Some(params)) if !params.is_object() => Verdict::Reply(error_response(
            id,
            INVALID_PARAMS,
            format!("invalid params: the `params` of `{method}` must be an object"),
        )),
        (Some(method), _) => Verdict::Reply(error_response(
            id,
            INVALID_PARAMS,
            format!("invalid params for `{method}`: {why}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(raw: &str) -> Value {
        match guard(raw.as_bytes()) {
            Verdict::Reply(v) => v,
            Verdict::Pass(_) => json!("pass"),
            Verdict::Drop(_) => json!("drop"),
        }
    }

    #[test]
    fn valid_messages_pass() {
        assert_eq!(
            reply(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#),
            json!("pass")
        );
        assert_eq!(
            reply(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            json!("pass")
        );
    }

    #[test]
    fn params_that_are_not_an_object_get_an_error_with_the_id() {
        let r = reply(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":[1,2]}"#);
        assert_eq!(r["id"], json!(7));
        assert_eq!(r["error"]["code"], json!(INVALID_PARAMS));
        let r = reply(r#"{"jsonrpc":"2.0","id":"a","method":"tools/list","params":"x"}"#);
        assert_eq!(r["id"], json!("a"));
    }

    #[test]
    fn ids_beyond_64_bits_are_refused_never_answered_with_another_id() {
        let r = reply(r#"{"jsonrpc":"2.0","id":18446744073709551617,"method":"tools/list"}"#);
        assert_eq!(r["id"], Value::Null, "{r}");
        assert_eq!(r["error"]["code"], json!(INVALID_REQUEST));
        assert!(r.to_string().contains("as a string"), "{r}");
        let r = reply(r#"{"jsonrpc":"2.0","id":9223372036854775808,"method":"tools/list"}"#);
        assert!(r.to_string().contains(r#""id":9223372036854775808"#), "{r}");
        let r = reply(r#"{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}"#);
        assert_eq!(r["id"], Value::Null, "{r}");
        // The largest i64 passes to rmcp, exactly.
        assert_eq!(
            reply(r#"{"jsonrpc":"2.0","id":9223372036854775807,"method":"tools/list"}"#),
            json!("pass")
        );
    }

    #[test]
    fn garbage_gets_a_parse_error_and_batches_are_refused() {
        let r = reply("{not json");
        assert_eq!(
            (r["id"].clone(), r["error"]["code"].clone()),
            (Value::Null, json!(PARSE_ERROR))
        );
        let r = reply("[]");
        assert_eq!(r["error"]["code"], json!(INVALID_REQUEST));
        assert_eq!(reply(r#"{"jsonrpc":"2.0","method":5}"#), json!("drop"));
    }
}
