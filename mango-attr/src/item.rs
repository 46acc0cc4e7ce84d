//! The front end every attribute macro shares: what kind of item it makes, the checks
//! of its function's signature, its parameters sorted into arguments and injected
//! values, the generated call, the entry's source location and the `const _` wrapper
//! around what it generates. Messages are worded for the item.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, Ident, ItemFn, Pat, PathArguments, ReturnType, Type};

use crate::util::Errors;

/// The kinds of item the macros make.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKind {
    Tool,
    Resource,
    Prompt,
    Completion,
    Command,
    Middleware,
    Settings,
    Hook,
    Job,
}

impl ItemKind {
    /// The attribute's name: `tool` for `#[tool]`.
    pub fn attribute(self) -> &'static str {
        match self {
            ItemKind::Tool => "tool",
            ItemKind::Resource => "resource",
            ItemKind::Prompt => "prompt",
            ItemKind::Completion => "completion",
            ItemKind::Command => "command",
            ItemKind::Middleware => "middleware",
            ItemKind::Settings => "settings",
            ItemKind::Hook => "startup",
            ItemKind::Job => "job",
        }
    }

    /// "a tool", "a command" …
    fn a(self) -> &'static str {
        match self {
            ItemKind::Tool => "a tool",
            ItemKind::Resource => "a resource",
            ItemKind::Prompt => "a prompt",
            ItemKind::Completion => "a completion",
            ItemKind::Command => "a command",
            ItemKind::Middleware => "a middleware",
            ItemKind::Settings => "a #[settings] type",
            ItemKind::Hook => "a hook",
            ItemKind::Job => "a job",
        }
    }

    /// Why the item cannot be generic.
    fn why_not_generic(self) -> &'static str {
        match self {
            ItemKind::Tool => "its argument and result types must be known to build its schema",
            ItemKind::Resource => "its variables must be parsed into known types",
            ItemKind::Prompt => "its arguments must be parsed into known types",
            ItemKind::Completion => "it is called with known arguments",
            ItemKind::Command => "its arguments must be known to parse its command line",
            ItemKind::Middleware => "it is one function in the chain, for every call",
            ItemKind::Settings => "its type must be known to read its section of Mango.toml",
            ItemKind::Hook => "it is run once, with known values",
            ItemKind::Job => "its arguments are stored as JSON and read back into known types",
        }
    }

    /// The characters its name may hold besides letters and digits, and what the
    /// others are for.
    fn name_rule(self) -> (&'static [char], &'static str) {
        match self {
            ItemKind::Tool | ItemKind::Resource | ItemKind::Prompt | ItemKind::Completion => {
                (&['_', '-', '.'], " (MCP's rule)")
            }
            ItemKind::Command => (&['_', '-'], " (`.` separates the app: `app.name`)"),
            ItemKind::Middleware | ItemKind::Settings | ItemKind::Hook | ItemKind::Job => {
                (&['_'], " (`.` separates the app: `app.name`)")
            }
        }
    }
}

/// The item's name as written in the source (`r#type` is `type`).
pub(crate) fn ident_name(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map(str::to_owned).unwrap_or(name)
}

/// Checks a name against the item's rules: 1 to 64 characters, letters, digits and the
/// kind's punctuation.
pub(crate) fn check_name(kind: ItemKind, name: &str, span: Span) -> syn::Result<()> {
    let a = kind.a();
    if name.is_empty() {
        return Err(syn::Error::new(span, format!("{a}'s name cannot be empty")));
    }
    let (allowed, why) = kind.name_rule();
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || allowed.contains(c)))
    {
        let allowed: String = allowed.iter().map(|c| format!(" {c}")).collect();
        return Err(syn::Error::new(
            span,
            format!("{a}'s name may hold only A-Z a-z 0-9{allowed}{why}; `{name}` has `{c}`"),
        ));
    }
    if name.len() > 64 {
        return Err(syn::Error::new(
            span,
            format!(
                "{a}'s name may be at most 64 characters (the limit MCP clients enforce); `{name}` has {}",
                name.len()
            ),
        ));
    }
    Ok(())
}

