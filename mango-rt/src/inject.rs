//! Values a tool asks for besides its arguments: `&Context`, an app's `&Settings`, the
//! database connection `&mut Db`.

use std::future::Future;

use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::error::ToolError;

/// One tool call as generated code sees it: the JSON arguments and the call's context.
pub struct Call {
    arguments: serde_json::Map<String, serde_json::Value>,
    context: Context,
    atomic: Option<bool>,
    read_only: bool,
    db: crate::db::DbSlot,
}

impl Call {
    pub(crate) fn new(
        arguments: serde_json::Map<String, serde_json::Value>,
        context: Context,
        atomic: Option<bool>,
        read_only: bool,
    ) -> Self {
        Call {
            arguments,
            context,
            atomic,
            read_only,
            db: crate::db::DbSlot::default(),
        }
    }

    /// Shares the database slot of the call around it (middleware and tool use one
    /// connection and one transaction).
    pub(crate) fn with_db(mut self, db: crate::db::DbSlot) -> Self {
        self.db = db;
        self
    }

    /// The call's database connection, once something in the call asked for it.
    pub fn db_slot(&self) -> &crate::db::DbSlot {
        &self.db
    }

    /// Whether the tool says it only reads (`#[tool(read_only)]`): its SQLite
    /// transaction then does not take the write lock up front.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// The tool's `atomic = …` option, if it gave one (else the settings' default).
    pub fn atomic(&self) -> Option<bool> {
        self.atomic
    }

    /// Deserializes the arguments into the tool's argument struct. The error names the
    /// field at fault.
    pub fn arguments<T: DeserializeOwned>(&mut self) -> Result<T, ToolError> {
        let value = serde_json::Value::Object(std::mem::take(&mut self.arguments));
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." || path.is_empty() {
                ToolError::new(format!("invalid arguments: {inner}"))
            } else {
                ToolError::new(format!("invalid argument `{path}`: {inner}"))
            }
        })
    }

    pub fn context(&self) -> &Context {
        &self.context
    }
}

/// A value that a tool (or, later, a command or middleware) receives by naming it as a
/// parameter, built from the call rather than from the JSON arguments.
///
/// A parameter written as a reference (`ctx: &Context`) is injected; any other parameter
/// is a JSON argument.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be injected into a tool",
    label = "parameters written as references are injected by mango, not read from the arguments",
    note = "injectable types: `&mango_rt::Context` (and your `#[mango_rt::settings]` types); take JSON arguments by value (`String`, not `&str`)"
)]
pub trait Inject: Send + Sync + 'static {
    /// What the call keeps alive while the tool borrows from it.
    type Holder: Send + 'static;

    /// Builds the holder for this call.
    fn build(call: &mut Call) -> impl Future<Output = Result<Self::Holder, ToolError>> + Send;

    /// The value the tool sees.
    fn borrow(holder: &Self::Holder) -> &Self;

    /// Called once the tool has returned, with whether its result is a success (a
    /// database connection commits or rolls back here). Not called when the tool panics:
    /// the holder is dropped instead.
    fn finish(
        holder: Self::Holder,
        ok: bool,
    ) -> impl Future<Output = Result<(), ToolError>> + Send {
        let _ = (holder, ok);
        std::future::ready(Ok(()))
    }
}

impl Inject for Context {
    type Holder = Context;

    fn build(call: &mut Call) -> impl Future<Output = Result<Context, ToolError>> + Send {
        std::future::ready(Ok(call.context.clone()))
    }

    fn borrow(holder: &Context) -> &Context {
        holder
    }
}

/// An injected value that a tool can change (`db: &mut Db`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be injected as `&mut`",
    label = "take it as `&{Self}`",
    note = "only some injected values can be borrowed mutably (a database connection can); `Context` and settings are shared"
)]
pub trait InjectMut: Inject {
    fn borrow_mut(holder: &mut Self::Holder) -> &mut Self;
}
