//! The table of resources: static ones by URI, templates (RFC 6570 `{name}` and
//! `{+name}`) matched in order, and how a read's output becomes MCP's contents.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use rmcp::model::{Resource, ResourceContents, ResourceTemplate};

use super::completions::Completions;
use super::error::{Kind, StartError};
use crate::call::{BoxFuture, Call, Kind as ItemKind, Output, Target};
use crate::chain::{Endpoint, Request};
use crate::db::DbMode;
use crate::registry::ResourceEntry;

/// One piece of a URI template.
#[derive(Debug, Clone, PartialEq)]
enum Part {
    Literal(String),
    /// `{name}` (no `/`, `?` or `#` in its value) or `{+name}` (`reserved`: anything).
    Var {
        name: String,
        reserved: bool,
    },
}

/// Why a resource's URI is not a template mango can match.
#[derive(Debug, PartialEq, thiserror::Error)]
pub(crate) enum TemplateError {
    #[error("a `{{` is not closed")]
    Unclosed,

    #[error("a `}}` has no `{{`")]
    Unopened,

    #[error(
        "`{{{0}}}` is not a variable mango can match: use `{{name}}` or `{{+name}}` (letters, digits, `_`)"
    )]
    Expression(String),

    #[error("two variables in a row cannot be told apart: put text between them")]
    Adjacent,
}

/// A parsed URI template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UriTemplate {
    parts: Vec<Part>,
}

impl UriTemplate {
    /// Parses `notes://{id}`; `None` for a URI without variables. The expressions
    /// mango matches are RFC 6570's simple (`{id}`) and reserved (`{+path}`) ones.
    pub fn parse(text: &str) -> Result<Option<UriTemplate>, TemplateError> {
        if !text.contains('{') && !text.contains('}') {
            return Ok(None);
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let Some(close) = rest[open..].find('}') else {
                return Err(TemplateError::Unclosed);
            };
            let expr = &rest[open + 1..open + close];
            let (reserved, name) = match expr.strip_prefix('+') {
                Some(name) => (true, name),
                None => (false, expr),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(TemplateError::Expression(expr.to_owned()));
            }
            if let Some(Part::Var { .. }) = parts.last() {
                return Err(TemplateError::Adjacent);
            }
            parts.push(Part::Var {
                name: name.to_owned(),
                reserved,
            });
            rest = &rest[open + close + 1..];
        }
        if rest.contains('}') {
            return Err(TemplateError::Unopened);
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Some(UriTemplate { parts }))
    }

    /// The variables' names, in order.
    fn variables(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Var { name, .. } => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// The variables' values when `uri` matches (simple ones percent-decoded).
    pub fn matches(&self, uri: &str) -> Option<Vec<(String, String)>> {
        let mut out = Vec::new();
        match_parts(&self.parts, uri, &mut out).then_some(out)
    }

    /// The URI with each variable's value from `value` (percent-encoded, but for `/`
    /// in a reserved one).
    fn expand(&self, value: impl Fn(&str) -> String) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(text) => text.clone(),
                Part::Var { name, reserved } => value(name)
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric()
                            || "-._~".contains(c)
                            || (*reserved && c == '/')
                        {
                            c.to_string()
                        } else {
                            let mut buf = [0u8; 4];
                            c.encode_utf8(&mut buf)
                                .bytes()
                                .map(|b| format!("%{b:02X}"))
                                .collect()
                        }
                    })
                    .collect(),
            })
            .collect()
    }

    /// A URI this template matches (each variable `x`), to tell overlapping templates.
    fn sample(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(text) => text.as_str(),
                Part::Var { .. } => "x",
            })
            .collect()
    }
}

fn match_parts(parts: &[Part], uri: &str, out: &mut Vec<(String, String)>) -> bool {
    match parts.split_first() {
        None => uri.is_empty(),
        Some((Part::Literal(text), rest)) => uri
            .strip_prefix(text.as_str())
            .is_some_and(|tail| match_parts(rest, tail, out)),
        Some((Part::Var { name, reserved }, rest)) => {
            // The shortest value that lets the rest match (a value is never empty).
            let ends = uri
                .char_indices()
                .map(|(i, _)| i)
                .skip(1)
                .chain([uri.len()])
                .filter(|&end| end > 0);
            for end in ends {
                let value = &uri[..end];
                if !reserved && value.contains(['/', '?', '#']) {
                    return false;
                }
                let mark = out.len();
                if match_parts(rest, &uri[end..], out) {
                    let value = if *reserved {
                        value.to_owned()
                    } else {
                        percent_decode(value)
                    };
                    out.insert(mark, (name.clone(), value));
                    return true;
                }
            }
            false
        }
    }
}

/// `%41` → `A` (bytes that do not make UTF-8 are kept as they were written).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// A resource as served.
pub(crate) struct ServedResource {
    pub entry: &'static ResourceEntry,
    pub target: Target,
    template: Option<UriTemplate>,
    pub endpoint: Arc<dyn Endpoint>,
    pub completions: Completions,
}

