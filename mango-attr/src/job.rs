//! `#[job]`: a background job of its app, run by the workers from `mango_jobs`.
//!
//! Besides the job's own fn, it generates a module of the same name with `job(…)`,
//! which takes the job's arguments and returns the `mango_rt::Job` to enqueue.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Path, Token};

use crate::item::{
    Front, ItemKind, ParamRules, argument_fields, argument_tags, call_body, entry_meta, front, wrap,
};
use crate::util::{
    Errors, default_crate, option_bool, parse_flag_value, parse_options, parse_str_value,
};

const RULES: ParamRules = ParamRules {
    attributes: &["doc", "serde"],
    bad_attribute: "only doc comments and #[serde(…)] are allowed on a job's parameters",
    plain_names: "a job's parameters must be plain names (`user_id: i64`): the name is the argument's key in the stored JSON",
    impl_trait: "a job's argument needs a concrete type (it is stored as JSON and read back), not `impl Trait`",
};

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    idempotent: Option<bool>,
    max_attempts: Option<u32>,
    timeout: Option<f64>,
    atomic: Option<bool>,
    krate: Option<Path>,
}

/// Parses `= <number>` (an integer or a float).
fn parse_number(input: ParseStream) -> syn::Result<f64> {
    input.parse::<Token![=]>()?;
    let lit: syn::Lit = input.parse()?;
    match &lit {
        syn::Lit::Int(i) => i.base10_parse::<f64>(),
        syn::Lit::Float(f) => f.base10_parse::<f64>(),
        _ => Err(syn::Error::new_spanned(lit, "expected a number")),
    }
}

impl Options {
    fn parse(input: ParseStream) -> syn::Result<Options> {
        let mut o = Options::default();
        o.krate = parse_options(
            input,
            "job",
            "name, idempotent, max_attempts, timeout, atomic, crate",
            |key, input| {
                match key {
                    "name" => o.name = Some(parse_str_value(input)?),
                    "idempotent" => o.idempotent = Some(parse_flag_value(input)?),
                    "atomic" => o.atomic = Some(parse_flag_value(input)?),
                    "max_attempts" => {
                        input.parse::<Token![=]>()?;
                        let n: syn::LitInt = input.parse()?;
                        let value = n.base10_parse::<u32>()?;
                        if value == 0 {
                            return Err(syn::Error::new_spanned(
                                n,
                                "`max_attempts` is at least 1 (the first run counts)",
                            ));
                        }
                        o.max_attempts = Some(value);
                    }
                    "timeout" => {
                        let span = input.span();
                        let seconds = parse_number(input)?;
                        if !(seconds > 0.0 && seconds.is_finite()) {
                            return Err(syn::Error::new(
                                span,
                                "`timeout` is a positive number of seconds",
                            ));
                        }
                        o.timeout = Some(seconds);
                    }
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?;
        Ok(o)
    }
}

pub fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let options = errors.ok(Options::parse.parse2(args)).unwrap_or_default();
    let Front {
        func,
        name,
        name_span,
        arguments,
        params,
        returns,
    } = front(
        input,
        ItemKind::Job,
        options.name.as_ref(),
        &RULES,
        &mut errors,
    )?;
    let fn_ident = func.sig.ident.clone();
    errors.finish()?;
    let Some(returns) = returns else {
        return Ok(quote!(#func));
    };

    let krate = options.krate.clone().unwrap_or_else(default_crate);
    let p = quote!(#krate::__private);
    let serde_path = format!("{}::__private::serde", crate::util::path_string(&krate));
    let idempotent = options.idempotent.unwrap_or(false);
    let atomic = option_bool(options.atomic);
    let max_attempts = match options.max_attempts {
        Some(n) => quote!(::std::option::Option::Some(#n)),
        None => quote!(::std::option::Option::None),
    };
    let timeout = match options.timeout {
        Some(t) => quote!(::std::option::Option::Some(#t)),
        None => quote!(::std::option::Option::None),
    };

    let (generics, tag_idents, fields) = argument_fields(&arguments);
    let arg_idents: Vec<&Ident> = arguments.iter().map(|a| &a.ident).collect();
    let arg_types: Vec<&syn::Type> = arguments.iter().map(|a| &a.ty).collect();
    let tags = argument_tags(&params, &p);
    let (holders, body) = call_body(&func, &params, &returns, &p, true);
    let meta = entry_meta(&p, quote!(#name), fn_ident.span());
    let args_unused = if arg_idents.is_empty() {
        quote!(let _ = &__mango_args;)
    } else {
        quote!()
    };
    let generated = quote! {
        #[derive(#p::serde::Deserialize)]
        #[serde(crate = #serde_path, deny_unknown_fields)]
        struct __MangoArgs<#(#generics),*> {
            #(#fields)*
        }

        fn __mango_args_type<#(#generics: #p::Field),*>(
            #(_: &#generics),*
        ) -> ::std::marker::PhantomData<__MangoArgs<#(<#generics as #p::Field>::Ty),*>> {
            ::std::marker::PhantomData
        }

        fn __mango_run(mut __mango_call: #p::Call) -> #p::BoxFuture<#p::Output> {
            ::std::boxed::Box::pin(async move {
                #tags
                let __mango_args = match #p::read_arguments(
                    &mut __mango_call,
                    __mango_args_type(#(&#tag_idents),*),
                ) {
                    ::std::result::Result::Ok(a) => a,
                    ::std::result::Result::Err(e) => return #p::Output::Invalid(::std::string::ToString::to_string(&e)),
                };
                #args_unused
                #(#holders)*
                #body
            })
        }

        #[#p::linkme::distributed_slice(#p::JOBS)]
        #[linkme(crate = #p::linkme)]
        static __MANGO_JOB: #p::JobEntry = #p::JobEntry {
            meta: #meta,
            idempotent: #idempotent,
            max_attempts: #max_attempts,
            timeout: #timeout,
            atomic: #atomic,
            run: __mango_run,
        };
    };

    // `name::job(…)`: the arguments as the stored JSON object.
    let vis = &func.vis;
    let inserts = arg_idents.iter().zip(&arg_types).map(|(ident, ty)| {
        let key = crate::item::ident_name(ident);
        quote_spanned! {ty.span()=>
            match #p::serde_json::to_value(&#ident) {
                ::std::result::Result::Ok(v) => {
                    __mango_map.insert(::std::string::String::from(#key), v);
                }
                ::std::result::Result::Err(e) => {
                    __mango_error = ::std::option::Option::Some(::std::format!("`{}`: {}", #key, e));
                }
            }
        }
    });
    let doc = format!(
        "The job `{name}` to enqueue with these arguments: `{fn_ident}::job(…).enqueue(db).await?` (in a call: in its transaction)."
    );
    let module = quote! {
        #[doc = #doc]
        #[allow(non_snake_case, clippy::module_name_repetitions)]
        #vis mod #fn_ident {
            #[allow(unused_imports)]
            use super::*;

            #[doc = #doc]
            #[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)]
            pub fn job(#(#arg_idents: #arg_types),*) -> #krate::Job {
                let mut __mango_map = #p::serde_json::Map::new();
                let mut __mango_error: ::std::option::Option<::std::string::String> = ::std::option::Option::None;
                #(#inserts)*
                #krate::Job::new(::std::env!("CARGO_PKG_NAME"), #name, __mango_map, __mango_error, #max_attempts)
            }
        }
    };
    let item = quote!(#func #module);
    Ok(wrap(
        ItemKind::Job,
        item,
        Some((&name, name_span)),
        generated,
    ))
}
