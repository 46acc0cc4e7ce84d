//! What MCP returned, as the admin shows it: content blocks (text, images, audio,
//! resources, links), structured JSON, and the whole result as sent. Every string
//! reaches the page through the template engine's escaping.

use serde::Serialize;
use serde_json::Value;

/// One content block.
#[derive(Debug, Serialize)]
pub(super) struct Block {
    /// `text`, `image`, `audio`, `resource`, `resource_link`, or what the block said.
    pub kind: String,
    pub text: Option<String>,
    pub mime: Option<String>,
    /// Base64 of an image or audio block whose type is safe to put in a `data:` URL.
    pub data: Option<String>,
    pub uri: Option<String>,
    /// Bytes of a blob that is not shown.
    pub bytes: Option<usize>,
}

/// A result, ready for a page.
#[derive(Debug, Serialize)]
pub(super) struct Shown {
    pub is_error: bool,
    pub blocks: Vec<Block>,
    /// `structuredContent`, pretty-printed.
    pub structured: Option<String>,
    /// The whole result as MCP sent it, pretty-printed.
    pub raw: String,
    /// A protocol error instead of a result.
    pub protocol_error: Option<String>,
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// `image/png` and the like: a type that may go into a `data:` URL.
fn safe_mime(mime: &str, family: &str) -> bool {
    mime.strip_prefix(family).is_some_and(|rest| {
        rest.strip_prefix('/').is_some_and(|sub| {
            !sub.is_empty()
                && sub
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        })
    })
}

fn base64_only(data: &str) -> bool {
    data.chars()
        .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
}

fn string(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// One block of `content` (of a tool result or a prompt message), or one of a
/// resource's `contents`.
fn block(v: &Value) -> Block {
    let mime = string(v, "mimeType");
    let mut b = Block {
        kind: string(v, "type").unwrap_or_else(|| "resource".into()),
        text: string(v, "text"),
        mime: mime.clone(),
        data: None,
        uri: string(v, "uri"),
        bytes: None,
    };
    let shown = |data: &str, family: &str| {
        mime.as_deref()
            .is_some_and(|m| safe_mime(m, family))
            .then(|| data.to_owned())
            .filter(|d| base64_only(d))
    };
    match b.kind.as_str() {
        "image" | "audio" => {
            let family = b.kind.clone();
            if let Some(data) = v.get("data").and_then(Value::as_str) {
                b.bytes = Some(data.len() / 4 * 3);
                b.data = shown(data, &family);
            }
        }
        "resource" => {
            // An embedded resource: its contents are in `resource`.
            let inner = v.get("resource").unwrap_or(v);
            b.uri = string(inner, "uri");
            b.mime = string(inner, "mimeType");
            b.text = string(inner, "text");
            if let Some(blob) = inner.get("blob").and_then(Value::as_str) {
                b.bytes = Some(blob.len() / 4 * 3);
                let mime = b.mime.clone().unwrap_or_default();
                if safe_mime(&mime, "image") && base64_only(blob) {
                    b.kind = "image".into();
                    b.data = Some(blob.to_owned());
                }
            }
        }
        _ => {}
    }
    b
}

/// A `tools/call` result.
pub(super) fn tool_result(result: &Value) -> Shown {
    Shown {
        is_error: result.get("isError").and_then(Value::as_bool) == Some(true),
        blocks: result
            .get("content")
            .and_then(Value::as_array)
            .map(|c| c.iter().map(block).collect())
            .unwrap_or_default(),
        structured: result.get("structuredContent").map(pretty),
        raw: pretty(result),
        protocol_error: None,
    }
}

/// A `resources/read` result.
pub(super) fn resource_result(result: &Value) -> Shown {
    Shown {
        is_error: false,
        blocks: result
            .get("contents")
            .and_then(Value::as_array)
            .map(|c| c.iter().map(block).collect())
            .unwrap_or_default(),
        structured: None,
        raw: pretty(result),
        protocol_error: None,
    }
}

/// One message of a `prompts/get` result.
#[derive(Debug, Serialize)]
pub(super) struct Said {
    pub role: String,
    pub block: Block,
}

/// A `prompts/get` result's messages.
pub(super) fn messages(result: &Value) -> Vec<Said> {
    result
        .get("messages")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .map(|message| Said {
                    role: string(message, "role").unwrap_or_default(),
                    block: block(message.get("content").unwrap_or(&Value::Null)),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A protocol error in place of a result.
pub(super) fn protocol_error(message: String) -> Shown {
    Shown {
        is_error: true,
        blocks: Vec::new(),
        structured: None,
        raw: String::new(),
        protocol_error: Some(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn images_only_of_image_types_and_base64() {
        let r = tool_result(&json!({"content": [
            {"type": "text", "text": "<script>alert(1)</script>"},
            {"type": "image", "mimeType": "image/png", "data": "iVBORw0KGgo="},
            {"type": "image", "mimeType": "text/html", "data": "PGI+"},
            {"type": "image", "mimeType": "image/png", "data": "\"><script>"},
        ], "structuredContent": {"a": 1}, "isError": false}));
        assert_eq!(
            r.blocks[0].text.as_deref(),
            Some("<script>alert(1)</script>")
        );
        assert_eq!(r.blocks[1].data.as_deref(), Some("iVBORw0KGgo="));
        assert_eq!(r.blocks[2].data, None, "not an image type");
        assert_eq!(r.blocks[3].data, None, "not base64");
        assert!(!r.is_error);
        assert!(r.structured.is_some());
    }
}
