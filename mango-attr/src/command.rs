//! `#[command]`: a management command of its app, run by `cargo mango run <name>`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{ParseStream, Parser};
use syn::{LitStr, Path, Type};

use crate::item::{Front, ItemKind, ParamRules, argument_tags, call_body, entry_meta, front, wrap};
use crate::util::{
    Errors, default_crate, doc_text, option_bool, parse_flag_value, parse_options, parse_str_value,
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
        ItemKind::Command,
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
    let tags = argument_tags(&params, &p);
    let (holders, body) = call_body(&func, &params, &returns, &p, false);
    let args_unused = if arguments.is_empty() {
        quote!(let _ = &__mango_args;)
    } else {
        quote!()
    };
    let meta = entry_meta(&p, quote!(#name), fn_ident.span());
    let generated = quote! {
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
        ) -> #p::BoxFuture<#p::Output> {
            ::std::boxed::Box::pin(async move {
                let __mango_args = match <__MangoCommandArgs as clap::FromArgMatches>::from_arg_matches(&__mango_matches) {
                    ::std::result::Result::Ok(a) => a,
                    ::std::result::Result::Err(e) => return #p::Output::error(e),
                };
                #args_unused
                #tags
                #(#holders)*
                #body
            })
        }

        #[#p::linkme::distributed_slice(#p::COMMANDS)]
        #[linkme(crate = #p::linkme)]
        static __MANGO_COMMAND: #p::CommandEntry = #p::CommandEntry {
            meta: #meta,
            about: #about,
            args: __mango_args,
            run: __mango_run,
            atomic: #atomic,
        };
    };
    Ok(wrap(
        ItemKind::Command,
        quote!(#func),
        Some((&name, name_span)),
        generated,
    ))
}
