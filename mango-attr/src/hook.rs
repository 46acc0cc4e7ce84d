//! `#[startup]` and `#[shutdown]`: an app's hooks, run once per process.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Pat, ReturnType, Type};

use crate::item::{ItemKind, entry_meta, wrap};
use crate::util::{Errors, crate_only};

/// Which hook.
#[derive(Clone, Copy)]
pub enum When {
    Startup,
    Shutdown,
}

impl When {
    fn attribute(self) -> &'static str {
        match self {
            When::Startup => "startup",
            When::Shutdown => "shutdown",
        }
    }
}

/// What the hook's fn returns.
enum Returns {
    /// Nothing to keep (`()`, or `Result<(), E>` when `fallible`).
    Nothing { fallible: bool },
    /// A value kept as app state (`T`, or `Result<T, E>` when `fallible`).
    State { ty: Box<Type>, fallible: bool },
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

fn returns(output: &ReturnType) -> Returns {
    let ty = match output {
        ReturnType::Default => return Returns::Nothing { fallible: false },
        ReturnType::Type(_, ty) => &**ty,
    };
    if is_unit(ty) {
        return Returns::Nothing { fallible: false };
    }
    if let Type::Path(path) = ty
        && let Some(last) = path.path.segments.last()
        && last.ident == "Result"
        && let syn::PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(syn::GenericArgument::Type(ok)) = args.args.first()
    {
        return if is_unit(ok) {
            Returns::Nothing { fallible: true }
        } else {
            Returns::State {
                ty: Box::new(ok.clone()),
                fallible: true,
            }
        };
    }
    Returns::State {
        ty: Box::new(ty.clone()),
        fallible: false,
    }
}

pub fn expand(when: When, args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let attribute = when.attribute();
    let mut errors = Errors::default();
    let krate = crate_only(args, &mut errors, attribute);
    let func: ItemFn = syn::parse2(input).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("#[{attribute}] goes on a fn: `async fn connect(settings: &Settings) -> Result<Client, ToolError>`"),
        )
    })?;
    if !func.sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &func.sig.generics,
            format!("a #[{attribute}] hook cannot be generic"),
        ));
    }
    // Every parameter is injected: `&Settings`, `&mut Db`, `&AppState<T>`, `&Context`.
    let mut injected: Vec<(Type, bool)> = Vec::new();
    for input in &func.sig.inputs {
        match input {
            FnArg::Receiver(r) => errors.push(syn::Error::new_spanned(
                r,
                format!("a #[{attribute}] hook is a free fn, not a method"),
            )),
            FnArg::Typed(arg) => {
                if !matches!(&*arg.pat, Pat::Ident(_) | Pat::Wild(_)) {
                    errors.push(syn::Error::new_spanned(
                        &arg.pat,
                        "a hook's parameters must be plain names",
                    ));
                }
                match &*arg.ty {
                    Type::Reference(r) => injected.push(((*r.elem).clone(), r.mutability.is_some())),
                    other => errors.push(syn::Error::new_spanned(
                        other,
                        format!(
                            "a #[{attribute}] hook takes only injected values, written as references: `settings: &Settings`, `db: &mut Db`, `client: &AppState<Client>`"
                        ),
                    )),
                }
            }
        }
    }
    let returned = returns(&func.sig.output);
    if let (When::Shutdown, Returns::State { ty, .. }) = (when, &returned) {
        errors.push(syn::Error::new_spanned(
            ty,
            "a #[shutdown] hook returns nothing (or `Result<(), E>`): there is nothing left to keep its value for",
        ));
    }
    errors.finish()?;

    let p = quote!(#krate::__private);
    let fn_ident = &func.sig.ident;
    let name = fn_ident.to_string();
    let holders = injected.iter().enumerate().map(|(i, (ty, _))| {
        let h = format_ident!("__mango_h{i}");
        quote_spanned! {ty.span()=>
            let mut #h = match <#ty as #p::Inject>::build(&mut __mango_call).await {
                ::std::result::Result::Ok(h) => h,
                ::std::result::Result::Err(e) => return #p::Output::error(e),
            };
        }
    });
    let call_args = injected.iter().enumerate().map(|(i, (ty, mutable))| {
        let h = format_ident!("__mango_h{i}");
        if *mutable {
            quote_spanned!(ty.span()=> <#ty as #p::InjectMut>::borrow_mut(&mut #h))
        } else {
            quote_spanned!(ty.span()=> <#ty as #p::Inject>::borrow(&#h))
        }
    });
    let finishes = injected.iter().enumerate().rev().map(|(i, (ty, _))| {
        let h = format_ident!("__mango_h{i}");
        quote_spanned! {ty.span()=>
            if let ::std::result::Result::Err(e) = <#ty as #p::Inject>::finish(#h, __mango_ok).await {
                return #p::Output::error(e);
            }
        }
    });
    let invoke = if func.sig.asyncness.is_some() {
        quote!(#fn_ident(#(#call_args),*).await)
    } else {
        quote!(#fn_ident(#(#call_args),*))
    };
    // The outcome as `Result<Option<state>, message>`.
    let outcome = match &returned {
        Returns::Nothing { fallible: false } => {
            quote!({
                let () = __mango_out;
                ::std::result::Result::<(), ::std::string::String>::Ok(())
            })
        }
        Returns::Nothing { fallible: true } => {
            quote!(__mango_out.map_err(|e| ::std::string::ToString::to_string(&e)))
        }
        Returns::State {
            fallible: false, ..
        } => {
            quote!(::std::result::Result::<_, ::std::string::String>::Ok(
                __mango_out
            ))
        }
        Returns::State { fallible: true, .. } => {
            quote!(__mango_out.map_err(|e| ::std::string::ToString::to_string(&e)))
        }
    };
    let keep = match &returned {
        Returns::Nothing { .. } => quote!(let () = __mango_value;),
        Returns::State { ty, .. } => quote_spanned! {ty.span()=>
            #p::provide_state::<#ty>(&__mango_call, __mango_value);
        },
    };
    let kind = match when {
        When::Startup => quote!(#p::HookKind::Startup),
        When::Shutdown => quote!(#p::HookKind::Shutdown),
    };
    let meta = entry_meta(&p, quote!(#name), fn_ident.span());
    let generated = quote! {
        fn __mango_hook(mut __mango_call: #p::Call) -> #p::BoxFuture<#p::Output> {
            ::std::boxed::Box::pin(async move {
                #(#holders)*
                let __mango_out = #invoke;
                let __mango_out = #outcome;
                let __mango_ok = __mango_out.is_ok();
                #(#finishes)*
                match __mango_out {
                    ::std::result::Result::Ok(__mango_value) => {
                        #keep
                        #p::Output::Empty
                    }
                    ::std::result::Result::Err(e) => #p::Output::Error(e),
                }
            })
        }

        #[#p::linkme::distributed_slice(#p::HOOKS)]
        #[linkme(crate = #p::linkme)]
        static __MANGO_HOOK: #p::HookEntry = #p::HookEntry {
            meta: #meta,
            kind: #kind,
            run: __mango_hook,
        };
    };
    // Hooks have no exposed name to keep unique.
    Ok(wrap(ItemKind::Hook, quote!(#func), None, generated))
}
