//! `#[prompt]`: a reusable prompt of its app; its parameters are the prompt's arguments.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{ParseStream, Parser};
use syn::{LitStr, Path};

use crate::item::{
    Front, ItemKind, Param, ParamRules, call_body, completion_entries, entry_meta, front,
    ident_name, option_inner, parse_completions, wrap,
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
    attributes: &["doc"],
    bad_attribute: "only doc comments (the argument's description) are allowed on a prompt's parameters",
    plain_names: "a prompt's parameters must be plain names (`topic: String`): the name is the argument's name",
    impl_trait: "a prompt's argument needs a concrete type (it is parsed from text with `FromStr`), not `impl Trait`",
};

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
    let names: Vec<String> = arguments.iter().map(|a| ident_name(&a.ident)).collect();
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
    let fields = arguments.iter().map(|a| {
        let (ident, ty) = (&a.ident, &a.ty);
        quote!(#ident: #ty,)
    });
    let parse = arguments.iter().map(|a| {
        let ident = &a.ident;
        let name = ident.to_string();
        let read = match option_inner(&a.ty) {
            Some(inner) => quote!(__mango_call.optional_param::<#inner>(#name)),
            None => quote!(__mango_call.param(#name)),
        };
        quote! {
            #ident: match #read {
                ::std::result::Result::Ok(v) => v,
                ::std::result::Result::Err(e) => return #p::Output::Invalid(e),
            },
        }
    });
    let declared = arguments.iter().map(|a| {
        let name = a.ident.to_string();
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
    let args_unused = if params.iter().all(|p| !matches!(p, Param::Argument(_))) {
        quote!(let _ = &__mango_args;)
    } else {
        quote!()
    };
    let (holders, body) = call_body(&func, &params, &returns, &p);
    let scopes = &options.scopes;
    let meta = entry_meta(&p, quote!(#name), fn_ident.span());
    let generated = quote! {
        struct __MangoParams {
            #(#fields)*
        }

        fn __mango_get(mut __mango_call: #p::Call) -> #p::BoxFuture<#p::Output> {
            ::std::boxed::Box::pin(async move {
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
