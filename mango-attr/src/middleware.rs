//! `#[middleware]`: an around-style `async fn(req: &mut Request, next: Next) -> Response`,
//! or a unit struct implementing `mango_rt::Middleware` (Django style).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::{Item, LitStr, Path};

use crate::item::{ItemKind, check_name, check_signature, entry_meta, ident_name, wrap};
use crate::util::{Errors, default_crate, parse_options, parse_str_value};

const WHERE: &str = "#[middleware] goes on an `async fn(req: &mut Request, next: Next) -> Response` or on a unit struct that implements `mango_rt::Middleware`";

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    krate: Option<Path>,
}

impl Options {
    fn parse(input: ParseStream) -> syn::Result<Options> {
        let mut o = Options::default();
        o.krate = parse_options(input, "middleware", "name, crate", |key, input| {
            match key {
                "name" => o.name = Some(parse_str_value(input)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(o)
    }
}

/// `SnakeCase` → `snake_case`.
fn snake(ident: &str) -> String {
    let mut out = String::new();
    for (i, c) in ident.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let options = errors.ok(Options::parse.parse2(args)).unwrap_or_default();
    let krate = options.krate.clone().unwrap_or_else(default_crate);
    let p = quote!(#krate::__private);
    let item: Item = match syn::parse2(input.clone()) {
        Ok(item) => item,
        Err(_) => return Err(errors.fail(syn::Error::new_spanned(&input, WHERE))),
    };
    let (ident, steps, list) = match &item {
        Item::Fn(func) => {
            check_signature(func, ItemKind::Middleware, &mut errors);
            if func.sig.asyncness.is_none() || func.sig.inputs.len() != 2 {
                errors.push(syn::Error::new_spanned(
                    &func.sig,
                    "an around-style middleware is `async fn name(req: &mut Request, next: Next) -> Response`",
                ));
            }
            let ident = func.sig.ident.clone();
            let steps = quote_spanned! {ident.span()=>
                fn __mango_around(
                    req: &mut #krate::Request,
                    next: #krate::Next,
                ) -> #p::StepFuture<'_, #krate::Response> {
                    ::std::boxed::Box::pin(#ident(req, next))
                }
            };
            (ident, steps, quote!(::std::option::Option::None))
        }
        Item::Struct(s) => {
            if !matches!(s.fields, syn::Fields::Unit) || !s.generics.params.is_empty() {
                errors.push(syn::Error::new_spanned(
                    s,
                    "a Django-style middleware is a unit struct (`struct Audit;`) that implements `mango_rt::Middleware`; keep its state in settings or statics",
                ));
            }
            let ident = s.ident.clone();
            let steps = quote_spanned! {ident.span()=>
                static __MANGO_INSTANCE: #ident = #ident;
                fn __mango_around(
                    req: &mut #krate::Request,
                    next: #krate::Next,
                ) -> #p::StepFuture<'_, #krate::Response> {
                    ::std::boxed::Box::pin(#p::django(&__MANGO_INSTANCE, req, next))
                }
                fn __mango_list_tools<'a>(
                    req: &'a #krate::ListRequest,
                    items: &'a mut ::std::vec::Vec<#krate::Listed>,
                ) -> #p::StepFuture<'a, ()> {
                    ::std::boxed::Box::pin(<#ident as #krate::Middleware>::list_tools(&__MANGO_INSTANCE, req, items))
                }
                fn __mango_list_resources<'a>(
                    req: &'a #krate::ListRequest,
                    items: &'a mut ::std::vec::Vec<#krate::Listed>,
                ) -> #p::StepFuture<'a, ()> {
                    ::std::boxed::Box::pin(<#ident as #krate::Middleware>::list_resources(&__MANGO_INSTANCE, req, items))
                }
                fn __mango_list_resource_templates<'a>(
                    req: &'a #krate::ListRequest,
                    items: &'a mut ::std::vec::Vec<#krate::Listed>,
                ) -> #p::StepFuture<'a, ()> {
                    ::std::boxed::Box::pin(<#ident as #krate::Middleware>::list_resource_templates(&__MANGO_INSTANCE, req, items))
                }
                fn __mango_list_prompts<'a>(
                    req: &'a #krate::ListRequest,
                    items: &'a mut ::std::vec::Vec<#krate::Listed>,
                ) -> #p::StepFuture<'a, ()> {
                    ::std::boxed::Box::pin(<#ident as #krate::Middleware>::list_prompts(&__MANGO_INSTANCE, req, items))
                }
            };
            (
                ident,
                steps,
                quote!(::std::option::Option::Some(#p::ListHooks {
                    tools: __mango_list_tools,
                    resources: __mango_list_resources,
                    resource_templates: __mango_list_resource_templates,
                    prompts: __mango_list_prompts,
                })),
            )
        }
        other => return Err(errors.fail(syn::Error::new_spanned(other, WHERE))),
    };
    let name = options
        .name
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_else(|| snake(&ident_name(&ident)));
    let name_span = options.name.as_ref().map_or(ident.span(), LitStr::span);
    if let Err(e) = check_name(ItemKind::Middleware, &name, name_span) {
        errors.push(e);
    }
    errors.finish()?;
    let meta = entry_meta(&p, quote!(#name), ident.span());
    let generated = quote! {
        #steps

        #[#p::linkme::distributed_slice(#p::MIDDLEWARE)]
        #[linkme(crate = #p::linkme)]
        static __MANGO_MIDDLEWARE: #p::MiddlewareEntry = #p::MiddlewareEntry {
            meta: #meta,
            around: __mango_around,
            list: #list,
        };
    };
    Ok(wrap(
        ItemKind::Middleware,
        quote!(#item),
        Some((&name, name_span)),
        generated,
    ))
}
