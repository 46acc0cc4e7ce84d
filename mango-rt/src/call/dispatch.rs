//! How generated code treats an item's parameters and its result, chosen by the types'
//! traits rather than by how their names are spelled.
//!
//! Each choice is made by method lookup through references ("autoref specialization"):
//! a probe `&&…Probe<T>` finds the method of the most specific trait `T` satisfies
//! first, and the tag it returns does the work. The probes are `#[doc(hidden)]`, for
//! generated code only; what an app sees is [`IntoOutput`] and the messages of
//! [`ByValue`] and [`IntoOutput`] when a type fits nowhere.

use std::fmt::Display;
use std::marker::PhantomData;
use std::sync::Arc;

use rmcp::model::JsonObject;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::output::{IntoOutput, Output};
use super::{Inject, ParamError};

/// A type, for method lookup: `(&&Probe::<T>::new()).__mango_…()`.
pub struct Probe<T: ?Sized>(PhantomData<fn() -> PhantomData<T>>);

impl<T: ?Sized> Probe<T> {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Probe(PhantomData)
    }
}

// ---- parameters ------------------------------------------------------------------

/// Never implemented: a parameter of a type mango injects (`Context`, `Db`, an app's
/// settings …) taken by value, which would make it one of the call's arguments.
#[diagnostic::on_unimplemented(
    message = "this parameter is injected by mango, not read from the call's arguments: take it by reference",
    label = "write `&` before this type: `&Context`, `&mut Db`, `&AppState<T>`, `&Settings`",
    note = "a parameter taken by value is one of the call's arguments, read from its JSON; one taken by reference is given by mango (the call's context, its database connection, app state, an app's settings)"
)]
pub trait ByValue {}

/// A parameter of a type mango injects, written by value (an error: see [`ByValue`]).
pub struct Injected<T>(PhantomData<fn() -> T>);

/// A parameter read from the call's arguments.
pub struct Argument<T>(PhantomData<fn() -> T>);

pub trait ProbeInjected<T> {
    fn __mango_param(&self) -> Injected<T> {
        Injected(PhantomData)
    }
}
impl<T: Inject> ProbeInjected<T> for &Probe<T> {}

pub trait ProbeArgument<T> {
    fn __mango_param(&self) -> Argument<T> {
        Argument(PhantomData)
    }
}
impl<T> ProbeArgument<T> for Probe<T> {}

/// The type an argument is read as: itself, or `Refused` for an injected type (so
/// that the only error is the one `ByValue` gives).
pub trait Field {
    type Ty;
}
impl<T> Field for Argument<T> {
    type Ty = T;
}
impl<T> Field for Injected<T> {
    type Ty = Refused;
}

/// The value of an argument that cannot be (an injected type taken by value): it reads
/// from nothing and is never made.
#[derive(Debug)]
pub enum Refused {}

impl<'de> serde::Deserialize<'de> for Refused {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "this parameter is injected, not an argument",
        ))
    }
}

impl schemars::JsonSchema for Refused {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Refused".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!(false)
    }
}

impl<T> Argument<T> {
    /// Nothing to check: any type is an argument (its traits are checked where it is
    /// read).
    pub fn check(&self) {}

    pub fn take(&self, value: T) -> T {
        value
    }
}

impl<T> Argument<T> {
    /// A prompt's argument or a resource template's variable, parsed from its text.
    pub fn param(&self, call: &mut super::Call, name: &str) -> Result<T, ParamError>
    where
        T: std::str::FromStr,
        T::Err: Display,
    {
        call.param(name)
    }
}

impl<T> Argument<Option<T>> {
    /// A prompt's optional argument, parsed from its text when it is given.
    pub fn optional_param(
        &self,
        call: &mut super::Call,
        name: &str,
    ) -> Result<Option<T>, ParamError>
    where
        T: std::str::FromStr,
        T::Err: Display,
    {
        call.optional_param(name)
    }
}

impl<T> Injected<T> {
    pub fn param(&self, _: &mut super::Call, _: &str) -> Result<Refused, ParamError> {
        Err(ParamError::Injected)
    }

    /// The one error a by-value injected parameter gives.
    pub fn check(&self)
    where
        T: ByValue,
    {
    }

    pub fn take(&self, value: Refused) -> T {
        match value {}
    }
}

/// The argument struct of a tool, read from the call's JSON arguments. `T` is the
/// generated struct instantiated with each parameter's [`Field::Ty`] (the marker is
/// only for inference).
pub fn read_arguments<T: DeserializeOwned>(
    call: &mut super::Call,
    _: PhantomData<T>,
) -> Result<T, crate::ToolError> {
    call.arguments()
}

/// The input schema of a tool's argument struct (see [`read_arguments`]).
pub fn input_schema_of<T: schemars::JsonSchema + 'static>(_: PhantomData<T>) -> Arc<JsonObject> {
    crate::schema::input_schema::<T>()
}

