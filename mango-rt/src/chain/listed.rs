//! [`Listed`]: one entry of a list a client asked for, as a middleware's list hook sees
//! it (mango's own type: an rmcp release does not change what a hook is written
//! against).

use rmcp::model::{Prompt, Resource, ResourceTemplate, Tool};

/// One entry of `tools/list`, `resources/list`, `resources/templates/list` or
/// `prompts/list`, as a middleware's list hook sees it: the hook may drop it
/// (`items.retain(|item| …)`) or change what the client reads of it.
///
/// ```
/// use mango_rt::{ListRequest, Listed, Middleware, middleware};
///
/// /// Hides the tools whose names end in `_internal` from every list.
/// #[middleware]
/// struct HideInternal;
///
/// impl Middleware for HideInternal {
///     async fn list_tools(&self, _req: &ListRequest, tools: &mut Vec<Listed>) {
///         tools.retain(|tool| !tool.name().ends_with("_internal"));
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Listed(Item);

#[derive(Debug, Clone)]
enum Item {
    Tool(Tool),
    Resource(Resource),
    Template(ResourceTemplate),
    Prompt(Prompt),
}

impl Listed {
    /// Its name: a tool's or prompt's exposed name, a resource's or template's name.
    pub fn name(&self) -> &str {
        match &self.0 {
            Item::Tool(t) => &t.name,
            Item::Resource(r) => &r.name,
            Item::Template(t) => &t.name,
            Item::Prompt(p) => &p.name,
        }
    }

    /// A resource's URI, or a template's URI template (`None` for tools and prompts).
    pub fn uri(&self) -> Option<&str> {
        match &self.0 {
            Item::Resource(r) => Some(&r.uri),
            Item::Template(t) => Some(&t.uri_template),
            Item::Tool(_) | Item::Prompt(_) => None,
        }
    }

    /// The name shown to people, when it has one.
    pub fn title(&self) -> Option<&str> {
        match &self.0 {
            Item::Tool(t) => t.title.as_deref(),
            Item::Resource(r) => r.title.as_deref(),
            Item::Template(t) => t.title.as_deref(),
            Item::Prompt(p) => p.title.as_deref(),
        }
    }

    /// Its description (a tool's is what the model reads to choose it).
    pub fn description(&self) -> Option<&str> {
        match &self.0 {
            Item::Tool(t) => t.description.as_deref(),
            Item::Resource(r) => r.description.as_deref(),
            Item::Template(t) => t.description.as_deref(),
            Item::Prompt(p) => p.description.as_deref(),
        }
    }

    pub fn set_title(&mut self, title: impl Into<String>) {
        let title = Some(title.into());
        match &mut self.0 {
            Item::Tool(t) => t.title = title,
            Item::Resource(r) => r.title = title,
            Item::Template(t) => t.title = title,
            Item::Prompt(p) => p.title = title,
        }
    }

    pub fn set_description(&mut self, description: impl Into<String>) {
        let description = description.into();
        match &mut self.0 {
            Item::Tool(t) => t.description = Some(description.into()),
            Item::Resource(r) => r.description = Some(description),
            Item::Template(t) => t.description = Some(description),
            Item::Prompt(p) => p.description = Some(description),
        }
    }

    /// Its `_meta` object, to add keys the client reads (made empty when it had none).
    pub fn meta_mut(&mut self) -> &mut serde_json::Map<String, serde_json::Value> {
        let meta = match &mut self.0 {
            Item::Tool(t) => &mut t.meta,
            Item::Resource(r) => &mut r.meta,
            Item::Template(t) => &mut t.meta,
            Item::Prompt(p) => &mut p.meta,
        };
        &mut meta.get_or_insert_with(Default::default).0
    }

    /// The whole entry as the client gets it, as JSON (to read what no method gives).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// As the client gets it.
impl serde::Serialize for Listed {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Item::Tool(t) => t.serialize(serializer),
            Item::Resource(r) => r.serialize(serializer),
            Item::Template(t) => t.serialize(serializer),
            Item::Prompt(p) => p.serialize(serializer),
        }
    }
}

/// A kind of entry a list holds: made into a [`Listed`] for the hooks, and back.
pub(crate) trait ListItem: Clone + Sized {
    fn listed(self) -> Listed;
    fn unlisted(listed: Listed) -> Option<Self>;
}

macro_rules! list_item {
    ($ty:ty, $variant:ident) => {
        impl ListItem for $ty {
            fn listed(self) -> Listed {
                Listed(Item::$variant(self))
            }
            fn unlisted(listed: Listed) -> Option<Self> {
                match listed.0 {
                    Item::$variant(item) => Some(item),
                    _ => None,
                }
            }
        }
    };
}

list_item!(Tool, Tool);
list_item!(Resource, Resource);
list_item!(ResourceTemplate, Template);
list_item!(Prompt, Prompt);
