//! 2026-07-28's rounds (the multi-round-trip pattern, MRTR): a tool that asks its client
//! a question ends its round with `input_required`; the client answers and calls again
//! with the answers and the round's `requestState`, and the tool runs again from the top.
//!
//! The state is signed (HMAC, with `[input] key`, or the previous key while keys
//! rotate), expires after `[input] state_ttl` seconds, and names the call it belongs
//! to: the tool, a digest of its arguments, the caller, and the call's id. A state
//! cannot be replayed for another tool, other arguments or another caller, nor once its
//! call has completed (the ids of completed calls are kept until their states expire).
//!
//! Where those ids are kept: in this process's memory, unless the project runs on
//! PostgreSQL with an `[input] key`. Then replicas that share the key accept each
//! other's states, and the ledger is the table `mango_rounds` (mango's own migration),
//! so that a state is not replayed on another replica either.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolResponse, ClientCapabilities, ErrorData, InputRequests, InputRequiredResult,
    InputResponses, RequestStateCodec, RequestStateError, SealOptions,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ErrorKind, Runtime};
use crate::call::{Asker, Caller, Channel, Output, Rounds};
use crate::settings::InputSettings;

#[cfg(feature = "postgres")]
mod shared;

/// mango's own migration on PostgreSQL: the table `mango_rounds` (the shared ledger).
#[cfg(feature = "postgres")]
pub(super) static MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations/postgres-replicas");

/// What a `tools/call` of a 2026-07-28 client brings for its rounds.
pub(crate) struct RoundRequest {
    /// The capabilities the client sent in the request's `_meta`.
    pub caps: ClientCapabilities,
    pub state: Option<String>,
    pub responses: Option<InputResponses>,
}

/// A round's state as it travels (signed, not encrypted: nothing secret goes in it).
#[derive(Serialize, Deserialize)]
struct Sealed {
    /// The tool's exposed name.
    tool: String,
    /// A digest of the call's arguments.
    args: String,
    /// Who called, when authentication said.
    caller: Option<String>,
    /// The call's id, the same in all its rounds.
    call: String,
    /// Every answer so far, by question key.
    answers: BTreeMap<String, Value>,
    /// A digest of every question asked so far, by key.
    asked: BTreeMap<String, String>,
    /// The questions this state waits answers for.
    pending: Vec<String>,
}

/// The signing keys, and the calls in rounds that completed or have a round running.
pub(crate) struct RoundKeeper {
    codec: RequestStateCodec,
    ttl: Duration,
    ledger: Ledger,
}

/// Where the calls that completed, or have a round running, are kept.
enum Ledger {
    /// This process's memory: the states it accepts are its own (a key of its own), or
    /// the database cannot be shared (SQLite).
    Memory {
        done: Mutex<Done>,
        running: Arc<Mutex<HashSet<String>>>,
    },
    /// PostgreSQL's `mango_rounds`, shared by the replicas that sign with one key.
    #[cfg(feature = "postgres")]
    Shared(shared::Shared),
}

/// The ids of completed calls whose states have not expired yet, oldest first.
#[derive(Default)]
struct Done {
    ids: HashSet<String>,
    by_age: VecDeque<(Instant, String)>,
}

impl Done {
    /// Forgets the calls completed more than `ttl` ago (their states expired with them).
    fn expire(&mut self, ttl: Duration) {
        while let Some((at, _)) = self.by_age.front() {
            if at.elapsed() < ttl {
                break;
            }
            if let Some((_, id)) = self.by_age.pop_front() {
                self.ids.remove(&id);
            }
        }
    }
}

