//! `#[data]`: a type tools take or return, with what that needs derived through mango's
//! own serde and schemars.

use proc_macro2::TokenStream;
use quote::quote;
use syn::Item;

use crate::util::{Errors, crate_only, path_string};

pub fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let krate = crate_only(args, &mut errors, "data");
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