/// The entry's `EntryMeta`: its app, its name (an expression of type `&'static str`),
/// and where it is defined (at `span`).
pub(crate) fn entry_meta(p: &TokenStream, name: TokenStream, span: Span) -> TokenStream {
    let file = quote_spanned!(span=> ::std::file!());
    let line = quote_spanned!(span=> ::std::line!());
    quote! {
        #p::EntryMeta {
            app: ::std::env!("CARGO_PKG_NAME"),
            name: #name,
            module_path: ::std::module_path!(),
            file: #file,
            line: #line,
        }
    }
}

/// The item, then what the macro generates for it in a `const _` block. With a name,
/// also a macro whose name holds it: two items of one kind and name in one crate define
/// it twice, and rustc then reports "the name `…` is defined multiple times" at both.
pub(crate) fn wrap(
    kind: ItemKind,
    item: TokenStream,
    unique: Option<(&str, Span)>,
    generated: TokenStream,
) -> TokenStream {
    let guard = unique.map(|(name, span)| guard(kind, name, span));
    quote! {
        #item

        #guard

        #[doc(hidden)]
        #[allow(non_camel_case_types, non_snake_case, clippy::all, clippy::pedantic)]
        const _: () = {
            #generated
        };
    }
}

fn guard(kind: ItemKind, name: &str, span: Span) -> TokenStream {
    let safe: String = name
        .chars()
        .map(|c| match c {
            '-' => "_hyphen_".to_owned(),
            '.' => "_dot_".to_owned(),
            c if c.is_ascii_alphanumeric() || c == '_' => c.to_string(),
            _ => "_".to_owned(),
        })
        .collect();
    let guard = format_ident!(
        "__mango_{}_named_{}_is_defined_twice_in_this_app",
        kind.attribute(),
        safe,
        span = span
    );
    quote! {
        #[doc(hidden)]
        #[macro_export]
        macro_rules! #guard { () => {}; }
    }
}

/// `complete(topic = topics, id = crate::notes::ids)`: which `#[completion]` fn
/// completes which argument (after the `complete` key of an item's options).
pub(crate) fn parse_completions(
    input: syn::parse::ParseStream,
) -> syn::Result<Vec<(Ident, syn::Path)>> {
    let content;
    syn::parenthesized!(content in input);
    let mut out = Vec::new();
    while !content.is_empty() {
        let argument: Ident = content.parse()?;
        content.parse::<syn::Token![=]>()?;
        let path: syn::Path = content.parse()?;
        out.push((argument, path));
        if content.is_empty() {
            break;
        }
        content.parse::<syn::Token![,]>()?;
    }
    Ok(out)
}

/// The name of the function `#[completion] fn name` generates beside `name`.
pub(crate) fn completion_fn(ident: &Ident) -> Ident {
    format_ident!(
        "__mango_completion_{}",
        ident_name(ident),
        span = ident.span()
    )
}