/// A short id for a key: states name the key that signed them.
fn key_id(key: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(key)
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn sha_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl RoundKeeper {
    /// The keeper for these settings; a key shorter than 32 bytes stops start-up.
    pub fn new(
        input: &InputSettings,
        path: &str,
        database: &crate::db::Database,
    ) -> Result<RoundKeeper, super::StartError> {
        let short = |name: &str, key: &str| {
            ErrorKind::Middleware(format!(
                "{path}: `input.{name}` is {} bytes long; a key that signs request states must be at least {} bytes (make one with `openssl rand -base64 32`)",
                key.len(),
                RequestStateCodec::MIN_KEY_LENGTH
            ))
        };
        let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
        let current = match input.key.as_ref().map(crate::Secret::expose) {
            Some(key) => {
                if key.len() < RequestStateCodec::MIN_KEY_LENGTH {
                    return Err(short("key", key).into());
                }
                key.as_bytes().to_vec()
            }
            None => crate::util::random_hex(32).into_bytes(),
        };
        let current_id = key_id(&current);
        keys.push((current_id.clone(), current));
        if let Some(previous) = input.previous_key.as_ref().map(crate::Secret::expose) {
            if previous.len() < RequestStateCodec::MIN_KEY_LENGTH {
                return Err(short("previous_key", previous).into());
            }
            let id = key_id(previous.as_bytes());
            if id != current_id {
                keys.push((id, previous.as_bytes().to_vec()));
            }
        }
        let codec = RequestStateCodec::new_with_keyring(current_id, keys)
            .map_err(|e| ErrorKind::Middleware(format!("{path}: `[input]` keys: {e}")))?;
        #[cfg(feature = "postgres")]
        let ledger = if input.key.is_some() {
            Ledger::Shared(shared::Shared::new(database.clone()))
        } else {
            Ledger::Memory {
                done: Mutex::default(),
                running: Arc::default(),
            }
        };
        #[cfg(not(feature = "postgres"))]
        let ledger = {
            let _ = database;
            Ledger::Memory {
                done: Mutex::default(),
                running: Arc::default(),
            }
        };
        Ok(RoundKeeper {
            codec,
            ttl: Duration::from_secs(input.state_ttl.max(1)),
            ledger,
        })
    }

    fn open(&self, state: &str) -> Result<Sealed, StateRefused> {
        self.codec.open_json::<Sealed>(state).map_err(|e| match e {
            RequestStateError::Expired => StateRefused::Expired(self.ttl.as_secs()),
            RequestStateError::IntegrityCheckFailed | RequestStateError::UnknownKeyId => {
                StateRefused::Forged
            }
            other => StateRefused::Unreadable(other),
        })
    }

    fn seal(&self, sealed: &Sealed) -> Result<String, RequestStateError> {
        self.codec
            .seal_json_with(sealed, &SealOptions::new().ttl(self.ttl))
    }

    /// Claims `call` for one round; refused when it completed, or has a round running.
    async fn claim(&self, call: &str) -> Result<Claim, StateRefused> {
        match &self.ledger {
            Ledger::Memory { done, running } => {
                {
                    let mut done = done.lock().unwrap_or_else(|p| p.into_inner());
                    done.expire(self.ttl);
                    if done.ids.contains(call) {
                        return Err(StateRefused::Replayed);
                    }
                }
                let mut held = running.lock().unwrap_or_else(|p| p.into_inner());
                if !held.insert(call.to_owned()) {
                    return Err(StateRefused::Running);
                }
                Ok(Claim::Memory {
                    call: call.to_owned(),
                    running: running.clone(),
                })
            }
            #[cfg(feature = "postgres")]
            Ledger::Shared(shared) => shared.claim(call, self.ttl).await.map(Claim::Shared),
        }
    }

    /// The call completed: its states cannot be used again.
    async fn completed(&self, claim: &mut Claim) {
        match (&self.ledger, claim) {
            (Ledger::Memory { done, .. }, Claim::Memory { call, .. }) => {
                let mut done = done.lock().unwrap_or_else(|p| p.into_inner());
                done.expire(self.ttl);
                if done.ids.insert(call.clone()) {
                    done.by_age.push_back((Instant::now(), call.clone()));
                }
            }
            #[cfg(feature = "postgres")]
            (Ledger::Shared(shared), Claim::Shared(claim)) => {
                shared.completed(claim, self.ttl).await
            }
            #[cfg(feature = "postgres")]
            _ => {}
        }
    }

    /// The round ended without completing its call: the call is free for its next round.
    async fn release(&self, mut claim: Option<Claim>) {
        match &mut claim {
            #[cfg(feature = "postgres")]
            Some(Claim::Shared(held)) => {
                if let Ledger::Shared(shared) = &self.ledger {
                    shared.release(held).await;
                }
            }
            // Memory: released when dropped.
            _ => {}
        }
    }
}

/// Why a round's `requestState` is refused: -32602, with this as its message.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateRefused {
    #[error(
        "the requestState has expired (a state is valid for {0} s, the `[input] state_ttl` setting): call the tool again from the start"
    )]
    Expired(u64),

    #[error(
        "the requestState was not issued by this server, or was altered (its signature does not match; a server restarted without an `[input] key` setting refuses the states it issued before): call the tool again without it"
    )]
    Forged,

    #[error(
        "the requestState is not one this server issues ({0}): send back the requestState of the last answer exactly as received"
    )]
    Unreadable(RequestStateError),

    #[error(
        "the requestState belongs to a call that has already completed: it cannot be replayed (call the tool again, without it, for a new call)"
    )]
    Replayed,

    #[error(
        "another round of this call is running now: wait for its answer, then send that answer's requestState"
    )]
    Running,

    #[cfg(feature = "postgres")]
    #[error(transparent)]
    Ledger(#[from] shared::LedgerError),
}

/// A call's round in progress (released when dropped).
enum Claim {
    Memory {
        call: String,
        running: Arc<Mutex<HashSet<String>>>,
    },
    #[cfg(feature = "postgres")]
    Shared(shared::Held),
}

