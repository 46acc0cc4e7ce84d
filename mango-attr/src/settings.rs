use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::{Item, Path};

use crate::util::{default_crate, parse_crate, path_string};

pub fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let krate: Path = if args.is_empty() {
        default_crate()
    } else {
        parse_crate.parse2(args)?
    };
    let item: Item = syn::parse2(input)?;
    let Item::Struct(item) = item else {
        return Err(syn::Error::new_spanned(
            item,
            "#[settings] goes on a struct: the app's section of Mango.toml",
        ));
    };
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &item.generics,
            "a #[settings] struct cannot be generic",
        ));
    }
    let ident = &item.ident;
    let serde_path = format!("{}::__private::serde", path_string(&krate));
    let file = quote_spanned!(ident.span()=> ::std::file!());
    let line = quote_spanned!(ident.span()=> ::std::line!());
    Ok(quote! {
        #[derive(#krate::__private::serde::Deserialize)]
        #[serde(crate = #serde_path, deny_unknown_fields)]
        #item

        impl #krate::__private::AppSettings for #ident {
            const APP: &'static str = ::std::env!("CARGO_PKG_NAME");
        }

        const _: () = {
            #[#krate::__private::linkme::distributed_slice(#krate::__private::SETTINGS)]
            #[linkme(crate = #krate::__private::linkme)]
            static __MANGO_SETTINGS: #krate::__private::SettingsEntry = #krate::__private::SettingsEntry {
                app: ::std::env!("CARGO_PKG_NAME"),
                type_name: ::std::concat!(::std::module_path!(), "::", ::std::stringify!(#ident)),
                parse: #krate::__private::parse_settings::<#ident>,
                type_id: ::std::any::TypeId::of::<#ident>,
                file: #file,
                line: #line,
            };
        };
    })
}
