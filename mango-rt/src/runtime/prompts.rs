//! The table of prompts: every `#[prompt]` with its exposed name, its MCP description
//! and its endpoint, and how a get's output becomes MCP's messages.

use std::collections::HashMap;
use std::sync::Arc;

use rmcp::model::{Prompt, PromptArgument, PromptMessage};

use super::completions::Completions;
use super::error::{Kind, StartError};
use super::tools::exposed_name;
use crate::call::{BoxFuture, Call, Content, Kind as ItemKind, Message, Output, Target};
use crate::chain::{Endpoint, Request};
use crate::db::DbMode;
use crate::project::AppInfo;
use crate::registry::PromptEntry;

/// A prompt as served.
pub(crate) struct ServedPrompt {
    pub entry: &'static PromptEntry,
    pub target: Target,
    pub endpoint: Arc<dyn Endpoint>,
    pub completions: Completions,
}

/// Why a prompt's arguments do not fit it: -32602, with this as its message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BadArguments {
    #[error("the prompt `{prompt}` needs the argument `{argument}`")]
    Missing {
        prompt: &'static str,
        argument: &'static str,
    },

    #[error(
        "the prompt `{prompt}` has no argument `{argument}`; it takes: {}",
        if known.is_empty() { "none".to_owned() } else { known.join(", ") }
    )]
    Unknown {
        prompt: &'static str,
        argument: String,
        known: Vec<&'static str>,
    },
}

impl ServedPrompt {
    pub fn db_mode(&self) -> DbMode {
        DbMode::READS
    }

    /// Why `arguments` do not fit the prompt (a missing required one, an unknown one).
    pub fn check(
        &self,
        arguments: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), BadArguments> {
        let declared = self.entry.arguments;
        let prompt = self.target.name;
        if let Some(missing) = declared
            .iter()
            .find(|a| a.required && !arguments.contains_key(a.name))
        {
            return Err(BadArguments::Missing {
                prompt,
                argument: missing.name,
            });
        }
        if let Some(extra) = arguments
            .keys()
            .find(|k| !declared.iter().any(|a| a.name == k.as_str()))
        {
            return Err(BadArguments::Unknown {
                prompt,
                argument: extra.clone(),
                known: declared.iter().map(|a| a.name).collect(),
            });
        }
        Ok(())
    }

    /// MCP's messages of a get that gave `output` (`Err` for an error).
    pub fn messages(&self, output: Output) -> Result<Vec<PromptMessage>, Output> {
        let messages = match output {
            Output::Text(text) => vec![Message::user(text)],
            Output::Messages(messages) => messages,
            Output::Content(content) => content.into_iter().map(Message::user).collect(),
            Output::Json(value) | Output::Rich { value, .. } => {
                vec![Message::user(Content::text(value.to_string()))]
            }
            Output::Empty => Vec::new(),
            Output::Blob(_) => {
                return Err(Output::Error(format!(
                    "the prompt `{}` returned bytes: return text or messages",
                    self.target.name
                )));
            }
            failed @ (Output::Error(_) | Output::Invalid(_) | Output::InputRequired) => {
                return Err(failed);
            }
        };
        Ok(messages.into_iter().map(Message::into_rmcp).collect())
    }
}

/// The end of a prompt's chain: its generated get.
struct PromptEndpoint(fn(Call) -> BoxFuture<Output>);

impl Endpoint for PromptEndpoint {
    fn start(&self, req: &mut Request) -> BoxFuture<Output> {
        (self.0)(req.take_call())
    }

    fn what(&self) -> &'static str {
        "prompt"
    }
}

/// Every prompt, sorted by exposed name.
pub(crate) struct Prompts {
    pub list: Vec<ServedPrompt>,
    by_name: HashMap<&'static str, usize>,
    /// What `prompts/list` gives.
    pub listed: Vec<Prompt>,
    /// The scopes each of `listed` needs.
    pub listed_scopes: Vec<&'static [&'static str]>,
}

impl Prompts {
    pub fn new(
        entries: impl Iterator<Item = &'static PromptEntry>,
        apps: &mut Vec<AppInfo>,
    ) -> Result<Prompts, StartError> {
        let mut list = Vec::new();
        for entry in entries {
            let name = exposed_name("prompt", &entry.meta, apps)?;
            list.push(ServedPrompt {
                entry,
                target: Target {
                    kind: ItemKind::Prompt,
                    name,
                    app: entry.meta.app,
                },
                endpoint: Arc::new(PromptEndpoint(entry.get)),
                completions: Completions::new(entry.completions),
            });
        }
        list.sort_by(|a: &ServedPrompt, b: &ServedPrompt| a.target.name.cmp(b.target.name));
        for pair in list.windows(2) {
            if pair[0].target.name == pair[1].target.name {
                return Err(Kind::DuplicateName {
                    what: "prompt",
                    name: pair[0].target.name.into(),
                    first: pair[0].entry.meta.site(),
                    second: pair[1].entry.meta.site(),
                }
                .into());
            }
        }
        let listed = list.iter().map(describe).collect();
        let by_name = list
            .iter()
            .enumerate()
            .map(|(i, p)| (p.target.name, i))
            .collect();
        let listed_scopes = list.iter().map(|p| p.entry.scopes).collect();
        Ok(Prompts {
            list,
            by_name,
            listed,
            listed_scopes,
        })
    }

    pub fn get(&self, name: &str) -> Option<&ServedPrompt> {
        self.by_name.get(name).map(|&i| &self.list[i])
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether any prompt completes an argument.
    pub fn complete_any(&self) -> bool {
        self.list.iter().any(|p| !p.completions.is_empty())
    }
}

/// The prompt's MCP description.
fn describe(p: &ServedPrompt) -> Prompt {
    let e = p.entry;
    let arguments: Vec<PromptArgument> = e
        .arguments
        .iter()
        .map(|a| {
            let mut argument = PromptArgument::new(a.name).with_required(a.required);
            if !a.description.is_empty() {
                argument = argument.with_description(a.description);
            }
            argument
        })
        .collect();
    let description = (!e.description.is_empty()).then_some(e.description);
    let mut prompt = Prompt::new(
        p.target.name,
        description,
        (!arguments.is_empty()).then_some(arguments),
    );
    if let Some(title) = e.title {
        prompt = prompt.with_title(title);
    }
    prompt
}
