use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::parse::ParseStream;
use syn::{Attribute, Expr, Lit, LitStr, Meta, Path, Token};

/// Collects errors so that one expansion reports every problem at once.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(e) => e.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// The value of `result`, or `None` with its error kept.
    pub fn ok<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.push(e);
                None
            }
        }
    }

    /// Every error so far, and `error` after them: for a problem that stops the
    /// expansion.
    pub fn fail(mut self, error: syn::Error) -> syn::Error {
        self.push(error);
        match self.0 {
            Some(e) => e,
            None => unreachable!("an error was just pushed"),
        }
    }

    pub fn finish(self) -> syn::Result<()> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// What a function macro gives: its expansion, or on an error the function as written
/// (less the attributes on its parameters that only the macro reads) with the errors,
/// so that the function's callers see it and report nothing more.
pub fn or_keep(input: &TokenStream, result: syn::Result<TokenStream>) -> TokenStream {
    let error = match result {
        Ok(expanded) => return expanded,
        Err(error) => error.into_compile_error(),
    };
    let Ok(mut func) = syn::parse2::<syn::ItemFn>(input.clone()) else {
        return error;
    };
    const RUSTC: [&str; 7] = [
        "cfg", "cfg_attr", "allow", "warn", "deny", "expect", "forbid",
    ];
    for input in &mut func.sig.inputs {
        let attrs = match input {
            syn::FnArg::Typed(t) => &mut t.attrs,
            syn::FnArg::Receiver(r) => &mut r.attrs,
        };
        attrs.retain(|a| RUSTC.iter().any(|name| a.path().is_ident(name)));
    }
    // Nothing registers it now: no "never used" on top of the error.
    quote!(#[allow(dead_code)] #func #error)
}

/// The text of `///` comments: one line per attribute, one leading space dropped.
pub fn doc_text(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &attr.meta
            && let Expr::Lit(lit) = &nv.value
            && let Lit::Str(s) = &lit.lit
        {
            let line = s.value();
            lines.push(
                line.strip_prefix(' ')
                    .unwrap_or(&line)
                    .trim_end()
                    .to_owned(),
            );
        }
    }
    lines.join("\n").trim().to_owned()
}

/// The runtime's path as a string, for `#[serde(crate = "…")]`.
pub fn path_string(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// The default runtime path.
pub fn default_crate() -> Path {
    syn::parse_quote!(::mango_rt)
}

/// Parses `crate = path` (the one option every macro takes).
pub fn parse_crate(input: ParseStream) -> syn::Result<Path> {
    input.parse::<Token![crate]>()?;
    input.parse::<Token![=]>()?;
    input.parse::<Path>()
}

/// The path of a macro that takes no option but `crate = path` (the default when
/// `args` is empty); anything else is an error on `errors` that says so.
pub fn crate_only(args: TokenStream, errors: &mut Errors, attribute: &str) -> Path {
    if args.is_empty() {
        return default_crate();
    }
    errors
        .ok(syn::parse::Parser::parse2(parse_crate, args).map_err(|e| {
            syn::Error::new(
                e.span(),
                format!("#[{attribute}] takes no options but `crate = path`"),
            )
        }))
        .unwrap_or_else(default_crate)
}

/// Parses `= "text"`.
pub fn parse_str_value(input: ParseStream) -> syn::Result<LitStr> {
    input.parse::<Token![=]>()?;
    input.parse::<LitStr>()
}

/// Parses an optional `= true|false` after a flag.
pub fn parse_flag_value(input: ParseStream) -> syn::Result<bool> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        Ok(input.parse::<syn::LitBool>()?.value)
    } else {
        Ok(true)
    }
}

/// Parses `= ["scope", …]`: the OAuth scopes an item needs. Each must be a scope token
/// as RFC 6749 defines it (printable ASCII, no space, `"` or `\\`).
pub fn parse_scopes_value(input: ParseStream) -> syn::Result<Vec<LitStr>> {
    input.parse::<Token![=]>()?;
    let list: syn::ExprArray = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a list of scopes: `scopes = [\"notes:write\"]`",
        )
    })?;
    let mut scopes = Vec::new();
    for element in list.elems {
        let Expr::Lit(syn::ExprLit {
            lit: Lit::Str(scope),
            ..
        }) = element
        else {
            return Err(syn::Error::new_spanned(
                element,
                "a scope is a string literal: `scopes = [\"notes:write\"]`",
            ));
        };
        let value = scope.value();
        if value.is_empty()
            || !value
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        {
            return Err(syn::Error::new(
                scope.span(),
                format!(
                    "`{value}` is not a valid OAuth scope: use printable ASCII without spaces, `\"` or `\\` (e.g. `notes:write`)"
                ),
            ));
        }
        scopes.push(scope);
    }
    Ok(scopes)
}

pub fn option_bool(value: Option<bool>) -> TokenStream {
    match value {
        Some(v) => quote!(::std::option::Option::Some(#v)),
        None => quote!(::std::option::Option::None),
    }
}

/// Parses `key = value, flag, crate = path, …`: `on_key` takes each key it knows (and
/// its value) and returns `false` for the others, which are reported all at once with
/// the `known` list. Returns the `crate = …` path, if given.
pub fn parse_options(
    input: ParseStream,
    attribute: &str,
    known: &str,
    mut on_key: impl FnMut(&str, ParseStream) -> syn::Result<bool>,
) -> syn::Result<Option<Path>> {
    let mut krate = None;
    let mut errors = Errors::default();
    let mut seen: Vec<String> = Vec::new();
    let mut once = |key: String, span: proc_macro2::Span, errors: &mut Errors| {
        if seen.contains(&key) {
            errors.push(syn::Error::new(
                span,
                format!("`{key}` is given twice in #[{attribute}(…)]: keep one"),
            ));
        } else {
            seen.push(key);
        }
    };
    while !input.is_empty() {
        if input.peek(Token![crate]) {
            let span = input.span();
            krate = Some(parse_crate(input)?);
            once("crate".to_owned(), span, &mut errors);
        } else {
            let key: syn::Ident = input.parse()?;
            once(key.to_string(), key.span(), &mut errors);
            if !on_key(&key.to_string(), input)? {
                errors.push(syn::Error::new(
                    key.span(),
                    format!("unknown #[{attribute}] option `{key}`; expected one of: {known}"),
                ));
                // Skip the option's value, if any, and go on to report the rest.
                if input.peek(Token![=]) {
                    input.parse::<Token![=]>()?;
                    input.parse::<Expr>()?;
                }
            }
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    errors.finish()?;
    Ok(krate)
}
