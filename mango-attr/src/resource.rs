//! `#[resource("notes://{id}")]`: a resource (or, with `{…}` in its URI, a resource
//! template) of its app.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{ParseStream, Parser};
use syn::{LitStr, Path, Token};

use crate::item::{
    Front, ItemKind, Param, ParamRules, argument_tags, call_body, completion_entries, entry_meta,
    front, generic_fields, parse_completions, tag_ident, wrap,
};
use crate::util::{
    Errors, default_crate, doc_text, parse_options, parse_scopes_value, parse_str_value,
};

#[derive(Default)]
struct Options {
    uri: Option<LitStr>,
    name: Option<LitStr>,
    description: Option<LitStr>,
    title: Option<LitStr>,
    complete: Vec<(syn::Ident, Path)>,
    mime_type: Option<LitStr>,
    scopes: Vec<LitStr>,
    krate: Option<Path>,
}

impl Options {
    fn parse(input: ParseStream) -> syn::Result<Options> {
        let mut o = Options::default();
        if !input.peek(LitStr) {
            return Err(input.error(
                "#[resource] takes its URI first: #[resource(\"notes://recent\")], or a template: #[resource(\"notes://{id}\")]",
            ));
        }
        o.uri = Some(input.parse()?);
        if input.is_empty() {
            return Ok(o);
        }
        input.parse::<Token![,]>()?;
        o.krate = parse_options(
            input,
            "resource",
            "name, description, title, mime_type, complete, scopes, crate",
            |key, input| {
                match key {
                    "name" => o.name = Some(parse_str_value(input)?),
                    "description" => o.description = Some(parse_str_value(input)?),
                    "title" => o.title = Some(parse_str_value(input)?),
                    "scopes" => o.scopes = parse_scopes_value(input)?,
                    "complete" => o.complete = parse_completions(input)?,
                    "mime_type" => o.mime_type = Some(parse_str_value(input)?),
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
    bad_attribute: "only doc comments are allowed on a resource's parameters",
    plain_names: "a resource's parameters must be plain names (`id: i64`): each is a variable of its URI template",
    impl_trait: "a resource's variable needs a concrete type (it is parsed from the URI with `FromStr`), not `impl Trait`",
};

/// The variables of a URI template (`{id}`, `{+path}`), in order.
fn variables(uri: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = uri;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        out.push(
            rest[open + 1..open + close]
                .trim_start_matches('+')
                .to_owned(),
        );
        rest = &rest[open + close + 1..];
    }
    out
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
        ItemKind::Resource,
        options.name.as_ref(),
        &RULES,
        &mut errors,
    )?;
    let fn_ident = func.sig.ident.clone();
    // The URI template's variables and the fn's parameters by value are the same names.
    let uri = options.uri.clone();
    if let Some(uri) = &uri {
        let vars = variables(&uri.value());
        for var in &vars {
            if !arguments.iter().any(|a| a.ident == var) {
                errors.push(syn::Error::new(
                    uri.span(),
                    format!("the URI has `{{{var}}}`, but the function takes no parameter `{var}`: add `{var}: String` (or another type that parses from text)"),
                ));
            }
        }
        for a in &arguments {
            if !vars.iter().any(|v| a.ident == v) {
                errors.push(syn::Error::new(
                    a.ident.span(),
                    format!(
                        "`{}` is not a variable of the URI `{}`: a resource's parameters by value are its template's variables (take injected values by reference)",
                        a.ident,
                        uri.value()
                    ),
                ));
            }
        }
    }
    let krate = options.krate.clone().unwrap_or_else(default_crate);
    let p = quote!(#krate::__private);
    let vars = uri
        .as_ref()
        .map(|u| variables(&u.value()))
        .unwrap_or_default();
    let completions = completion_entries(
        &p,
        &options.complete,
        &vars,
        "a variable of this URI template",
        &mut errors,
    );
    errors.finish()?;
    let (Some(returns), Some(uri)) = (returns, uri) else {
        return Ok(quote!(#func));
    };

    let description = options
        .description
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_else(|| doc_text(&func.attrs));
    let some = |v: &Option<LitStr>| match v {
        Some(t) => quote!(::std::option::Option::Some(#t)),
        None => quote!(::std::option::Option::None),
    };
    let (title, mime_type) = (some(&options.title), some(&options.mime_type));
    let (generics, fields) = generic_fields(&arguments);
    let parse = arguments.iter().map(|a| {
        let ident = &a.ident;
        let tag = tag_ident(ident);
        let name = ident.to_string();
        quote! {
            #ident: match #tag.param(&mut __mango_call, #name) {
                ::std::result::Result::Ok(v) => v,
                ::std::result::Result::Err(e) => {
                    return #p::Output::Invalid(::std::string::ToString::to_string(&e));
                }
            },
        }
    });
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

        fn __mango_read(mut __mango_call: #p::Call) -> #p::BoxFuture<#p::Output> {
            ::std::boxed::Box::pin(async move {
                #tags
                let __mango_args = __MangoParams { #(#parse)* };
                #args_unused
                #(#holders)*
                #body
            })
        }

        #[#p::linkme::distributed_slice(#p::RESOURCES)]
        #[linkme(crate = #p::linkme)]
        static __MANGO_RESOURCE: #p::ResourceEntry = #p::ResourceEntry {
            meta: #meta,
            uri: #uri,
            title: #title,
            description: #description,
            mime_type: #mime_type,
            read: __mango_read,
            completions: #completions,
            scopes: &[#(#scopes),*],
        };
    };
    Ok(wrap(
        ItemKind::Resource,
        quote!(#func),
        Some((&name, name_span)),
        generated,
    ))
}