/// The `&[CompletionEntry]` of an item: each named fn's generated companion, checked
/// to complete one of `arguments` (the item's arguments or variables).
pub(crate) fn completion_entries(
    p: &TokenStream,
    completions: &[(Ident, syn::Path)],
    arguments: &[String],
    item: &str,
    errors: &mut Errors,
) -> TokenStream {
    let mut entries = Vec::new();
    for (argument, path) in completions {
        let name = ident_name(argument);
        if !arguments.contains(&name) {
            errors.push(syn::Error::new(
                argument.span(),
                format!(
                    "`{name}` is not {item}: complete one of {}",
                    if arguments.is_empty() {
                        "none (there are none)".to_owned()
                    } else {
                        arguments
                            .iter()
                            .map(|a| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ),
            ));
            continue;
        }
        let mut path = path.clone();
        if let Some(last) = path.segments.last_mut() {
            last.ident = completion_fn(&last.ident);
        }
        entries.push(quote! {
            #p::CompletionEntry { argument: #name, complete: #path },
        });
    }
    quote!(&[#(#entries)*])
}

/// The function an attribute macro is on, or an error on the item it is on instead.
pub(crate) fn parse_fn(input: TokenStream, kind: ItemKind) -> syn::Result<ItemFn> {
    let what = format!(
        "#[{}] goes on a function (`async fn` or `fn`)",
        kind.attribute()
    );
    match syn::parse2::<syn::Item>(input.clone()) {
        Ok(syn::Item::Fn(func)) => Ok(func),
        Ok(item) => Err(syn::Error::new_spanned(
            item,
            format!("{what}, not on this item"),
        )),
        Err(_) => Err(syn::Error::new_spanned(input, what)),
    }
}

/// What every fn-based macro reads from its item first: the fn, its exposed name (from
/// `name = "…"` or the fn's), its parameters sorted, and its return type.
pub(crate) struct Front {
    pub func: ItemFn,
    pub name: String,
    pub name_span: Span,
    pub arguments: Vec<Argument>,
    pub params: Vec<Param>,
    /// `None` when the return type was refused (the error is in `errors`).
    pub returns: Option<Returns>,
}

/// Reads the fn a macro of `kind` is on, with `rules` for its parameters: every problem
/// goes to `errors` (a token stream that is not a fn stops here, with the errors so
/// far).
pub(crate) fn front(
    input: TokenStream,
    kind: ItemKind,
    name: Option<&syn::LitStr>,
    rules: &ParamRules,
    errors: &mut Errors,
) -> syn::Result<Front> {
    let mut func = match parse_fn(input, kind) {
        Ok(func) => func,
        Err(e) => return Err(std::mem::take(errors).fail(e)),
    };
    check_signature(&func, kind, errors);
    let fn_ident = func.sig.ident.clone();
    let name_span = name.map_or(fn_ident.span(), syn::LitStr::span);
    let name = name
        .map(syn::LitStr::value)
        .unwrap_or_else(|| ident_name(&fn_ident));
    if let Err(e) = check_name(kind, &name, name_span) {
        errors.push(e);
    }
    let (arguments, params) = collect_params(&mut func, rules, errors);
    let returns = errors.ok(returns(&func.sig.output, kind));
    Ok(Front {
        func,
        name,
        name_span,
        arguments,
        params,
        returns,
    })
}

/// Generics, where clauses, `const`, `unsafe`, `extern`, variadics and `self`: none of
/// them fits an item called through the registry.
pub(crate) fn check_signature(func: &ItemFn, kind: ItemKind, errors: &mut Errors) {
    let sig = &func.sig;
    let a = kind.a();
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            format!("{a} cannot be generic: {}", kind.why_not_generic()),
        ));
    }
    if let Some(w) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            w,
            format!("{a} cannot have a `where` clause"),
        ));
    }
    if let Some(c) = &sig.constness {
        errors.push(syn::Error::new_spanned(
            c,
            format!("{a} cannot be a `const fn`"),
        ));
    }
    if let Some(u) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            u,
            format!("{a} cannot be an `unsafe fn`"),
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            format!("{a} cannot have an `extern` ABI"),
        ));
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            v,
            format!("{a} cannot be variadic"),
        ));
    }
    for input in &sig.inputs {
        if let FnArg::Receiver(r) = input {
            errors.push(syn::Error::new_spanned(
                r,
                format!(
                    "{a} is a free function, not a method: it cannot take `self` (put shared state in the app's settings, or take `&Context`)"
                ),
            ));
        }
    }
}

/// What an item returns: the type as written (`()` when none is). How its value is
/// shown is decided by the type's traits (`mango_rt::IntoOutput`, or `Serialize +
/// JsonSchema` for JSON), not by its name.
pub(crate) struct Returns {
    pub ty: Box<Type>,
}

