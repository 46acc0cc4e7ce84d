//! `#[command]`: a management command of its app, run by `cargo mango run <name>`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::{LitStr, Path, Type};

use crate::tool::{ParamRules, call_body, check_signature, collect_params, returns};
use crate::util::{
    Errors, default_crate, doc_text, option_bool, parse_flag_value, parse_fn, parse_options,
    parse_str_value,
};

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    atomic: Option<bool>,
    krate: Option<Path>,
}

impl Options {
    fn parse(input: ParseStream) -> syn::Result<Options> {
        let mut o = Options::default();
        o.krate = parse_options(input, "command", "name, atomic, crate", |key, input| {
            match key {
                "name" => o.name = Some(parse_str_value(input)?),
                "atomic" => o.atomic = Some(parse_flag_value(input)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(o)
    }
}

const RULES: ParamRules = ParamRules {
    attributes: &["doc", "arg", "command"],
    bad_attribute: "only doc comments, #[arg(…)] and #[command(flatten)] are allowed on a command's parameters",
    plain_names: "a command's parameters must be plain names (`since: Option<i64>`): the name is the option's name",
    impl_trait: "a command's argument needs a concrete type (clap parses it), not `impl Trait`",
};

fn check_name(name: &str, span: Span) -> syn::Result<()> {
    if name.is_empty() || name.len() > 64 {
        return Err(syn::Error::new(
            span,
            "a command's name has 1 to 64 characters",
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
    {
        Some(c) => Err(syn::Error::new(
            span,
            format!(
                "a command's name may hold only A-Z a-z 0-9 _ - (`:` separates the app); `{name}` has `{c}`"
            ),
        )),
        None => Ok(()),
    }
}

/// Whether a parameter of this type becomes a `--flag`/`--option` by default (else it
/// is positional).
fn is_option_by_default(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "bool" || s.ident == "Option"),
        _ => false,
    }
}

pub fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let options = Options::parse.parse2(args);
    let mut func = parse_fn(input, "command")?;
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
    let name_text = options
        .name
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_else(|| fn_ident.to_string().trim_start_matches("r#").to_owned());
    let name_span = options.name.as_ref().map_or(fn_ident.span(), LitStr::span);
    if let Err(e) = check_name(&name_text, name_span) {
        errors.push(e);
    }
    let (arguments, params) = collect_params(&mut func, &RULES, &mut errors);
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
    let about = doc_text(&func.attrs);
    let atomic = option_bool(options.atomic);
    let fields = arguments.iter().map(|a| {
        let (ident, ty, attrs) = (&a.ident, &a.ty, &a.attrs);
        let configured = attrs
            .iter()
            .any(|at| at.path().is_ident("arg") || at.path().is_ident("command"));
        let default = if !configured && is_option_by_default(ty) {
            quote!(#[arg(long)])
        } else {
            quote!()
        };
        quote!(#(#attrs)* #default #ident: #ty,)
    });
    let (holders, body) = call_body(&func, &params, &returns, &p);
    let args_unused = if arguments.is_empty() {
        quote!(let _ = &__mango_args;)
    } else {
        quote!()
    };
    let name_lit = LitStr::new(&name_text, name_span);
    let file = quote_spanned!(fn_ident.span()=> ::std::file!());
    let line = quote_spanned!(fn_ident.span()=> ::std::line!());
    let guard = format_ident!(
        "__mango_command_named_{}_is_defined_twice_in_this_app",
        name_text.replace('-', "_hyphen_"),
        span = name_span
    );

    Ok(quote! {
        #func

        #[doc(hidden)]
        #[macro_export]
        macro_rules! #guard { () => {}; }

        #[doc(hidden)]
        #[allow(non_camel_case_types, non_snake_case, clippy::all, clippy::pedantic)]
        const _: () = {
            use #p::clap;

            #[derive(clap::Args)]
            struct __MangoCommandArgs {
                #(#fields)*
            }

            fn __mango_args(command: clap::Command) -> clap::Command {
                <__MangoCommandArgs as clap::Args>::augment_args(command)
            }

            fn __mango_run(
                __mango_matches: clap::ArgMatches,
                mut __mango_call: #p::Call,
            ) -> #p::BoxFuture<#p::ToolOutput> {
                ::std::boxed::Box::pin(async move {
                    let __mango_args = match <__MangoCommandArgs as clap::FromArgMatches>::from_arg_matches(&__mango_matches) {
                        ::std::result::Result::Ok(a) => a,
                        ::std::result::Result::Err(e) => return #p::ToolOutput::error(e),
                    };
                    #args_unused
                    #(#holders)*
                    #body
                })
            }

            #[#p::linkme::distributed_slice(#p::COMMANDS)]
            #[linkme(crate = #p::linkme)]
            static __MANGO_COMMAND: #p::CommandEntry = #p::CommandEntry {
                app: ::std::env!("CARGO_PKG_NAME"),
                name: #name_lit,
                about: #about,
                args: __mango_args,
                run: __mango_run,
                atomic: #atomic,
                file: #file,
                line: #line,
            };
        };
    })
}
