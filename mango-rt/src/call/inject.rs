//! Values an item asks for besides its arguments: `&Context`, an app's `&Settings`, the
//! database connection `&mut Db`.

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::Context;
use crate::db::{Db, DbLease, DbMode, DbSlot};
use crate::error::ToolError;
use crate::settings::AppSettings;

/// One call as generated code sees it: the JSON arguments, the call's context, and its
/// database slot (shared with the middleware around it: one connection, one
/// transaction).
pub struct Call {
    arguments: serde_json::Map<String, serde_json::Value>,
    context: Context,
    db: DbSlot,
    db_mode: DbMode,
}

impl Call {
    pub(crate) fn new(
        arguments: serde_json::Map<String, serde_json::Value>,
        context: Context,
        db: DbSlot,
        db_mode: DbMode,
    ) -> Self {
        Call {
            arguments,
            context,
            db,
            db_mode,
        }
    }

    /// Deserializes the arguments into the tool's argument struct. The error names the
    /// field at fault.
    ///
    /// serde's message quotes the value it could not take: it is left out when the
    /// argument's name (or a field's on its path) says it holds a secret, or is listed in
    /// `[audit] redact`, and cut to 1 KiB otherwise.
    pub fn arguments<T: DeserializeOwned>(&mut self) -> Result<T, ToolError> {
        const MAX_MESSAGE: usize = 1024;
        let value = serde_json::Value::Object(std::mem::take(&mut self.arguments));
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            let listed = &self.context.project_settings().audit.redact;
            let secret = path
                .split(['.', '[', ']'])
                .filter(|segment| !segment.is_empty())
                .any(|segment| {
                    crate::util::secret_like(segment)
                        || listed.iter().any(|l| l.eq_ignore_ascii_case(segment))
                });
            let inner = if secret {
                // serde: "invalid type: string \"hunter2\", expected i64".
                let expected = inner
                    .rsplit_once(", expected ")
                    .map(|(_, e)| format!(" (expected {})", crate::util::clip(e, 200)))
                    .unwrap_or_default();
                format!(
                    "the value given is not one the tool takes{expected}; it is not repeated here, as the argument holds a secret"
                )
            } else {
                crate::util::clip(&inner, MAX_MESSAGE).into_owned()
            };
            if path == "." || path.is_empty() {
                ToolError::new(format!("invalid arguments: {inner}"))
            } else {
                ToolError::new(format!("invalid argument `{path}`: {inner}"))
            }
        })
    }

    /// One argument given as text (a resource template's variable), parsed into `T`.
    /// The error names it and says what was wrong.
    pub fn param<T: std::str::FromStr>(&mut self, name: &str) -> Result<T, ParamError>
    where
        T::Err: std::fmt::Display,
    {
        let text = match self.arguments.remove(name) {
            Some(serde_json::Value::String(text)) => text,
            Some(other) => other.to_string(),
            None => return Err(ParamError::Missing(name.to_owned())),
        };
        text.parse().map_err(|e: T::Err| ParamError::Invalid {
            name: name.to_owned(),
            why: e.to_string(),
            text,
        })
    }

    /// An optional argument given as text: `None` when it was not given.
    pub fn optional_param<T: std::str::FromStr>(
        &mut self,
        name: &str,
    ) -> Result<Option<T>, ParamError>
    where
        T::Err: std::fmt::Display,
    {
        if self.arguments.contains_key(name) {
            self.param(name).map(Some)
        } else {
            Ok(None)
        }
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
    note = "injectable types: `&mango_rt::Context`, `&mut Db`, `&AppState<T>` (what a #[startup] hook built) and your `#[mango_rt::settings]` types; take JSON arguments by value (`String`, not `&str`)"
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

impl<T: AppSettings> Inject for T {
    type Holder = Arc<T>;

    fn build(call: &mut Call) -> impl Future<Output = Result<Arc<T>, ToolError>> + Send {
        std::future::ready(call.context.settings::<T>())
    }

    fn borrow(holder: &Arc<T>) -> &T {
        holder
    }
}

impl Inject for Db {
    type Holder = DbLease;

    async fn build(call: &mut Call) -> Result<DbLease, ToolError> {
        call.db
            .lease(&call.context.state().database, call.db_mode)
            .await
    }

    fn borrow(holder: &DbLease) -> &Db {
        holder
    }
}

/// What an app's `#[startup]` hook built (an HTTP client, a cache, a loaded file), by
/// its type: a tool, resource, prompt or command names it as a parameter,
/// `client: &AppState<Client>`, and reads it as a `&Client` (`AppState` derefs to it).
/// Middleware reads it with `req.app_state::<Client>()`, and code with a `Context` with
/// `ctx.app_state::<Client>()`.
pub struct AppState<T>(Arc<T>);

impl<T> AppState<T> {
    /// The shared value itself.
    pub fn shared(&self) -> Arc<T> {
        self.0.clone()
    }
}

impl<T> Clone for AppState<T> {
    fn clone(&self) -> Self {
        AppState(self.0.clone())
    }
}

impl<T> std::ops::Deref for AppState<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for AppState<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The error for a state no hook built.
pub(crate) fn no_state<T>() -> ToolError {
    ToolError::new(format!(
        "no app state of type `{}`: return one from a #[mango_rt::startup] hook of the app (a hook that returns `Result<{}, _>`)",
        std::any::type_name::<T>(),
        std::any::type_name::<T>()
    ))
}

impl<T: Send + Sync + 'static> Inject for AppState<T> {
    type Holder = AppState<T>;

    fn build(call: &mut Call) -> impl Future<Output = Result<AppState<T>, ToolError>> + Send {
        std::future::ready(
            call.context
                .state()
                .app_state::<T>()
                .map(AppState)
                .ok_or_else(no_state::<T>),
        )
    }

    fn borrow(holder: &AppState<T>) -> &AppState<T> {
        holder
    }
}

impl<T> AppState<T> {
    pub(crate) fn new(value: Arc<T>) -> AppState<T> {
        AppState(value)
    }
}

/// Keeps what a start-up hook returned as app state (generated code calls it).
pub fn provide_state<T: Send + Sync + 'static>(call: &Call, value: T) {
    call.context.state().provide(
        std::any::TypeId::of::<T>(),
        std::any::type_name::<T>(),
        Arc::new(value),
    );
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

impl InjectMut for Db {
    fn borrow_mut(holder: &mut DbLease) -> &mut Db {
        holder
    }
}

/// Why a prompt's argument or a resource template's variable could not be read: the
/// message of the call's invalid-params error.
#[derive(Debug, thiserror::Error)]
pub enum ParamError {
    #[error("`{0}` is missing")]
    Missing(String),

    /// `why`: the `FromStr` error's words (its type is the parameter's own).
    #[error("invalid value `{text}` for `{name}`: {why}")]
    Invalid {
        name: String,
        text: String,
        why: String,
    },

    /// Generated code's fallback for an injected parameter (never reached: it is not
    /// read as an argument).
    #[error("this parameter is injected, not an argument")]
    Injected,
}