impl ServedResource {
    /// Whether its URI has variables.
    pub fn is_template(&self) -> bool {
        self.template.is_some()
    }

    /// Its URI template's variables, in order (none for a static resource).
    pub fn variables(&self) -> Vec<String> {
        self.template
            .iter()
            .flat_map(|t| t.variables().map(str::to_owned))
            .collect()
    }

    /// The URI for these values of its variables (its URI, for a static resource).
    pub fn uri_for(&self, value: impl Fn(&str) -> String) -> String {
        match &self.template {
            Some(t) => t.expand(value),
            None => self.entry.uri.to_owned(),
        }
    }

    pub fn db_mode(&self) -> DbMode {
        DbMode::READS
    }

    /// MCP's contents of a read of `uri` that gave `output` (`Err` for an error).
    pub fn contents(&self, uri: &str, output: Output) -> Result<Vec<ResourceContents>, Output> {
        let mime = self.entry.mime_type;
        let text = |text: String, default: &str| {
            ResourceContents::text(text, uri).with_mime_type(mime.unwrap_or(default))
        };
        Ok(vec![match output {
            Output::Text(t) => text(t, "text/plain"),
            Output::Empty => text(String::new(), "text/plain"),
            Output::Json(v) | Output::Rich { value: v, .. } => {
                text(v.to_string(), "application/json")
            }
            Output::Blob(bytes) => {
                ResourceContents::blob(base64::engine::general_purpose::STANDARD.encode(bytes), uri)
                    .with_mime_type(mime.unwrap_or("application/octet-stream"))
            }
            // Several contents (a folder's files, a document's parts): each an embedded
            // resource, with its own URI and type.
            Output::Content(blocks) => {
                return blocks
                    .into_iter()
                    .map(|block| match block.into_rmcp() {
                        rmcp::model::ContentBlock::Resource(embedded) => Ok(embedded.resource),
                        _ => Err(Output::Error(format!(
                            "the resource `{}` returned a content block that is not a resource's contents: give each one with Content::embedded_text or Content::embedded_blob",
                            self.entry.uri
                        ))),
                    })
                    .collect();
            }
            Output::Messages(_) => {
                return Err(Output::Error(format!(
                    "the resource `{}` returned prompt messages: return text, bytes, a value or resource contents",
                    self.entry.uri
                )));
            }
            failed @ (Output::Error(_) | Output::Invalid(_) | Output::InputRequired) => {
                return Err(failed);
            }
        }])
    }
}

/// The end of a resource's chain: its generated read.
struct ResourceEndpoint(fn(Call) -> BoxFuture<Output>);

impl Endpoint for ResourceEndpoint {
    fn start(&self, req: &mut Request) -> BoxFuture<Output> {
        (self.0)(req.take_call())
    }

    fn what(&self) -> &'static str {
        "resource"
    }
}

/// Every resource: static ones by URI, then templates, each list sorted by URI.
pub(crate) struct Resources {
    statics: Vec<ServedResource>,
    by_uri: HashMap<&'static str, usize>,
    templates: Vec<ServedResource>,
    /// What `resources/list` and `resources/templates/list` give.
    pub listed: Vec<Resource>,
    pub listed_templates: Vec<ResourceTemplate>,
    /// The scopes each of `listed` and `listed_templates` needs.
    pub listed_scopes: Vec<&'static [&'static str]>,
    pub listed_template_scopes: Vec<&'static [&'static str]>,
}

impl Resources {
    /// Every resource and template served.
    pub(crate) fn served(&self) -> impl Iterator<Item = &ServedResource> {
        self.statics.iter().chain(&self.templates)
    }

