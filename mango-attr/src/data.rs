//! `#[data]`: a type tools take or return, with what that needs derived through mango's
//! own serde and schemars.

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::{Item, Path};

use crate::util::{Errors, default_crate, parse_crate, path_string};

pub fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let krate: Path = if args.is_empty() {
        default_crate()
    } else {
        errors
            .ok(parse_crate.parse2(args).map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "#[data] takes no options but `crate = path` (serde's and schemars' own attributes go on the type: #[serde(rename_all = \"camelCase\")])",
                )
            }))
            .unwrap_or_else(default_crate)
    };
    let item = match syn::parse2::<Item>(input) {
        Ok(item @ (Item::Struct(_) | Item::Enum(_))) => item,
        Ok(item) => {
            return Err(errors.fail(syn::Error::new_spanned(
                item,
                "#[data] goes on a struct or an enum: a type that tools take or return",
            )));
        }
        Err(e) => return Err(errors.fail(e)),
    };
    errors.finish()?;
    let p = quote!(#krate::__private);
    let serde_path = format!("{}::__private::serde", path_string(&krate));
    let schemars_path = format!("{}::__private::schemars", path_string(&krate));
    Ok(quote! {
        #[derive(#p::serde::Serialize, #p::serde::Deserialize, #p::schemars::JsonSchema)]
        #[serde(crate = #serde_path)]
        #[schemars(crate = #schemars_path)]
        #item
    })
}