impl Drop for Claim {
    fn drop(&mut self) {
        match self {
            Claim::Memory { call, running } => {
                running
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(call.as_str());
            }
            // Held: released by the round, or by its own drop.
            #[cfg(feature = "postgres")]
            Claim::Shared(_) => {}
        }
    }
}

impl Runtime {
    /// One round of a 2026-07-28 tool call: the call's answers so far (from its state
    /// and this request), the tool run through the pipeline, then either its result or
    /// `input_required` with the questions it asked and the state to send back. A bad
    /// state or an answer to a question that was not asked is -32602.
    pub async fn call_tool_in_rounds(
        &self,
        name: &str,
        arguments: serde_json::Map<String, Value>,
        caller: Caller,
        mut channel: Channel,
        round: RoundRequest,
    ) -> Result<CallToolResponse, ErrorData> {
        let refuse = |why: &dyn std::fmt::Display| ErrorData::invalid_params(why.to_string(), None);
        let Some(served) = self.tools.get(name) else {
            return Err(refuse(&self.unknown_tool(name)));
        };
        if let Some(why) = self.refusal(&caller, served.entry.scopes) {
            return Ok(Output::Error(format!("`{name}`: {why}"))
                .into_call_tool_result(false)
                .into());
        }
        let args = sha_hex(&Value::Object(arguments.clone()).to_string());
        let responses = round.responses.unwrap_or_default();
        // A call's id is made when its first round asks; a call that never asks has no
        // state to replay, and is not tracked.
        let (call, mut answers, asked) = match &round.state {
            None if !responses.is_empty() => {
                return Err(refuse(
                    &"inputResponses came without a requestState: send back the requestState of the input_required answer with the answers",
                ));
            }
            None => (None, BTreeMap::new(), BTreeMap::new()),
            Some(state) => {
                let sealed = self.rounds.open(state).map_err(|e| refuse(&e))?;
                if sealed.tool != name {
                    return Err(refuse(&format!(
                        "the requestState was issued for the tool `{}`, not `{name}`: send each call's own state back",
                        sealed.tool
                    )));
                }
                if sealed.args != args {
                    return Err(refuse(&format!(
                        "the requestState was issued for a call of `{name}` with other arguments: each round of a call repeats its arguments"
                    )));
                }
                if sealed.caller != caller.identity.as_ref().map(crate::call::Identity::key) {
                    return Err(refuse(&"the requestState was issued to another caller"));
                }
                for key in responses.keys() {
                    if !sealed.pending.contains(key) {
                        return Err(refuse(&format!(
                            "inputResponses answers `{key}`, which this call did not ask (it waits for: {})",
                            if sealed.pending.is_empty() {
                                "nothing".to_owned()
                            } else {
                                sealed.pending.join(", ")
                            }
                        )));
                    }
                }
                (Some(sealed.call), sealed.answers, sealed.asked)
            }
        };
        answers.extend(responses);
        let claim = match &call {
            Some(call) => Some(self.rounds.claim(call).await.map_err(|e| refuse(&e))?),
            None => None,
        };
        let rounds = Arc::new(Rounds::new(
            round.caps,
            answers.clone().into_iter().collect(),
            asked.clone().into_iter().collect(),
        ));
        channel.asker = Asker::Rounds(rounds.clone());
        let identity = caller.identity.as_ref().map(crate::call::Identity::key);
        let output = self.run_tool(served, arguments, caller, channel).await;
        if output != Output::InputRequired {
            match (output.is_success(), claim) {
                (true, Some(mut claim)) => self.rounds.completed(&mut claim).await,
                (_, claim) => self.rounds.release(claim).await,
            }
            return Ok(output.into_call_tool_result(served.wrap).into());
        }
        self.rounds.release(claim).await;
        let pending = rounds.take_pending();
        let mut asked = asked;
        let mut requests = InputRequests::new();
        for (key, request) in &pending {
            asked.insert(key.clone(), crate::call::question_digest(request));
            requests.insert(key.clone(), request.clone());
        }
        tracing::debug!(
            tool = served.name(),
            questions = pending.len(),
            "the round ends asking the client (input_required); its work is rolled back"
        );
        let sealed = Sealed {
            tool: name.to_owned(),
            args,
            caller: identity,
            call: call.unwrap_or_else(|| crate::util::random_hex(16)),
            answers,
            asked,
            pending: pending.into_iter().map(|(key, _)| key).collect(),
        };
        let state = self.rounds.seal(&sealed).map_err(|e| {
            ErrorData::internal_error(format!("the round's state could not be sealed: {e}"), None)
        })?;
        Ok(InputRequiredResult::new(Some(requests), Some(state)).into())
    }
}