    pub fn new(
        entries: impl Iterator<Item = &'static ResourceEntry>,
    ) -> Result<Resources, StartError> {
        let mut statics = Vec::new();
        let mut templates = Vec::new();
        for entry in entries {
            let template =
                UriTemplate::parse(entry.uri).map_err(|problem| Kind::InvalidResource {
                    uri: entry.uri.into(),
                    site: entry.meta.site(),
                    problem,
                })?;
            let served = ServedResource {
                entry,
                target: Target {
                    kind: ItemKind::Resource,
                    name: entry.meta.name,
                    app: entry.meta.app,
                },
                endpoint: Arc::new(ResourceEndpoint(entry.read)),
                completions: Completions::new(entry.completions),
                template,
            };
            if served.template.is_some() {
                templates.push(served);
            } else {
                statics.push(served);
            }
        }
        let order = |a: &ServedResource, b: &ServedResource| a.entry.uri.cmp(b.entry.uri);
        statics.sort_by(order);
        templates.sort_by(order);
        let clash = |a: &ServedResource, b: &ServedResource| -> StartError {
            Kind::DuplicateResource {
                uri: a.entry.uri.into(),
                other: b.entry.uri.into(),
                first: a.entry.meta.site(),
                second: b.entry.meta.site(),
            }
            .into()
        };
        for pair in statics.windows(2) {
            if pair[0].entry.uri == pair[1].entry.uri {
                return Err(clash(&pair[0], &pair[1]));
            }
        }
        for (i, a) in templates.iter().enumerate() {
            for b in &templates[i + 1..] {
                let (ta, tb) = (a.template.as_ref(), b.template.as_ref());
                let overlap = match (ta, tb) {
                    (Some(ta), Some(tb)) => {
                        ta.matches(&tb.sample()).is_some() || tb.matches(&ta.sample()).is_some()
                    }
                    _ => false,
                };
                if overlap {
                    return Err(clash(a, b));
                }
            }
        }
        let by_uri = statics
            .iter()
            .enumerate()
            .map(|(i, r)| (r.entry.uri, i))
            .collect();
        let describe_static = |r: &ServedResource| {
            let e = r.entry;
            let mut resource = Resource::new(e.uri, e.meta.name);
            if !e.description.is_empty() {
                resource = resource.with_description(e.description);
            }
            if let Some(title) = e.title {
                resource = resource.with_title(title);
            }
            if let Some(mime) = e.mime_type {
                resource = resource.with_mime_type(mime);
            }
            resource
        };
        let describe_template = |r: &ServedResource| {
            let e = r.entry;
            let mut template = ResourceTemplate::new(e.uri, e.meta.name);
            if !e.description.is_empty() {
                template = template.with_description(e.description);
            }
            if let Some(title) = e.title {
                template = template.with_title(title);
            }
            if let Some(mime) = e.mime_type {
                template = template.with_mime_type(mime);
            }
            template
        };
        Ok(Resources {
            listed: statics.iter().map(describe_static).collect(),
            listed_templates: templates.iter().map(describe_template).collect(),
            listed_scopes: statics.iter().map(|r| r.entry.scopes).collect(),
            listed_template_scopes: templates.iter().map(|r| r.entry.scopes).collect(),
            statics,
            by_uri,
            templates,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.statics.is_empty() && self.templates.is_empty()
    }

    /// The resource `uri` names, with the template's variables (a static resource
    /// first, then the templates in order).
    pub fn find(&self, uri: &str) -> Option<(&ServedResource, Vec<(String, String)>)> {
        if let Some(&i) = self.by_uri.get(uri) {
            return Some((&self.statics[i], Vec::new()));
        }
        self.templates.iter().find_map(|r| {
            r.template
                .as_ref()
                .and_then(|t| t.matches(uri))
                .map(|vars| (r, vars))
        })
    }

    /// The template written as `uri_template` (as `completion/complete` names it).
    pub fn template(&self, uri_template: &str) -> Option<&ServedResource> {
        self.templates.iter().find(|r| r.entry.uri == uri_template)
    }

    /// Whether a template's variable is one of its variables.
    pub fn has_variable(served: &ServedResource, name: &str) -> bool {
        served.template.as_ref().is_some_and(|t| {
            t.parts
                .iter()
                .any(|p| matches!(p, Part::Var { name: n, .. } if n == name))
        })
    }

    /// Whether any template completes a variable.
    pub fn complete_any(&self) -> bool {
        self.templates.iter().any(|r| !r.completions.is_empty())
    }

    /// Every resource, the static ones first.
    pub fn all(&self) -> impl Iterator<Item = &ServedResource> {
        self.statics.iter().chain(&self.templates)
    }

    /// Every URI and template, for "did you mean".
    pub fn uris(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.statics
            .iter()
            .chain(&self.templates)
            .map(|r| r.entry.uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(template: &str, uri: &str) -> Option<Vec<(String, String)>> {
        UriTemplate::parse(template)
            .ok()
            .flatten()
            .and_then(|t| t.matches(uri))
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn templates_match_simple_and_reserved_variables() {
        assert_eq!(
            vars("notes://{id}", "notes://42"),
            Some(vec![pair("id", "42")])
        );
        assert_eq!(
            vars("notes://{id}", "notes://"),
            None,
            "a value is never empty"
        );
        assert_eq!(
            vars("notes://{id}", "notes://4/2"),
            None,
            "no `/` in `{{id}}`"
        );
        assert_eq!(
            vars("files://{+path}", "files://a/b/c.txt"),
            Some(vec![pair("path", "a/b/c.txt")])
        );
        assert_eq!(
            vars("notes://{user}/note/{id}.md", "notes://ada/note/7.md"),
            Some(vec![pair("user", "ada"), pair("id", "7")])
        );
        assert_eq!(
            vars("tags://{tag}", "tags://caf%C3%A9"),
            Some(vec![pair("tag", "café")]),
            "simple values are percent-decoded"
        );
        assert_eq!(UriTemplate::parse("notes://recent"), Ok(None));
        assert!(UriTemplate::parse("notes://{id").is_err());
        assert!(UriTemplate::parse("notes://{?q}").is_err());
        assert!(UriTemplate::parse("notes://{a}{b}").is_err());
        let t = UriTemplate::parse("a://{x}/{+y}").ok().flatten();
        let names: Vec<&str> = t.iter().flat_map(|t| t.variables()).collect();
        assert_eq!(names, ["x", "y"]);
    }
}
