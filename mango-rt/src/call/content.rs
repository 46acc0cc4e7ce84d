//! [`Content`]: the blocks a tool can return besides (or next to) a structured value:
//! text, images, audio, embedded resources, links to resources. Binary data is given as
//! bytes and sent base64-encoded, as MCP wants.

use base64::Engine;
use rmcp::model::{ContentBlock, PromptMessage, Resource, ResourceContents, Role};

/// One block of content, as MCP sends it. Build it with the constructors:
///
/// ```ignore
/// #[tool]
/// async fn chart(db: &mut Db) -> mango_rt::Result<Vec<Content>> {
///     let png: Vec<u8> = draw(db).await?;
///     Ok(vec![
///         Content::text("Notes per day, last 30 days:"),
///         Content::image(png, "image/png"),
///         Content::link("notes://recent", "The recent notes"),
///     ])
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Content(ContentBlock);

fn base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

impl Content {
    /// Text.
    pub fn text(text: impl Into<String>) -> Content {
        Content(ContentBlock::text(text))
    }

    /// An image: its bytes and MIME type (`image/png`, `image/jpeg` …).
    pub fn image(data: impl AsRef<[u8]>, mime_type: impl Into<String>) -> Content {
        Content(ContentBlock::image(base64(data.as_ref()), mime_type))
    }

    /// Audio: its bytes and MIME type (`audio/wav`, `audio/mpeg` …).
    pub fn audio(data: impl AsRef<[u8]>, mime_type: impl Into<String>) -> Content {
        Content(ContentBlock::audio(base64(data.as_ref()), mime_type))
    }

    /// A resource's text, embedded in the result (the client need not read it).
    pub fn embedded_text(
        uri: impl Into<String>,
        text: impl Into<String>,
        mime_type: impl Into<String>,
    ) -> Content {
        Content(ContentBlock::resource(
            ResourceContents::text(text, uri).with_mime_type(mime_type),
        ))
    }

    /// A resource's bytes, embedded in the result.
    pub fn embedded_blob(
        uri: impl Into<String>,
        data: impl AsRef<[u8]>,
        mime_type: impl Into<String>,
    ) -> Content {
        Content(ContentBlock::resource(
            ResourceContents::blob(base64(data.as_ref()), uri).with_mime_type(mime_type),
        ))
    }

    /// A link to a resource the client can read (`resources/read`), with a name to show.
    pub fn link(uri: impl Into<String>, name: impl Into<String>) -> Content {
        Content(ContentBlock::resource_link(Resource::new(uri, name)))
    }

    /// The block as rmcp's type, for what mango does not wrap (annotations, `_meta`).
    pub fn into_rmcp(self) -> ContentBlock {
        self.0
    }
}

impl From<ContentBlock> for Content {
    fn from(block: ContentBlock) -> Content {
        Content(block)
    }
}

impl From<String> for Content {
    fn from(text: String) -> Content {
        Content::text(text)
    }
}

impl From<&str> for Content {
    fn from(text: &str) -> Content {
        Content::text(text)
    }
}

/// One message of a prompt: who says it, and its content (text, an image, an embedded
/// resource …).
///
/// ```ignore
/// #[prompt]
/// async fn review(code: String) -> Vec<Message> {
///     vec![
///         Message::user(format!("Review this code:\n{code}")),
///         Message::assistant("I will look at correctness first."),
///     ]
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Message(PromptMessage);

impl Message {
    /// A message from the user.
    pub fn user(content: impl Into<Content>) -> Message {
        Message(PromptMessage::new(Role::User, content.into().0))
    }

    /// A message from the assistant.
    pub fn assistant(content: impl Into<Content>) -> Message {
        Message(PromptMessage::new(Role::Assistant, content.into().0))
    }

    /// The message as rmcp's type.
    pub fn into_rmcp(self) -> PromptMessage {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_content_is_base64_on_the_wire() {
        let image = serde_json::to_value(Content::image([0u8, 1, 2, 255], "image/png").0)
            .unwrap_or_default();
        assert_eq!(
            image,
            serde_json::json!({"type": "image", "data": "AAEC/w==", "mimeType": "image/png"})
        );
        let embedded =
            serde_json::to_value(Content::embedded_blob("notes://1", b"hi", "text/x-note").0)
                .unwrap_or_default();
        assert_eq!(embedded["resource"]["blob"], "aGk=");
        assert_eq!(embedded["resource"]["uri"], "notes://1");
        let link =
            serde_json::to_value(Content::link("notes://recent", "Recent").0).unwrap_or_default();
        assert_eq!(link["type"], "resource_link");
        assert_eq!(link["name"], "Recent");
    }
}
