//! `#[prompt]`: a reusable prompt of its app; its parameters are the prompt's arguments.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{ParseStream, Parser};
use syn::{LitStr, Path};

use crate::item::{
    Argument, Front, ItemKind, Param, ParamRules, argument_tags, call_body, completion_entries,
    entry_meta, front, generic_fields, ident_name, option_inner, parse_completions, tag_ident,
    wrap,
};
use crate::util::{
    Errors, default_crate, doc_text, parse_options, parse_scopes_value, parse_str_value,
};

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    description: Option<LitStr>,
    title: Option<LitStr>,
    complete: Vec<(syn::Ident, Path)>,
    scopes: Vec<LitStr>,
    krate: Option<Path>,
}

impl Options {
    fn parse(input: ParseStream) -> syn::Result<Options> {
        let mut o = Options::default();
        o.krate = parse_options(
            input,
            "prompt",
            "name, description, title, complete, scopes, crate",
            |key, input| {
                match key {
                    "name" => o.name = Some(parse_str_value(input)?),
                    "description" => o.description = Some(parse_str_value(input)?),
                    "title" => o.title = Some(parse_str_value(input)?),
                    "scopes" => o.scopes = parse_scopes_value(input)?,
                    "complete" => o.complete = parse_completions(input)?,
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?;
        Ok(o)
    }
}

const RULES: ParamRules = ParamRules {
    attributes: &["doc", "serde"],
    bad_attribute: "only doc comments (the argument's description) and #[serde(rename = \"…\")] are allowed on a prompt's parameters",
    plain_names: "a prompt's parameters must be plain names (`topic: String`): the name is the argument's name",
    impl_trait: "a prompt's argument needs a concrete type (it is parsed from text with `FromStr`), not `impl Trait`",
};

/// The name clients see for a prompt's argument: its `#[serde(rename = "…")]`, else its
/// own. Prompt arguments are text parsed with `FromStr`, so no other serde option means
/// anything here: each is an error.
fn argument_name(argument: &Argument, errors: &mut Errors) -> String {
    let mut renamed: Option<LitStr> = None;
    for attr in argument.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident("rename") {
                return Err(meta.error(
                    "a prompt's argument takes only #[serde(rename = \"…\")]: its value is text parsed with `FromStr`, not by serde",
                ));
            }
            let value: LitStr = meta.value()?.parse()?;
            if renamed.is_some() {
                return Err(syn::Error::new_spanned(&value, "`rename` is given twice"));
            }
            if value.value().is_empty() {
                return Err(syn::Error::new_spanned(&value, "an argument's name cannot be empty"));
            }
            renamed = Some(value);
            Ok(())
        });
        if let Err(e) = parsed {
            errors.push(e);
        }
    }
    renamed.map_or_else(|| ident_name(&argument.ident), |r| r.value())
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
        ItemKind::Prompt,
        options.name.as_ref(),
        &RULES,
        &mut errors,
    )?;
    let fn_ident = func.sig.ident.clone();
    let krate = options.krate.clone().unwrap_or_else(default_crate);
    let p = quote!(#krate::__private);
    let names: Vec<String> = arguments
        .iter()
        .map(|a| argument_name(a, &mut errors))
        .collect();
    for (i, (argument, name)) in arguments.iter().zip(&names).enumerate() {
        if names[..i].contains(name) {
            errors.push(syn::Error::new_spanned(
                &argument.ident,
                format!("two arguments of this prompt are named `{name}`: rename one"),
            ));
        }
    }
    let completions = completion_entries(
        &p,
        &options.complete,
        &names,
        "an argument of this prompt",
        &mut errors,
    );
    errors.finish()?;
    let Some(returns) = returns else {
        return Ok(quote!(#func));
    };

    let description = options
        .description
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_else(|| doc_text(&func.attrs));
    let title = match &options.title {
        Some(t) => quote!(::std::option::Option::Some(#t)),
        None => quote!(::std::option::Option::None),
    };
    let (generics, fields) = generic_fields(&arguments);
    let parse = arguments.iter().zip(&names).map(|(a, name)| {
        let ident = &a.ident;
        let tag = tag_ident(ident);
        let read = match option_inner(&a.ty) {
            Some(_) => quote!(#tag.optional_param(&mut __mango_call, #name)),
            None => quote!(#tag.param(&mut __mango_call, #name)),
        };
        quote! {
            #ident: match #read {
                ::std::result::Result::Ok(v) => v,
                ::std::result::Result::Err(e) => {
                    return #p::Output::Invalid(::std::string::ToString::to_string(&e));
                }
            },
        }
    });
    let declared = arguments.iter().zip(&names).map(|(a, name)| {
        let description = doc_text(&a.attrs);
        let required = option_inner(&a.ty).is_none();
        quote! {
            #p::PromptArgumentEntry {
                name: #name,
                description: #description,
                required: #required,
            },
        }
    });
    let count = arguments.len();
    let args_unused = if params.iter().all(|p| !matches!(p, Param::Argument(..))) {
        quote!(let _ = &__mango_args;)
    } else {
        quote!()
    };
    let tags = argument_tags(&params, &p);
    let (holders, body) = call_body(&func, &params, &returns, &p, true);
    let scopes = &options.scopes;
    let meta = entry_meta(&p, quote!(#name), fn_ident.span());
    let generated = quote! {
        struct __MangoParams<#(#generics),*> {
            #(#fields)*
        }

        fn __mango_get(mut __mango_call: #p::Call) -> #p::BoxFuture<#p::Output> {
            ::std::boxed::Box::pin(async move {
                #tags
                let __mango_args = __MangoParams { #(#parse)* };
                #args_unused
                #(#holders)*
                #body
            })
        }

        static __MANGO_ARGUMENTS: [#p::PromptArgumentEntry; #count] = [#(#declared)*];

        #[#p::linkme::distributed_slice(#p::PROMPTS)]
        #[linkme(crate = #p::linkme)]
        static __MANGO_PROMPT: #p::PromptEntry = #p::PromptEntry {
            meta: #meta,
            title: #title,
            description: #description,
            arguments: &__MANGO_ARGUMENTS,
            get: __mango_get,
            completions: #completions,
            scopes: &[#(#scopes),*],
        };
    };
    Ok(wrap(
        ItemKind::Prompt,
        quote!(#func),
        Some((&name, name_span)),
        generated,
    ))
}
