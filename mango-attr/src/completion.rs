//! `#[completion]`: a fn that suggests values for an argument of a prompt or a variable
//! of a resource template, named by the item: `#[prompt(complete(topic = topics))]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Visibility;

use crate::item::{Front, ItemKind, ParamRules, argument_tags, call_body, completion_fn, front};
use crate::util::{Errors, crate_only, path_string};

const RULES: ParamRules = ParamRules {
    attributes: &["doc", "serde"],
    bad_attribute: "only doc comments and #[serde(…)] are allowed on a completion's parameters",
    plain_names: "a completion's parameters must be plain names: `value`, `argument` or `context`",
    impl_trait: "a completion's parameter needs a concrete type, not `impl Trait`",
};

/// What a completion can take by value.
const KNOWN: [&str; 3] = ["value", "argument", "context"];

pub fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let krate = crate_only(args, &mut errors, "completion");
    let Front {
        func,
        arguments,
        params,
        returns,
        ..
    } = front(input, ItemKind::Completion, None, &RULES, &mut errors)?;
    for a in &arguments {
        if !KNOWN.iter().any(|k| a.ident == k) {
            errors.push(syn::Error::new(
                a.ident.span(),
                format!(
                    "a completion takes `value: String` (what was typed so far), `argument: String` (which argument) and `context: HashMap<String, String>` (the other arguments given), not `{}`",
                    a.ident
                ),
            ));
        }
    }
    errors.finish()?;
    let Some(returns) = returns else {
        return Ok(quote!(#func));
    };
    let p = quote!(#krate::__private);
    let serde_path = format!("{}::__private::serde", path_string(&krate));
    let fields = arguments.iter().map(|a| {
        let (ident, ty, attrs) = (&a.ident, &a.ty, &a.attrs);
        quote!(#(#attrs)* #ident: #ty,)
    });
    let args_unused = if arguments.is_empty() {
        quote!(let _ = &__mango_args;)
    } else {
        quote!()
    };
    let tags = argument_tags(&params, &p);
    let (holders, body) = call_body(&func, &params, &returns, &p, false);
    let companion = completion_fn(&func.sig.ident);
    let vis: &Visibility = &func.vis;
    Ok(quote! {
        #func

        #[doc(hidden)]
        #[allow(non_snake_case, clippy::all, clippy::pedantic)]
        #vis fn #companion(mut __mango_call: #p::Call) -> #p::BoxFuture<#p::Output> {
            #[derive(#p::serde::Deserialize)]
            #[serde(crate = #serde_path)]
            struct __MangoArgs {
                #(#fields)*
            }
            ::std::boxed::Box::pin(async move {
                let __mango_args: __MangoArgs = match __mango_call.arguments() {
                    ::std::result::Result::Ok(a) => a,
                    ::std::result::Result::Err(e) => return #p::Output::error(e),
                };
                #args_unused
                #tags
                #(#holders)*
                #body
            })
        }
    })
}