impl Returns {
    /// `(&&&&&Probe::<T>::new()).__mango_result()`: the tag that converts a value of
    /// the result type (the most specific of the runtime's `Probe…` traits wins).
    pub fn tag(&self, p: &TokenStream) -> TokenStream {
        let ty = &self.ty;
        quote_spanned! {ty.span()=>
            {
                #[allow(unused_imports)]
                use #p::{
                    ProbeJson as _, ProbeJsonOrError as _, ProbeRefused as _,
                    ProbeRefusedOrError as _, ProbeTrait as _, ProbeTraitOrError as _,
                };
                (&&&&&#p::Probe::<#ty>::new()).__mango_result()
            }
        }
    }
}

/// Refuses `impl Trait` anywhere in a result type (the result must be a named type).
fn refuse_impl_trait(ty: &Type, kind: ItemKind) -> syn::Result<()> {
    struct Finder(Option<syn::TypeImplTrait>);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, t: &'ast syn::TypeImplTrait) {
            self.0.get_or_insert_with(|| t.clone());
        }
    }
    let mut finder = Finder(None);
    syn::visit::Visit::visit_type(&mut finder, ty);
    match finder.0 {
        Some(t) => Err(syn::Error::new_spanned(
            t,
            format!(
                "{} must return a named type ({}), not `impl Trait`",
                kind.a(),
                match kind {
                    ItemKind::Command => "what it prints is made from it",
                    _ => "its output schema is derived from it",
                }
            ),
        )),
        None => Ok(()),
    }
}

/// `T` of `Option<T>`.
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
    .filter(|seg| seg.ident == "Option")
    .and_then(|seg| match &seg.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    })
}

pub(crate) fn returns(output: &ReturnType, kind: ItemKind) -> syn::Result<Returns> {
    let ty: Box<Type> = match output {
        ReturnType::Default => Box::new(syn::parse_quote!(())),
        ReturnType::Type(_, ty) => ty.clone(),
    };
    refuse_impl_trait(&ty, kind)?;
    Ok(Returns { ty })
}

/// A JSON argument: a field of the generated argument struct.
pub(crate) struct Argument {
    pub ident: Ident,
    pub ty: Type,
    pub attrs: Vec<syn::Attribute>,
}

/// How a parameter is passed to the tool.
pub(crate) enum Param {
    Argument(Ident, Box<Type>),
    Injected {
        ty: Box<Type>,
        mutable: bool,
        index: usize,
    },
}

/// What a macro accepts on its function's parameters.
pub(crate) struct ParamRules {
    /// The attributes that move to the generated argument struct's fields.
    pub attributes: &'static [&'static str],
    pub bad_attribute: &'static str,
    pub plain_names: &'static str,
    pub impl_trait: &'static str,
}

/// Sorts a function's parameters into arguments (by value) and injected values (by
/// reference), moving the arguments' allowed attributes off the function.
pub(crate) fn collect_params(
    func: &mut ItemFn,
    rules: &ParamRules,
    errors: &mut Errors,
) -> (Vec<Argument>, Vec<Param>) {
    let mut arguments = Vec::new();
    let mut params = Vec::new();
    let mut injected = 0usize;
    for input in func.sig.inputs.iter_mut() {
        let FnArg::Typed(pat_type) = input else {
            continue; // reported by check_signature
        };
        let ident = match &*pat_type.pat {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
            other => {
                errors.push(syn::Error::new_spanned(other, rules.plain_names));
                continue;
            }
        };
        // Attributes for the schema move to the argument struct; others are refused.
        let mut moved = Vec::new();
        for attr in std::mem::take(&mut pat_type.attrs) {
            let path = attr.path();
            if rules.attributes.iter().any(|a| path.is_ident(a)) {
                moved.push(attr);
            } else {
                errors.push(syn::Error::new_spanned(&attr, rules.bad_attribute));
            }
        }
        match &*pat_type.ty {
            Type::Reference(r) => {
                if !moved.is_empty() {
                    errors.push(syn::Error::new_spanned(
                        &moved[0],
                        "an injected parameter (taken by reference) is not an argument: it has no documentation or options",
                    ));
                }
                if let Some(lt) = &r.lifetime {
                    errors.push(syn::Error::new_spanned(
                        lt,
                        "leave out the lifetime of an injected parameter (`&Context`)",
                    ));
                }
                params.push(Param::Injected {
                    ty: r.elem.clone(),
                    mutable: r.mutability.is_some(),
                    index: injected,
                });
                injected += 1;
            }
            Type::ImplTrait(t) => errors.push(syn::Error::new_spanned(t, rules.impl_trait)),
            ty => {
                if arguments.iter().any(|a: &Argument| a.ident == ident) {
                    continue; // rustc reports the duplicate
                }
                arguments.push(Argument {
                    ident: ident.clone(),
                    ty: ty.clone(),
                    attrs: moved,
                });
                params.push(Param::Argument(ident, Box::new(ty.clone())));
            }
        }
    }
    (arguments, params)
}

