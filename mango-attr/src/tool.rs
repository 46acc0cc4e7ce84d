use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{
    FnArg, GenericArgument, Ident, ItemFn, LitStr, Pat, Path, PathArguments, ReturnType, Type,
};

use crate::util::{
    Errors, default_crate, doc_text, option_bool, parse_flag_value, parse_fn, parse_options,
    parse_str_value, path_string,
};

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    description: Option<LitStr>,
    title: Option<LitStr>,
    read_only: Option<bool>,
    destructive: Option<bool>,
    idempotent: Option<bool>,
    open_world: Option<bool>,
    atomic: Option<bool>,
    krate: Option<Path>,
}

impl Options {
    fn parse(input: ParseStream) -> syn::Result<Options> {
        let mut o = Options::default();
        o.krate = parse_options(
            input,
            "tool",
            "name, description, title, read_only, destructive, idempotent, open_world, atomic, crate",
            |key, input| {
                match key {
                    "name" => o.name = Some(parse_str_value(input)?),
                    "description" => o.description = Some(parse_str_value(input)?),
                    "title" => o.title = Some(parse_str_value(input)?),
                    "read_only" => o.read_only = Some(parse_flag_value(input)?),
                    "destructive" => o.destructive = Some(parse_flag_value(input)?),
                    "idempotent" => o.idempotent = Some(parse_flag_value(input)?),
                    "open_world" => o.open_world = Some(parse_flag_value(input)?),
                    "atomic" => o.atomic = Some(parse_flag_value(input)?),
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?;
        Ok(o)
    }
}

/// What a tool returns, read from its signature.
pub(crate) enum Output {
    Empty,
    Text,
    Json(Box<Type>),
}

pub(crate) struct Returns {
    pub output: Output,
    pub fallible: bool,
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

fn classify(ty: &Type) -> syn::Result<Output> {
    match ty {
        Type::Tuple(t) if t.elems.is_empty() => Ok(Output::Empty),
        Type::Reference(r) if matches!(&*r.elem, Type::Path(p) if p.path.is_ident("str")) => {
            Ok(Output::Text)
        }
        Type::ImplTrait(_) => Err(syn::Error::new_spanned(
            ty,
            "a tool must return a named type (its output schema is derived from it), not `impl Trait`",
        )),
        Type::Paren(p) => classify(&p.elem),
        _ => match last_segment(ty) {
            Some(seg) if seg.ident == "String" && seg.arguments.is_empty() => Ok(Output::Text),
            _ => Ok(Output::Json(Box::new(ty.clone()))),
        },
    }
}

pub(crate) fn returns(output: &ReturnType) -> syn::Result<Returns> {
    let ty = match output {
        ReturnType::Default => {
            return Ok(Returns {
                output: Output::Empty,
                fallible: false,
            });
        }
        ReturnType::Type(_, ty) => &**ty,
    };
    if let Some(seg) = last_segment(ty)
        && seg.ident == "Result"
        && let PathArguments::AngleBracketed(args) = &seg.arguments
        && let Some(GenericArgument::Type(ok)) = args.args.first()
    {
        return Ok(Returns {
            output: classify(ok)?,
            fallible: true,
        });
    }
    Ok(Returns {
        output: classify(ty)?,
        fallible: false,
    })
}

/// A JSON argument: a field of the generated argument struct.
pub(crate) struct Argument {
    pub ident: Ident,
    pub ty: Type,
    pub attrs: Vec<syn::Attribute>,
}

/// How a parameter is passed to the tool.
pub(crate) enum Param {
    Argument(Ident),
    Injected {
        ty: Box<Type>,
        mutable: bool,
        index: usize,
    },
}

fn check_name(name: &str, span: Span) -> syn::Result<()> {
    if name.is_empty() {
        return Err(syn::Error::new(span, "a tool's name cannot be empty"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(syn::Error::new(
            span,
            format!(
                "a tool's name may hold only A-Z a-z 0-9 _ - . (MCP's rule); `{name}` has `{c}`"
            ),
        ));
    }
    if name.len() > 64 {
        return Err(syn::Error::new(
            span,
            format!(
                "a tool's name may be at most 64 characters (the limit MCP clients enforce); `{name}` has {}",
                name.len()
            ),
        ));
    }
    Ok(())
}

pub fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let options = Options::parse.parse2(args);
    let mut func = parse_fn(input, "tool")?;
    let mut errors = Errors::default();
    let options = match options {
        Ok(o) => o,
        Err(e) => {
            errors.push(e);
            Options::default()
        }
    };
    check_signature(&func, &mut errors);

    let fn_ident = func.sig.ident.clone();
    let fn_name = fn_ident.to_string();
    let name_text = options
        .name
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_else(|| fn_name.trim_start_matches("r#").to_owned());
    let name_span = options.name.as_ref().map_or(fn_ident.span(), LitStr::span);
    if let Err(e) = check_name(&name_text, name_span) {
        errors.push(e);
    }

    let (arguments, params) = collect_params(&mut func, &ParamRules::TOOL, &mut errors);
    let returns = match returns(&func.sig.output) {
        Ok(r) => Some(r),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    errors.finish()?;
    let Some(returns) = returns else {
        return Ok(quote!(#func));
    };

    let krate = options.krate.clone().unwrap_or_else(default_crate);
    let p = quote!(#krate::__private);
    let serde_path = format!("{}::__private::serde", path_string(&krate));
    let schemars_path = format!("{}::__private::schemars", path_string(&krate));
    let description = options
        .description
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_else(|| doc_text(&func.attrs));
    let title = match &options.title {
        Some(t) => quote!(::std::option::Option::Some(#t)),
        None => quote!(::std::option::Option::None),
    };
    let atomic = option_bool(options.atomic);
    let (ro, de, id, ow) = (
        option_bool(options.read_only),
        option_bool(options.destructive),
        option_bool(options.idempotent),
        option_bool(options.open_world),
    );

    let fields = arguments.iter().map(|a| {
        let (ident, ty, attrs) = (&a.ident, &a.ty, &a.attrs);
        quote!(#(#attrs)* #ident: #ty,)
    });
    let arg_idents: Vec<&Ident> = arguments.iter().map(|a| &a.ident).collect();
    let (holders, body) = call_body(&func, &params, &returns, &p);
    let output_kind = match &returns.output {
        Output::Empty => quote!(#p::OutputKind::Empty),
        Output::Text => quote!(#p::OutputKind::Text),
        Output::Json(ty) => quote!(#p::OutputKind::Json(#p::output_schema::<#ty>)),
    };
    let name_lit = LitStr::new(&name_text, name_span);
    let file = quote_spanned!(fn_ident.span()=> ::std::file!());
    let line = quote_spanned!(fn_ident.span()=> ::std::line!());
    // Two tools of one crate with one name define this macro twice: rustc then reports
    // "the name `…` is defined multiple times" at both tools.
    let guard = format_ident!(
        "__mango_tool_named_{}_is_defined_twice_in_this_app",
        name_text.replace('-', "_hyphen_").replace('.', "_dot_"),
        span = name_span
    );
    let args_unused = if arg_idents.is_empty() {
        quote!(let _ = &__mango_args;)
    } else {
        quote!()
    };

    Ok(quote! {
        #func

        #[doc(hidden)]
        #[macro_export]
        macro_rules! #guard { () => {}; }

        #[doc(hidden)]
        #[allow(non_camel_case_types, non_snake_case, clippy::all, clippy::pedantic)]
        const _: () = {
            #[derive(#p::serde::Deserialize, #p::schemars::JsonSchema)]
            #[serde(crate = #serde_path, deny_unknown_fields)]
            #[schemars(crate = #schemars_path)]
            struct __MangoArgs {
                #(#fields)*
            }

            fn __mango_invoke(mut __mango_call: #p::Call) -> #p::BoxFuture<#p::ToolOutput> {
                ::std::boxed::Box::pin(async move {
                    let __mango_args: __MangoArgs = match __mango_call.arguments() {
                        ::std::result::Result::Ok(a) => a,
                        ::std::result::Result::Err(e) => return #p::ToolOutput::error(e),
                    };
                    #args_unused
                    #(#holders)*
                    #body
                })
            }

            #[#p::linkme::distributed_slice(#p::TOOLS)]
            #[linkme(crate = #p::linkme)]
            static __MANGO_TOOL: #p::ToolEntry = #p::ToolEntry {
                app: ::std::env!("CARGO_PKG_NAME"),
                name: #name_lit,
                description: #description,
                title: #title,
                annotations: #p::Annotations {
                    read_only: #ro,
                    destructive: #de,
                    idempotent: #id,
                    open_world: #ow,
                },
                input_schema: #p::input_schema::<__MangoArgs>,
                output: #output_kind,
                atomic: #atomic,
                call: __mango_invoke,
                module_path: ::std::module_path!(),
                file: #file,
                line: #line,
            };
        };
    })
}

/// What a macro accepts on its function's parameters.
pub(crate) struct ParamRules {
    /// The attributes that move to the generated argument struct's fields.
    pub attributes: &'static [&'static str],
    pub bad_attribute: &'static str,
    pub plain_names: &'static str,
    pub impl_trait: &'static str,
}

impl ParamRules {
    const TOOL: ParamRules = ParamRules {
        attributes: &["doc", "serde", "schemars"],
        bad_attribute: "only doc comments, #[serde(…)] and #[schemars(…)] are allowed on a tool's parameters",
        plain_names: "a tool's parameters must be plain names (`query: String`): the name is the argument's name in the schema",
        impl_trait: "a tool's argument needs a concrete type (it is deserialized from JSON), not `impl Trait`",
    };
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
                params.push(Param::Argument(ident));
            }
        }
    }
    (arguments, params)
}

/// The generated code that builds the injected values (`holders`, which may return
/// early with an error) and then calls the function, converts its result, and finishes
/// the injected values (`body`). `__mango_args` and `__mango_call` must be in scope.
pub(crate) fn call_body(
    func: &ItemFn,
    params: &[Param],
    returns: &Returns,
    p: &TokenStream,
) -> (Vec<TokenStream>, TokenStream) {
    let fn_ident = &func.sig.ident;
    let holders: Vec<TokenStream> = params
        .iter()
        .filter_map(|param| match param {
            Param::Injected { ty, index, .. } => {
                let h = format_ident!("__mango_h{}", index);
                Some(quote_spanned! {ty.span()=>
                    let mut #h = match <#ty as #p::Inject>::build(&mut __mango_call).await {
                        ::std::result::Result::Ok(h) => h,
                        ::std::result::Result::Err(e) => return #p::ToolOutput::error(e),
                    };
                })
            }
            Param::Argument(_) => None,
        })
        .collect();
    let call_args = params.iter().map(|param| match param {
        Param::Argument(ident) => quote!(__mango_args.#ident),
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
    let convert_ok = |value: TokenStream| match &returns.output {
        Output::Empty => quote!({ let _ = #value; #p::ToolOutput::Empty }),
        Output::Text => quote!(#p::ToolOutput::text(#value)),
        Output::Json(ty) => quote_spanned!(ty.span()=> #p::ToolOutput::json(&#value)),
    };
    let convert = if returns.fallible {
        let ok = convert_ok(quote!(__mango_value));
        quote! {
            match __mango_out {
                ::std::result::Result::Ok(__mango_value) => #ok,
                ::std::result::Result::Err(e) => #p::ToolOutput::error(e),
            }
        }
    } else {
        convert_ok(quote!(__mango_out))
    };
    // After the tool: every injected value is finished, last first (a database
    // connection commits when the result is a success, else rolls back).
    let injected_types: Vec<(Ident, &Type)> = params
        .iter()
        .filter_map(|param| match param {
            Param::Injected { ty, index, .. } => Some((format_ident!("__mango_h{}", index), &**ty)),
            Param::Argument(_) => None,
        })
        .collect();
    let finishes = injected_types.iter().rev().map(|(h, ty)| {
        quote_spanned! {ty.span()=>
            if let ::std::result::Result::Err(e) = <#ty as #p::Inject>::finish(#h, __mango_ok).await {
                return #p::ToolOutput::error(e);
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

pub(crate) fn check_signature(func: &ItemFn, errors: &mut Errors) {
    let sig = &func.sig;
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics,
            "a tool cannot be generic: its argument and result types must be known to build its schema",
        ));
    }
    if let Some(w) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            w,
            "a tool cannot have a `where` clause",
        ));
    }
    if let Some(c) = &sig.constness {
        errors.push(syn::Error::new_spanned(c, "a tool cannot be a `const fn`"));
    }
    if let Some(u) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            u,
            "a tool cannot be an `unsafe fn`",
        ));
    }
    if let Some(a) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            a,
            "a tool cannot have an `extern` ABI",
        ));
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new_spanned(v, "a tool cannot be variadic"));
    }
    for input in &sig.inputs {
        if let FnArg::Receiver(r) = input {
            errors.push(syn::Error::new_spanned(
                r,
                "a tool is a free function, not a method: it cannot take `self` (put shared state in the app's settings, or take `&Context`)",
            ));
        }
    }
}
