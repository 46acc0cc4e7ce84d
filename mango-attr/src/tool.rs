//! `#[tool]`: an MCP tool of its app.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{Ident, LitStr, Path};

use crate::item::{
    Front, ItemKind, ParamRules, argument_fields, argument_tags, call_body, entry_meta, front, wrap,
};
use crate::util::{
    Errors, default_crate, doc_text, option_bool, parse_flag_value, parse_options,
    parse_scopes_value, parse_str_value, path_string,
};

const RULES: ParamRules = ParamRules {
    attributes: &["doc", "serde", "schemars"],
    bad_attribute: "only doc comments, #[serde(…)] and #[schemars(…)] are allowed on a tool's parameters",
    plain_names: "a tool's parameters must be plain names (`query: String`): the name is the argument's name in the schema",
    impl_trait: "a tool's argument needs a concrete type (it is deserialized from JSON), not `impl Trait`",
};

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    description: Option<LitStr>,
    title: Option<LitStr>,
    read_only: Option<bool>,
    destructive: Option<bool>,
    idempotent: Option<bool>,
    open_world: Option<bool>,
    atomic: Option<bool>,
    scopes: Vec<LitStr>,
    dialect: Option<LitStr>,
    task: Option<LitStr>,
    krate: Option<Path>,
}

impl Options {
    fn parse(input: ParseStream) -> syn::Result<Options> {
        let mut o = Options::default();
        o.krate = parse_options(
            input,
            "tool",
            "name, description, title, read_only, destructive, idempotent, open_world, atomic, scopes, dialect, task, crate",
            |key, input| {
                match key {
                    "name" => o.name = Some(parse_str_value(input)?),
                    "description" => o.description = Some(parse_str_value(input)?),
                    "title" => o.title = Some(parse_str_value(input)?),
                    "read_only" => o.read_only = Some(parse_flag_value(input)?),
                    "destructive" => o.destructive = Some(parse_flag_value(input)?),
                    "idempotent" => o.idempotent = Some(parse_flag_value(input)?),
                    "open_world" => o.open_world = Some(parse_flag_value(input)?),
                    "atomic" => o.atomic = Some(parse_flag_value(input)?),
                    "scopes" => o.scopes = parse_scopes_value(input)?,
                    "dialect" => o.dialect = Some(parse_str_value(input)?),
                    "task" => {
                        // `task` alone is `task = "optional"`.
                        let mode = if input.peek(syn::Token![=]) {
                            parse_str_value(input)?
                        } else {
                            LitStr::new("optional", input.span())
                        };
                        if !["optional", "required", "forbidden"].contains(&mode.value().as_str()) {
                            return Err(syn::Error::new(
                                mode.span(),
                                "`task` is \"optional\" (a task when the client supports tasks; the default of `task` alone), \"required\" or \"forbidden\"",
                            ));
                        }
                        o.task = Some(mode);
                    }
                    _ => return Ok(false),
                }
                Ok(true)
            },
        )?;
        Ok(o)
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
        ItemKind::Tool,
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
    let serde_path = format!("{}::__private::serde", path_string(&krate));
    let schemars_path = format!("{}::__private::schemars", path_string(&krate));
    let description = options
        .description
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_else(|| doc_text(&func.attrs));
    let title = match &options.title {
        Some(t) => quote!(::std::option::Option::Some(#t)),
        None => quote!(::std::option::Option::None),
    };
    let atomic = option_bool(options.atomic);
    let scopes = &options.scopes;
    let task = match options.task.as_ref().map(LitStr::value).as_deref() {
        Some("optional") => quote!(#p::TaskMode::Optional),
        Some("required") => quote!(#p::TaskMode::Required),
        _ => quote!(#p::TaskMode::Forbidden),
    };
    let (ro, de, id, ow) = (
        option_bool(options.read_only),
        option_bool(options.destructive),
        option_bool(options.idempotent),
        option_bool(options.open_world),
    );

    let (generics, tag_idents, fields) = argument_fields(&arguments);
    let arg_idents: Vec<&Ident> = arguments.iter().map(|a| &a.ident).collect();
    let tags = argument_tags(&params, &p);
    let (holders, body) = call_body(&func, &params, &returns, &p, true);
    let result_tag = returns.tag(&p);
    let result_ty = &returns.ty;
    let output_schema = quote_spanned!(result_ty.span()=> #result_tag.schema());
    let meta = entry_meta(&p, quote!(#name), fn_ident.span());
    let args_unused = if arg_idents.is_empty() {
        quote!(let _ = &__mango_args;)
    } else {
        quote!()
    };

    // `$schema` is left out of tools' schemas (2020-12 is MCP's default dialect);
    // `dialect = "…"` puts it in, for clients or checks that want it said.
    let input_schema = match &options.dialect {
        None => quote!(#p::input_schema_of(__mango_args_type(#(&#tag_idents),*))),
        Some(dialect) => quote!(#p::with_dialect(
            #p::input_schema_of(__mango_args_type(#(&#tag_idents),*)),
            #dialect
        )),
    };
    let generated = quote! {
        #[derive(#p::serde::Deserialize, #p::schemars::JsonSchema)]
        #[serde(crate = #serde_path, deny_unknown_fields)]
        #[schemars(crate = #schemars_path)]
        struct __MangoArgs<#(#generics),*> {
            #(#fields)*
        }

        /// The argument struct of the tags' types (only its type is used).
        fn __mango_args_type<#(#generics: #p::Field),*>(
            #(_: &#generics),*
        ) -> ::std::marker::PhantomData<__MangoArgs<#(<#generics as #p::Field>::Ty),*>> {
            ::std::marker::PhantomData
        }

        fn __mango_input_schema() -> ::std::sync::Arc<#p::JsonObject> {
            #tags
            #input_schema
        }

        fn __mango_output_schema() -> ::std::option::Option<::std::sync::Arc<#p::JsonObject>> {
            #output_schema
        }

        fn __mango_invoke(mut __mango_call: #p::Call) -> #p::BoxFuture<#p::Output> {
            ::std::boxed::Box::pin(async move {
                #tags
                let __mango_args = match #p::read_arguments(
                    &mut __mango_call,
                    __mango_args_type(#(&#tag_idents),*),
                ) {
                    ::std::result::Result::Ok(a) => a,
                    ::std::result::Result::Err(e) => return #p::Output::error(e),
                };
                #args_unused
                #(#holders)*
                #body
            })
        }

        #[#p::linkme::distributed_slice(#p::TOOLS)]
        #[linkme(crate = #p::linkme)]
        static __MANGO_TOOL: #p::ToolEntry = #p::ToolEntry {
            meta: #meta,
            description: #description,
            title: #title,
            annotations: #p::Annotations {
                read_only: #ro,
                destructive: #de,
                idempotent: #id,
                open_world: #ow,
            },
            input_schema: __mango_input_schema,
            output_schema: __mango_output_schema,
            atomic: #atomic,
            scopes: &[#(#scopes),*],
            task: #task,
            call: __mango_invoke,
        };
    };
    Ok(wrap(
        ItemKind::Tool,
        quote!(#func),
        Some((&name, name_span)),
        generated,
    ))
}