/// The tag of each argument (`__mango_t_<name>`), made by method lookup on the
/// argument's type: an injected type written by value (`ctx: Context`) is refused there
/// with one error that says to take it by reference. Generated code puts them before
/// the arguments are read.
pub(crate) fn argument_tags(params: &[Param], p: &TokenStream) -> TokenStream {
    let tags = params.iter().filter_map(|param| match param {
        Param::Argument(ident, ty) => {
            let tag = tag_ident(ident);
            Some(quote_spanned! {ty.span()=>
                let #tag = (&&#p::Probe::<#ty>::new()).__mango_param();
            })
        }
        Param::Injected { .. } => None,
    });
    quote! {
        #[allow(unused_imports)]
        use #p::{ProbeArgument as _, ProbeInjected as _};
        #(#tags)*
    }
}

/// The fields of a struct generic over its arguments' types (`name: __A0, …`), which
/// generated code instantiates with the arguments' tags' types: the type parameters
/// and the fields.
pub(crate) fn generic_fields(arguments: &[Argument]) -> (Vec<Ident>, Vec<TokenStream>) {
    let generics: Vec<Ident> = (0..arguments.len())
        .map(|i| format_ident!("__A{}", i))
        .collect();
    let fields = arguments
        .iter()
        .zip(&generics)
        .map(|(a, g)| {
            let ident = &a.ident;
            quote!(#ident: #g,)
        })
        .collect();
    (generics, fields)
}

/// `__mango_t_<name>`: an argument's tag.
/// The fields of an item's argument struct, generic over their types: each field's type
/// is a generic parameter, instantiated with its parameter's tag type (the parameter's
/// own type, or a stand-in for an injected type written by value, which gets one clear
/// error instead of serde's). A field with `#[serde(…)]` or `#[schemars(…)]` options
/// keeps its own type, which the options may depend on (`default`, `deserialize_with`
/// …). Returns the generic parameters, the tags they take, and the fields.
pub(crate) fn argument_fields(
    arguments: &[Argument],
) -> (Vec<Ident>, Vec<Ident>, Vec<TokenStream>) {
    let mut generics: Vec<Ident> = Vec::new();
    let mut tags: Vec<Ident> = Vec::new();
    let fields = arguments
        .iter()
        .map(|a| {
            let (ident, ty, attrs) = (&a.ident, &a.ty, &a.attrs);
            if attrs.iter().any(|at| !at.path().is_ident("doc")) {
                quote!(#(#attrs)* #ident: #ty,)
            } else {
                let g = format_ident!("__A{}", generics.len());
                generics.push(g.clone());
                tags.push(tag_ident(ident));
                quote!(#(#attrs)* #ident: #g,)
            }
        })
        .collect();
    (generics, tags, fields)
}

pub(crate) fn tag_ident(ident: &Ident) -> Ident {
    format_ident!("__mango_t_{}", ident_name(ident), span = ident.span())
}

/// The generated code that builds the injected values (`holders`, which may return
/// early with an error) and then calls the function, converts its result, and finishes
/// the injected values (`body`). `__mango_args`, `__mango_call` and the arguments' tags
/// ([`argument_tags`]) must be in scope; `tagged`: the argument struct's fields are of
/// the tags' types (`take` gives each to the function).
pub(crate) fn call_body(
    func: &ItemFn,
    params: &[Param],
    returns: &Returns,
    p: &TokenStream,
    tagged: bool,
) -> (Vec<TokenStream>, TokenStream) {
    let fn_ident = &func.sig.ident;
    let checks = params.iter().filter_map(|param| match param {
        Param::Argument(ident, ty) => {
            let tag = tag_ident(ident);
            Some(quote_spanned!(ty.span()=> #tag.check();))
        }
        Param::Injected { .. } => None,
    });
    let mut holders: Vec<TokenStream> = vec![quote!(#(#checks)*)];
    holders.extend(params.iter().filter_map(|param| match param {
        Param::Injected { ty, index, .. } => {
            let h = format_ident!("__mango_h{}", index);
            Some(quote_spanned! {ty.span()=>
                let mut #h = match <#ty as #p::Inject>::build(&mut __mango_call).await {
                    ::std::result::Result::Ok(h) => h,
                    ::std::result::Result::Err(e) => return #p::Output::error(e),
                };
            })
        }
        Param::Argument(..) => None,
    }));
    let call_args = params.iter().map(|param| match param {
        Param::Argument(ident, _) if tagged => {
            let tag = tag_ident(ident);
            quote!(#tag.take(__mango_args.#ident))
        }
        Param::Argument(ident, _) => quote!(__mango_args.#ident),
        Param::Injected {
            ty,
            mutable: false,
            index,
        } => {
            let h = format_ident!("__mango_h{}", index);
            quote_spanned!(ty.span()=> <#ty as #p::Inject>::borrow(&#h))
        }
        Param::Injected {
            ty,
            mutable: true,
            index,
        } => {
            let h = format_ident!("__mango_h{}", index);
            quote_spanned!(ty.span()=> <#ty as #p::InjectMut>::borrow_mut(&mut #h))
        }
    });
    let is_async = func.sig.asyncness.is_some();
    let invoke = if is_async {
        quote!(#fn_ident(#(#call_args),*).await)
    } else {
        quote!(#fn_ident(#(#call_args),*))
    };
    let result_tag = returns.tag(p);
    let ty = &returns.ty;
    let convert = quote_spanned!(ty.span()=> #result_tag.output(__mango_out));
    // After the tool: every injected value is finished, last first (a database
    // connection commits when the result is a success, else rolls back).
    let injected_types: Vec<(Ident, &Type)> = params
        .iter()
        .filter_map(|param| match param {
            Param::Injected { ty, index, .. } => Some((format_ident!("__mango_h{}", index), &**ty)),
            Param::Argument(..) => None,
        })
        .collect();
    let finishes = injected_types.iter().rev().map(|(h, ty)| {
        quote_spanned! {ty.span()=>
            if let ::std::result::Result::Err(e) = <#ty as #p::Inject>::finish(#h, __mango_ok).await {
                return #p::Output::error(e);
            }
        }
    });
    let holder_idents: Vec<&Ident> = injected_types.iter().map(|(h, _)| h).collect();
    let body = if is_async {
        quote! {
            let __mango_out = #invoke;
            let __mango_out = #convert;
            let __mango_ok = !__mango_out.is_error();
            #(#finishes)*
            __mango_out
        }
    } else {
        quote! {
            match #p::blocking(move || {
                let __mango_out = #invoke;
                (#convert, #(#holder_idents,)*)
            }).await {
                ::std::result::Result::Ok((__mango_out, #(#holder_idents,)*)) => {
                    let __mango_ok = !__mango_out.is_error();
                    #(#finishes)*
                    __mango_out
                }
                ::std::result::Result::Err(__mango_out) => __mango_out,
            }
        }
    };
    (holders, body)
}
