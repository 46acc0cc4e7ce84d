//! `#[middleware]`: an around-style `async fn(req: &mut Request, next: Next) -> Response`,
//! or a unit struct implementing `mango_rt::Middleware` (Django style).

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::{Item, LitStr, Path};

use crate::util::{default_crate, parse_options, parse_str_value};

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
    let options = Options::parse.parse2(args)?;
    let krate = options.krate.clone().unwrap_or_else(default_crate);
    let p = quote!(#krate::__private);
    let item: Item = syn::parse2(input.clone()).map_err(|_| {
        syn::Error::new_spanned(
            &input,
            "#[middleware] goes on an `async fn(req: &mut Request, next: Next) -> Response` or on a unit struct that implements `mango_rt::Middleware`",
        )
    })?;
    let (ident, around, list, item_tokens) = match &item {
        Item::Fn(func) => {
            if func.sig.asyncness.is_none() || func.sig.inputs.len() != 2 {
                return Err(syn::Error::new_spanned(
                    &func.sig,
                    "an around-style middleware is `async fn name(req: &mut Request, next: Next) -> Response`",
                ));
            }
            let ident = func.sig.ident.clone();
            let around = quote_spanned! {ident.span()=>
                fn __mango_around(
                    req: &mut #krate::Request,
                    next: #krate::Next,
                ) -> #p::StepFuture<'_, #krate::Response> {
                    ::std::boxed::Box::pin(#ident(req, next))
                }
            };
            (
                ident.clone(),
                around,
                quote!(::std::option::Option::None),
                quote!(#func),
            )
        }
        Item::Struct(s) => {
            if !matches!(s.fields, syn::Fields::Unit) || !s.generics.params.is_empty() {
                return Err(syn::Error::new_spanned(
                    s,
                    "a Django-style middleware is a unit struct (`struct Audit;`) that implements `mango_rt::Middleware`; keep its state in settings or statics",
                ));
            }
            let ident = s.ident.clone();
            let around = quote_spanned! {ident.span()=>
                static __MANGO_INSTANCE: #ident = #ident;
                fn __mango_around(
                    req: &mut #krate::Request,
                    next: #krate::Next,
                ) -> #p::StepFuture<'_, #krate::Response> {
                    ::std::boxed::Box::pin(#p::django(&__MANGO_INSTANCE, req, next))
                }
                fn __mango_list<'a>(
                    req: &'a #krate::ListRequest,
                    tools: &'a mut ::std::vec::Vec<#krate::rmcp::model::Tool>,
                ) -> #p::StepFuture<'a, ()> {
                    ::std::boxed::Box::pin(<#ident as #krate::Middleware>::list_tools(&__MANGO_INSTANCE, req, tools))
                }
            };
            (
                ident,
                around,
                quote!(::std::option::Option::Some(__mango_list)),
                quote!(#s),
            )
        }
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "#[middleware] goes on an `async fn(req: &mut Request, next: Next) -> Response` or on a unit struct that implements `mango_rt::Middleware`",
            ));
        }
    };
    let name = options
        .name
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_else(|| snake(&ident.to_string()));
    let file = quote_spanned!(ident.span()=> ::std::file!());
    let line = quote_spanned!(ident.span()=> ::std::line!());
    let guard = format_ident!(
        "__mango_middleware_named_{}_is_defined_twice_in_this_app",
        name,
        span = ident.span()
    );
    Ok(quote! {
        #item_tokens

        #[doc(hidden)]
        #[macro_export]
        macro_rules! #guard { () => {}; }

        #[doc(hidden)]
        #[allow(non_camel_case_types, non_snake_case, clippy::all, clippy::pedantic)]
        const _: () = {
            #around

            #[#p::linkme::distributed_slice(#p::MIDDLEWARE)]
            #[linkme(crate = #p::linkme)]
            static __MANGO_MIDDLEWARE: #p::MiddlewareEntry = #p::MiddlewareEntry {
                app: ::std::env!("CARGO_PKG_NAME"),
                name: #name,
                around: __mango_around,
                list: #list,
                file: #file,
                line: #line,
            };
        };
    })
}
