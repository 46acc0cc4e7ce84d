//! `#[settings]`: an app's typed section of `Mango.toml`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Item;

use crate::item::{ItemKind, entry_meta, wrap};
use crate::util::{Errors, crate_only, path_string};

pub fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let krate = crate_only(args, &mut errors, "settings");
    let item = match syn::parse2::<Item>(input) {
        Ok(Item::Struct(item)) => item,
        Ok(item) => {
            return Err(errors.fail(syn::Error::new_spanned(
                item,
                "#[settings] goes on a struct: the app's section of Mango.toml",
            )));
        }
        Err(e) => return Err(errors.fail(e)),
    };
    if !item.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &item.generics,
            "a #[settings] struct cannot be generic: its type must be known to read its section of Mango.toml",
        ));
    }
    errors.finish()?;
    let ident = &item.ident;
    let p = quote!(#krate::__private);
    let serde_path = format!("{}::__private::serde", path_string(&krate));
    // The entry's name is the type's full path, for messages.
    let meta = entry_meta(
        &p,
        quote!(::std::concat!(
            ::std::module_path!(),
            "::",
            ::std::stringify!(#ident)
        )),
        ident.span(),
    );
    let item_tokens = quote! {
        #[derive(#p::serde::Deserialize)]
        #[serde(crate = #serde_path, deny_unknown_fields)]
        #item

        impl #p::AppSettings for #ident {
            const APP: &'static str = ::std::env!("CARGO_PKG_NAME");
        }
    };
    let generated = quote! {
        #[#p::linkme::distributed_slice(#p::SETTINGS)]
        #[linkme(crate = #p::linkme)]
        static __MANGO_SETTINGS: #p::SettingsEntry = #p::SettingsEntry {
            meta: #meta,
            parse: #p::parse_settings::<#ident>,
            type_id: ::std::any::TypeId::of::<#ident>,
        };
    };
    Ok(wrap(ItemKind::Settings, item_tokens, None, generated))
}
