//! [`Content`]: the blocks a tool can return besides (or next to) a structured value:
//! text, images, audio, embedded resources, links to resources. Binary data is given as
//! bytes ([`RawBytes`]: never text) and sent base64-encoded, as MCP wants; data that is
//! already base64 text goes through the `_base64` constructors, which check it.

use base64::Engine;
use rmcp::model::{ContentBlock, PromptMessage, Resource, ResourceContents, Role};

use crate::error::ToolError;

/// One block of content, as MCP sends it. Build it with the constructors:
///
/// ```
/// use mango_rt::db::Db;
/// use mango_rt::{Content, tool};
/// # async fn draw(_: &mut Db) -> mango_rt::Result<Vec<u8>> { Ok(vec![137, 80]) }
///
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

/// Raw binary data, as [`Content::image`], [`Content::audio`] and
/// [`Content::embedded_blob`] take it (they base64-encode it): `Vec<u8>`, `&[u8]`,
/// `[u8; N]`, `Box<[u8]>`, `Cow<[u8]>`. Not implemented for text: a `&str` or `String`
/// holding base64 would be encoded a second time. Text that is already base64 goes to
/// [`Content::image_base64`], [`Content::audio_base64`] or
/// [`Content::embedded_blob_base64`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not raw bytes: `Content::image`, `audio` and `embedded_blob` take the bytes and encode them",
    label = "raw bytes (`Vec<u8>`, `&[u8]`, `[u8; N]`) expected here",
    note = "for text that is already base64, use `Content::image_base64` (or `audio_base64`, `embedded_blob_base64`); for the bytes of a string, `.as_bytes()`"
)]
pub trait RawBytes {
    /// The bytes.
    fn raw_bytes(&self) -> &[u8];
}

impl RawBytes for [u8] {
    fn raw_bytes(&self) -> &[u8] {
        self
    }
}

impl<const N: usize> RawBytes for [u8; N] {
    fn raw_bytes(&self) -> &[u8] {
        self
    }
}

impl RawBytes for Vec<u8> {
    fn raw_bytes(&self) -> &[u8] {
        self
    }
}

impl RawBytes for Box<[u8]> {
    fn raw_bytes(&self) -> &[u8] {
        self
    }
}

impl RawBytes for std::borrow::Cow<'_, [u8]> {
    fn raw_bytes(&self) -> &[u8] {
        self
    }
}

impl<T: RawBytes + ?Sized> RawBytes for &T {
    fn raw_bytes(&self) -> &[u8] {
        (**self).raw_bytes()
    }
}

/// `data`, checked to be standard base64 (what MCP sends), or an error saying which
/// constructor takes bytes instead.
fn checked_base64(data: String, what: &str, bytes_instead: &str) -> Result<String, ToolError> {
    match base64::engine::general_purpose::STANDARD.decode(&data) {
        Ok(_) => Ok(data),
        Err(e) => Err(ToolError::new(format!(
            "the {what} is not base64 text ({e}): give its raw bytes to `{bytes_instead}` instead"
        ))),
    }
}

impl Content {
    /// Text.
    pub fn text(text: impl Into<String>) -> Content {
        Content(ContentBlock::text(text))
    }

    /// An image: its raw bytes (encoded here) and MIME type (`image/png`,
    /// `image/jpeg` …). For an image that is already base64 text, [`image_base64`](Self::image_base64).
    pub fn image(data: impl RawBytes, mime_type: impl Into<String>) -> Content {
        Content(ContentBlock::image(base64(data.raw_bytes()), mime_type))
    }

    /// An image given as base64 text (as the MCP specification shows it, and as other
    /// SDKs take it), checked: an error if it is not base64.
    ///
    /// ```
    /// # fn main() -> mango_rt::Result<()> {
    /// let pixel = mango_rt::Content::image_base64("iVBORw0KGgo=", "image/png")?;
    /// assert!(mango_rt::Content::image_base64("not base64!", "image/png").is_err());
    /// # Ok(()) }
    /// ```
    pub fn image_base64(
        data: impl Into<String>,
        mime_type: impl Into<String>,
    ) -> Result<Content, ToolError> {
        let data = checked_base64(data.into(), "image", "Content::image")?;
        Ok(Content(ContentBlock::image(data, mime_type)))
    }

    /// Audio: its raw bytes (encoded here) and MIME type (`audio/wav`, `audio/mpeg` …).
    /// For audio that is already base64 text, [`audio_base64`](Self::audio_base64).
    pub fn audio(data: impl RawBytes, mime_type: impl Into<String>) -> Content {
        Content(ContentBlock::audio(base64(data.raw_bytes()), mime_type))
    }

    /// Audio given as base64 text, checked: an error if it is not base64.
    pub fn audio_base64(
        data: impl Into<String>,
        mime_type: impl Into<String>,
    ) -> Result<Content, ToolError> {
        let data = checked_base64(data.into(), "audio", "Content::audio")?;
        Ok(Content(ContentBlock::audio(data, mime_type)))
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

    /// A resource's raw bytes (encoded here), embedded in the result.
    pub fn embedded_blob(
        uri: impl Into<String>,
        data: impl RawBytes,
        mime_type: impl Into<String>,
    ) -> Content {
        Content(ContentBlock::resource(
            ResourceContents::blob(base64(data.raw_bytes()), uri).with_mime_type(mime_type),
        ))
    }

    /// A resource's bytes given as base64 text, checked, embedded in the result.
    pub fn embedded_blob_base64(
        uri: impl Into<String>,
        data: impl Into<String>,
        mime_type: impl Into<String>,
    ) -> Result<Content, ToolError> {
        let data = checked_base64(data.into(), "blob", "Content::embedded_blob")?;
        Ok(Content(ContentBlock::resource(
            ResourceContents::blob(data, uri).with_mime_type(mime_type),
        )))
    }

    /// A link to a resource the client can read (`resources/read`), with a name to show.
    pub fn link(uri: impl Into<String>, name: impl Into<String>) -> Content {
        Content(ContentBlock::resource_link(Resource::new(uri, name)))
    }

    /// The block as rmcp's type, for what mango does not wrap (annotations, `_meta`).
    pub(crate) fn into_rmcp(self) -> ContentBlock {
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
/// ```
/// use mango_rt::{Message, prompt};
///
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
    pub(crate) fn into_rmcp(self) -> PromptMessage {
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