// ---- results ---------------------------------------------------------------------

/// The schema of a tool's result, for its `outputSchema`.
pub type OutputSchema = Option<Arc<JsonObject>>;

/// A result whose type implements [`IntoOutput`].
pub struct ByTrait<R>(PhantomData<fn() -> R>);
/// `Result<T, E>` with `T: IntoOutput`.
pub struct ByTraitOrError<R>(PhantomData<fn() -> R>);
/// `Result<T, E>` with `T: Serialize` (and `JsonSchema` for a tool).
pub struct ByJsonOrError<R>(PhantomData<fn() -> R>);
/// A `Serialize` value (and `JsonSchema` for a tool): the client gets it as JSON.
pub struct ByJson<R>(PhantomData<fn() -> R>);
/// `Result<T, E>` with a `T` that fits nowhere (an error: see [`IntoOutput`]).
pub struct RefusedOrError<R>(PhantomData<fn() -> R>);
/// A type that fits nowhere (an error: see [`IntoOutput`]).
pub struct RefusedResult<R>(PhantomData<fn() -> R>);

pub trait ProbeTrait<R> {
    fn __mango_result(&self) -> ByTrait<R> {
        ByTrait(PhantomData)
    }
}
impl<R: IntoOutput> ProbeTrait<R> for &&&&&Probe<R> {}

pub trait ProbeTraitOrError<R> {
    fn __mango_result(&self) -> ByTraitOrError<R> {
        ByTraitOrError(PhantomData)
    }
}
impl<T: IntoOutput, E> ProbeTraitOrError<Result<T, E>> for &&&&Probe<Result<T, E>> {}

pub trait ProbeJsonOrError<R> {
    fn __mango_result(&self) -> ByJsonOrError<R> {
        ByJsonOrError(PhantomData)
    }
}
impl<T: Serialize, E> ProbeJsonOrError<Result<T, E>> for &&&Probe<Result<T, E>> {}

pub trait ProbeJson<R> {
    fn __mango_result(&self) -> ByJson<R> {
        ByJson(PhantomData)
    }
}
impl<R: Serialize> ProbeJson<R> for &&Probe<R> {}

pub trait ProbeRefusedOrError<R> {
    fn __mango_result(&self) -> RefusedOrError<R> {
        RefusedOrError(PhantomData)
    }
}
impl<T, E> ProbeRefusedOrError<Result<T, E>> for &Probe<Result<T, E>> {}

pub trait ProbeRefused<R> {
    fn __mango_result(&self) -> RefusedResult<R> {
        RefusedResult(PhantomData)
    }
}
impl<R> ProbeRefused<R> for Probe<R> {}

fn json<T: Serialize>(value: &T) -> Output {
    Output::json(value)
}

fn json_schema<T: schemars::JsonSchema + 'static>() -> OutputSchema {
    Some(crate::schema::output_schema::<T>())
}

impl<R: IntoOutput> ByTrait<R> {
    pub fn output(&self, value: R) -> Output {
        value.into_output()
    }
    pub fn schema(&self) -> OutputSchema {
        R::output_schema().map(Arc::new)
    }
}

impl<T: IntoOutput, E: Display> ByTraitOrError<Result<T, E>> {
    pub fn output(&self, value: Result<T, E>) -> Output {
        match value {
            Ok(value) => value.into_output(),
            Err(e) => Output::error(e),
        }
    }
    pub fn schema(&self) -> OutputSchema {
        T::output_schema().map(Arc::new)
    }
}

impl<T: Serialize, E: Display> ByJsonOrError<Result<T, E>> {
    pub fn output(&self, value: Result<T, E>) -> Output {
        match value {
            Ok(value) => json(&value),
            Err(e) => Output::error(e),
        }
    }
    /// A tool's: its result type's schema (only a tool's JSON result needs one).
    pub fn schema(&self) -> OutputSchema
    where
        T: schemars::JsonSchema + 'static,
    {
        json_schema::<T>()
    }
}

impl<R: Serialize> ByJson<R> {
    pub fn output(&self, value: R) -> Output {
        json(&value)
    }
    /// A tool's: its result type's schema (only a tool's JSON result needs one).
    pub fn schema(&self) -> OutputSchema
    where
        R: schemars::JsonSchema + 'static,
    {
        json_schema::<R>()
    }
}

impl<T, E> RefusedOrError<Result<T, E>> {
    /// The error that says what a result may be.
    pub fn output(&self, value: Result<T, E>) -> Output
    where
        T: IntoOutput,
        E: Display,
    {
        ByTraitOrError(PhantomData).output(value)
    }
    pub fn schema(&self) -> OutputSchema {
        None
    }
}

impl<R> RefusedResult<R> {
    /// The error that says what a result may be.
    pub fn output(&self, value: R) -> Output
    where
        R: IntoOutput,
    {
        value.into_output()
    }
    pub fn schema(&self) -> OutputSchema {
        None
    }
}
