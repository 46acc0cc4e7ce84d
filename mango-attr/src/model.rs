//! `#[model]`: a Diesel model's table served as tools, `<name>_query` (filters, order,
//! pages, a count) and `<name>_get` (one row by its key). The queries are Diesel's query
//! builder, written here field by field with the fields' own types: a client's filter
//! is values bound to a query, never SQL.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{
    Attribute, Fields, GenericArgument, Ident, ItemStruct, LitStr, Path, PathArguments, Type,
};

use crate::util::{
    Errors, default_crate, doc_text, parse_flag_value, parse_options, parse_scopes_value,
    parse_str_value, path_string,
};

#[derive(Default)]
struct Options {
    name: Option<LitStr>,
    scopes: Option<Vec<LitStr>>,
    write_scopes: Option<Vec<LitStr>>,
    scope: Option<Path>,
    clean: Option<Path>,
    scheme: Option<LitStr>,
    create: bool,
    update: bool,
    delete: bool,
    confirm_delete: bool,
    krate: Option<Path>,
}

impl Options {
    fn parse(input: ParseStream) -> syn::Result<Options> {
        const KNOWN: &str = "write, create, update, delete, confirm_delete, clean, scope, name, scheme, scopes, write_scopes, crate";
        let mut o = Options::default();
        o.krate = parse_options(input, "model", KNOWN, |key, input| {
            match key {
                "name" => o.name = Some(parse_str_value(input)?),
                "scheme" => o.scheme = Some(parse_str_value(input)?),
                "scopes" => o.scopes = Some(parse_scopes_value(input)?),
                "write_scopes" => o.write_scopes = Some(parse_scopes_value(input)?),
                "scope" => {
                    input.parse::<syn::Token![=]>()?;
                    o.scope = Some(input.parse()?);
                }
                "clean" => {
                    input.parse::<syn::Token![=]>()?;
                    o.clean = Some(input.parse()?);
                }
                "write" => {
                    let on = parse_flag_value(input)?;
                    o.create |= on;
                    o.update |= on;
                    o.delete |= on;
                }
                "create" => o.create = parse_flag_value(input)?,
                "update" => o.update = parse_flag_value(input)?,
                "delete" => o.delete = parse_flag_value(input)?,
                "confirm_delete" => o.confirm_delete = parse_flag_value(input)?,
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(o)
    }
}

/// One field of the model.
struct Field {
    ident: Ident,
    ty: Type,
    /// The column (`#[diesel(column_name = …)]`, else the field's name).
    column: Ident,
    doc: String,
    hidden: bool,
    key: bool,
    /// Shown, never written by the model's tools (the database sets it).
    read_only: bool,
    /// `Option<T>`: the column may be null; `inner` is `T`.
    nullable: bool,
    inner: Type,
    text: bool,
    /// `#[model(refers_to = Author)]`: the model whose key this field holds.
    refers_to: Option<Path>,
}

/// A field's `#[model(…)]` options.
#[derive(Default)]
struct FieldOptions {
    hidden: bool,
    key: bool,
    read_only: bool,
    refers_to: Option<Path>,
}

pub fn expand(args: TokenStream, input: TokenStream) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let options = errors.ok(Options::parse.parse2(args)).unwrap_or_default();
    let mut item: ItemStruct = match syn::parse2(input) {
        Ok(item) => item,
        Err(e) => {
            return Err(errors.fail(syn::Error::new(
                e.span(),
                "#[model] goes on a Diesel model: a struct with named fields and #[diesel(table_name = …)]",
            )));
        }
    };
    let table = errors.ok(table_name(&item));
    let Fields::Named(named) = &mut item.fields else {
        return Err(errors.fail(syn::Error::new_spanned(
            &item.ident,
            "#[model] goes on a struct with named fields (one per column)",
        )));
    };
    let mut fields = Vec::new();
    for f in &mut named.named {
        let FieldOptions {
            hidden,
            key,
            read_only,
            refers_to,
        } = errors.ok(field_options(&mut f.attrs)).unwrap_or_default();
        let Some(ident) = f.ident.clone() else {
            continue;
        };
        let column = errors
            .ok(column_name(&f.attrs))
            .flatten()
            .unwrap_or_else(|| ident.clone());
        let (nullable, inner) = match option_inner(&f.ty) {
            Some(inner) => (true, inner.clone()),
            None => (false, f.ty.clone()),
        };
        let text = is_string(&inner);
        fields.push(Field {
            ident,
            ty: f.ty.clone(),
            column,
            doc: doc_text(&f.attrs),
            hidden,
            key,
            read_only,
            nullable,
            inner,
            text,
            refers_to,
        });
    }
    let key_index = match fields.iter().filter(|f| f.key).count() {
        0 => fields.iter().position(|f| f.ident == "id"),
        1 => fields.iter().position(|f| f.key),
        _ => {
            errors.push(syn::Error::new_spanned(
                &item.ident,
                "two fields are marked #[model(key)]: a model has one key (its primary key)",
            ));
            None
        }
    };
    if key_index.is_none() && fields.iter().all(|f| !f.key) {
        errors.push(syn::Error::new_spanned(
            &item.ident,
            "the model has no field `id`: mark its primary key's field #[model(key)]",
        ));
    }
    if let Some(k) = key_index.map(|k| &fields[k]) {
        if k.hidden {
            errors.push(syn::Error::new_spanned(
                &k.ident,
                "the key cannot be hidden: clients name rows by it",
            ));
        }
        if k.nullable {
            errors.push(syn::Error::new_spanned(
                &k.ty,
                "the key cannot be an Option: a primary key is never null",
            ));
        }
    }
    for f in fields.iter().filter(|f| f.refers_to.is_some()) {
        let name = f.ident.to_string();
        let Some(base) = name.strip_suffix("_id") else {
            errors.push(syn::Error::new_spanned(
                &f.ident,
                "a field that refers to another model is named `<relation>_id` (`author_id`: filtered as `author`); rename the field and keep its column with #[diesel(column_name = …)]",
            ));
            continue;
        };
        if f.hidden || f.key {
            errors.push(syn::Error::new_spanned(
                &f.ident,
                "`refers_to` is for a field clients filter by: not the key, not a hidden field",
            ));
        }
        if fields.iter().any(|g| g.ident == base) {
            errors.push(syn::Error::new_spanned(
                &f.ident,
                format!("the relation `{base}` (of `{name}`) has the name of another field: rename one of them"),
            ));
        }
    }
    if fields.iter().filter(|f| !f.hidden).count() > 16 {
        errors.push(syn::Error::new_spanned(
            &item.ident,
            "a model shows at most 16 fields: mark the others #[model(hidden)]",
        ));
    }
    if options.update && fields.len() > 16 {
        errors.push(syn::Error::new_spanned(
            &item.ident,
            "an update reads the whole row, and a model that is updated has at most 16 fields",
        ));
    }
    errors.finish()?;
    let (Some(table), Some(key_index)) = (table, key_index) else {
        return Ok(quote!(#item));
    };
    fields[key_index].key = true;

    let krate = options.krate.clone().unwrap_or_else(default_crate);
    let p = quote!(#krate::__private);
    let m = quote!(#p::model);
    let serde_path = format!("{}::__private::serde", path_string(&krate));
    let schemars_path = format!("{}::__private::schemars", path_string(&krate));
    let table_ident = table
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    let name = options
        .name
        .as_ref()
        .map_or_else(|| snake_case(&item.ident.to_string()), LitStr::value);
    let scopes: Vec<String> = match &options.scopes {
        Some(scopes) => scopes.iter().map(LitStr::value).collect(),
        None => vec![format!("{table_ident}:read")],
    };
    let what = item.ident.to_string();
    let row_doc = doc_text(&item.attrs);
    let key = &fields[key_index];
    let key_ident = &key.ident;
    let key_ty = &key.ty;
    let key_column = &key.column;
    let key_name = key.ident.to_string();

    let visible: Vec<&Field> = fields.iter().filter(|f| !f.hidden).collect();
    // The key's place among the selected columns.
    let key_at = syn::Index::from(
        visible
            .iter()
            .position(|f| f.ident == key.ident)
            .unwrap_or_default(),
    );

    // The filter: one optional set of conditions per visible field.
    let filter_fields = visible.iter().map(|f| {
        let (ident, inner, doc) = (&f.ident, &f.inner, &f.doc);
        let ty = if f.text {
            quote!(#m::Text)
        } else {
            quote!(#m::Compare<#inner>)
        };
        quote! {
            #[doc = #doc]
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #ident: ::std::option::Option<#ty>,
        }
    });
    let relations: Vec<(&Field, Ident, &Path)> = visible
        .iter()
        .filter_map(|f| {
            let model = f.refers_to.as_ref()?;
            let base = f.ident.to_string();
            let base = base.strip_suffix("_id")?;
            Some((*f, format_ident!("{}", base, span = f.ident.span()), model))
        })
        .collect();
    let relation_fields = relations.iter().map(|(f, base, model)| {
        let doc = format!(
            "Conditions on the {} that `{}` refers to (its query's filter): the rows whose {} matches.",
            path_string(model),
            f.ident,
            path_string(model)
        );
        quote! {
            #[doc = #doc]
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #base: ::std::option::Option<<#model as #m::Related>::Filter>,
        }
    });
    let filter_fields = quote!(#(#filter_fields)* #(#relation_fields)*);
    let apply_relations = relations.iter().map(|(f, base, model)| {
        let column = &f.column;
        let col = if f.nullable {
            quote!(#table::#column.assume_not_null())
        } else {
            quote!(#table::#column)
        };
        quote_spanned! {model.span()=>
            if let ::std::option::Option::Some(r) = &f.#base {
                q = q.filter(#col.eq_any(<#model as #m::Related>::keys(r, ctx)?));
            }
        }
    });
    let apply_filters = visible.iter().map(|f| {
        let ident = &f.ident;
        let field = ident.to_string();
        let column = &f.column;
        let col = quote!(#table::#column);
        let null = if f.nullable {
            quote! {
                match c.is_null {
                    ::std::option::Option::Some(true) => q = q.filter(#col.is_null()),
                    ::std::option::Option::Some(false) => q = q.filter(#col.is_not_null()),
                    ::std::option::Option::None => {}
                }
            }
        } else {
            quote!(#m::never_null(#field, c.is_null)?;)
        };
        let specific = if f.text {
            quote! {
                if let ::std::option::Option::Some(v) = &c.contains {
                    q = q.filter(#m::position(#col, ::std::clone::Clone::clone(v)).gt(0));
                }
                if let ::std::option::Option::Some(v) = &c.icontains {
                    q = q.filter(
                        #m::lower(#col)
                            .like(#m::contains_pattern(&v.to_lowercase()))
                            .escape('\\'),
                    );
                }
                if let ::std::option::Option::Some(v) = &c.starts_with {
                    q = q.filter(#m::position(#col, ::std::clone::Clone::clone(v)).eq(1));
                }
            }
        } else {
            quote! {
                if let ::std::option::Option::Some(v) = &c.lt {
                    q = q.filter(#col.lt(::std::clone::Clone::clone(v)));
                }
                if let ::std::option::Option::Some(v) = &c.lte {
                    q = q.filter(#col.le(::std::clone::Clone::clone(v)));
                }
                if let ::std::option::Option::Some(v) = &c.gt {
                    q = q.filter(#col.gt(::std::clone::Clone::clone(v)));
                }
                if let ::std::option::Option::Some(v) = &c.gte {
                    q = q.filter(#col.ge(::std::clone::Clone::clone(v)));
                }
            }
        };
        quote! {
            if let ::std::option::Option::Some(c) = &f.#ident {
                if let ::std::option::Option::Some(v) = &c.eq {
                    q = q.filter(#col.eq(::std::clone::Clone::clone(v)));
                }
                if let ::std::option::Option::Some(v) = &c.ne {
                    q = q.filter(#col.ne(::std::clone::Clone::clone(v)));
                }
                if let ::std::option::Option::Some(v) = &c.any {
                    #m::check_in(#field, v)?;
                    q = q.filter(#col.eq_any(::std::clone::Clone::clone(v)));
                }
                #specific
                #null
            }
        }
    });

    // The orders: ascending and descending on each visible field that is never null,
    // the key breaking ties; a cursor is the last row's value of the field and its key.
    let orderable: Vec<(usize, &&Field)> = visible
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.nullable)
        .collect();
    let mut order_variants = Vec::new();
    let mut order_arms = Vec::new();
    let mut cursor_arms = Vec::new();
    let mut default_order = None;
    for (at, f) in &orderable {
        let field = f.ident.to_string();
        let column = &f.column;
        let col = quote!(#table::#column);
        let ty = &f.ty;
        let at = syn::Index::from(*at);
        for descending in [false, true] {
            let variant = format_ident!("{}{}", if descending { "Desc_" } else { "Asc_" }, f.ident);
            let token = if descending {
                format!("-{field}")
            } else {
                field.clone()
            };
            let doc = if descending {
                format!("`{field}`, largest first")
            } else {
                format!("`{field}`, smallest first")
            };
            let query = format!("{name}:{token}");
            order_variants.push(quote! {
                #[doc = #doc]
                #[serde(rename = #token)]
                #variant,
            });
            if f.key && !descending {
                default_order = Some(variant.clone());
            }
            let (after, dir) = if descending {
                (quote!(lt), quote!(desc))
            } else {
                (quote!(gt), quote!(asc))
            };
            let (resume, sort) = if f.key {
                (
                    quote! {
                        let (_, k): (#key_ty, #key_ty) = #m::open_cursor(ctx, c, #query, &filter)?;
                        q = q.filter(#col.#after(k));
                    },
                    quote!(q = q.order(#col.#dir());),
                )
            } else {
                (
                    quote! {
                        let (v, k): (#ty, #key_ty) = #m::open_cursor(ctx, c, #query, &filter)?;
                        q = q.filter(
                            #col.#after(::std::clone::Clone::clone(&v))
                                .or(#col.eq(v).and(#table::#key_column.#after(k))),
                        );
                    },
                    quote!(q = q.order((#col.#dir(), #table::#key_column.#dir()));),
                )
            };
            order_arms.push(quote! {
                __MangoOrder::#variant => {
                    if let ::std::option::Option::Some(c) = &cursor {
                        #resume
                    }
                    #sort
                }
            });
            cursor_arms.push(quote! {
                __MangoOrder::#variant => #m::seal_cursor(ctx, #query, &filter, &last.#at, &last.#key_at),
            });
        }
    }
    let Some(default_order) = default_order else {
        return Err(syn::Error::new_spanned(
            &item.ident,
            "the model's key is not among its orders (a bug of #[model]: please report it)",
        ));
    };

    let columns = visible.iter().map(|f| {
        let column = &f.column;
        quote!(#table::#column)
    });
    let columns = quote!((#(#columns,)*));
    let row_types = visible.iter().map(|f| &f.ty);
    let row_types = quote!((#(#row_types,)*));
    let row_fields = visible.iter().map(|f| {
        let (ident, ty, doc) = (&f.ident, &f.ty, &f.doc);
        quote! {
            #[doc = #doc]
            #ident: #ty,
        }
    });
    let row_idents: Vec<&Ident> = visible.iter().map(|f| &f.ident).collect();
    let row_indexes = (0..visible.len()).map(syn::Index::from);
    let row_of = quote! {
        |r: #row_types| __MangoRow { #(#row_idents: r.#row_indexes,)* }
    };

    let order_names: Vec<String> = orderable.iter().map(|(_, f)| f.ident.to_string()).collect();
    let query_name = format!("{name}_query");
    let get_name = format!("{name}_get");
    let query_description = format!(
        "Find {what} rows (the table `{table_ident}`): `filter` by field (all conditions hold), `order` by {}, `limit`, then `cursor` = the `next_cursor` of the page before for the next rows; `count` adds the total. A row: {}",
        order_names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if row_doc.is_empty() {
            what.clone()
        } else {
            row_doc.clone()
        }
    );
    let get_description = format!("One {what} (the table `{table_ident}`), by its `{key_name}`.");
    let key_doc = format!("The {what}'s `{key_name}`.");
    let scopes = scopes.iter();
    let scopes = quote!([#(#scopes),*]);
    let filter_doc = format!("Conditions on the {what} rows' fields; every one given must hold.");
    let order_doc =
        format!("The order (a field, `-field` for largest first; default `{key_name}`).");
    // The scope hook narrows every query to the caller's rows.
    let scoped = match &options.scope {
        Some(hook) => quote_spanned! {hook.span()=>
            let q = q.filter(#hook(ctx));
        },
        None => quote!(),
    };
    let strukt = &item.ident;
    let aggregate = aggregate(&Aggregate {
        krate: &krate,
        table: &table,
        table_ident: &table_ident,
        name: &name,
        what: &what,
        visible: &visible,
        scopes: &scopes,
    });
    let writes = writes(&Writes {
        options: &options,
        krate: &krate,
        table: &table,
        table_ident: &table_ident,
        name: &name,
        what: &what,
        strukt: &item.ident,
        fields: &fields,
        key,
        key_at: &key_at,
        columns: &columns,
        row_types: &row_types,
        row_of: &row_of,
    });
    // The resource template `<scheme>://<table>/{key}` (the scheme: the app's package
    // name, `_` made `-`), whose key the client completes from the table.
    let scheme = options.scheme.as_ref().map_or_else(
        || {
            std::env::var("CARGO_PKG_NAME")
                .unwrap_or_else(|_| "model".to_owned())
                .replace('_', "-")
        },
        LitStr::value,
    );
    let uri = format!("{scheme}://{table_ident}/{{{key_name}}}");
    let resource_description = format!("One {what} (a row of the table `{table_ident}`), as JSON.");
    // Each field's type against its column's, at the field: "`String`: FromSqlRow<
    // Integer, …>` is not satisfied" points at the field that does not match.
    let field_checks = fields.iter().map(|f| {
        let (ty, column) = (&f.ty, &f.column);
        // Every token at the field's type: rustc reports the bound there (tokens of
        // several origins would put it at the attribute).
        respan(
            quote! {
                #ty: #krate::diesel::deserialize::FromSqlRow<#krate::diesel::dsl::SqlTypeOf<#table::#column>, #m::Backend>,
            },
            ty.span(),
        )
    });
    let field_checks = quote! {
        /// The model's fields hold what their columns hold.
        fn __mango_check_fields()
        where
            #(#field_checks)*
        {
        }
    };
    let entry_fields = visible.iter().map(|f| {
        let field = f.ident.to_string();
        let doc = &f.doc;
        let kind = kind_of(f);
        let nullable = f.nullable;
        let writable = !f.key && !f.read_only;
        let orderable = !f.nullable;
        let is_key = f.key;
        quote! {
            #p::ModelField {
                name: #field,
                description: #doc,
                kind: #m::Kind::#kind,
                nullable: #nullable,
                writable: #writable,
                orderable: #orderable,
                key: #is_key,
            }
        }
    });
    let meta = crate::item::entry_meta(&p, quote!(#name), item.ident.span());
    let (create, update, delete) = (options.create, options.update, options.delete);
    let entry = quote! {
        #[#p::linkme::distributed_slice(#p::MODELS)]
        #[linkme(crate = #p::linkme)]
        static __MANGO_MODEL: #p::ModelEntry = #p::ModelEntry {
            meta: #meta,
            what: #what,
            description: #row_doc,
            table: #table_ident,
            key: #key_name,
            fields: &[#(#entry_fields),*],
            create: #create,
            update: #update,
            delete: #delete,
            uri: #uri,
        };
    };
    let fn_keys = format_ident!("__mango_model_{}_keys", table_ident);
    let fn_resource = format_ident!("__mango_model_{}_resource", table_ident);
    let fn_query = format_ident!(
        "__mango_model_{}_query",
        table_ident,
        span = Span::call_site()
    );
    let fn_get = format_ident!(
        "__mango_model_{}_get",
        table_ident,
        span = Span::call_site()
    );
    Ok(quote! {
        #item

        #[doc(hidden)]
        #[allow(non_camel_case_types, non_snake_case, clippy::all, clippy::pedantic)]
        const _: () = {
            use #m::{
                BoolExpressionMethods as _, EscapeExpressionMethods as _, ExpressionMethods as _,
                NullableExpressionMethods as _, OptionalExtension as _,
                QueryDsl as _, RunQueryDsl as _, TextExpressionMethods as _,
            };

            #[doc = #filter_doc]
            #[derive(::std::default::Default, #p::serde::Deserialize, #p::serde::Serialize, #p::schemars::JsonSchema)]
            #[serde(crate = #serde_path, deny_unknown_fields)]
            #[schemars(crate = #schemars_path, inline)]
            pub struct __MangoFilter {
                #filter_fields
            }

            #[doc = #order_doc]
            #[derive(::std::clone::Clone, ::std::marker::Copy, #p::serde::Deserialize, #p::schemars::JsonSchema)]
            #[serde(crate = #serde_path)]
            #[schemars(crate = #schemars_path, inline)]
            enum __MangoOrder {
                #(#order_variants)*
            }

            #[doc = #row_doc]
            #[derive(#p::serde::Serialize, #p::schemars::JsonSchema)]
            #[serde(crate = #serde_path)]
            #[schemars(crate = #schemars_path, rename = #what)]
            struct __MangoRow {
                #(#row_fields)*
            }

            /// `q` narrowed to the rows the caller may see: all of them, or those the
            /// model's scope hook lets through.
            fn __mango_scope<ST, GB>(
                q: #m::Rows<#table::table, ST, GB>,
                ctx: &#krate::Context,
            ) -> #m::Rows<#table::table, ST, GB> {
                let _ = ctx;
                #scoped
                q
            }

            /// The table's rows the caller may see.
            fn __mango_rows(ctx: &#krate::Context) -> #table::BoxedQuery<'static, #m::Backend> {
                __mango_scope(#table::table.into_boxed::<#m::Backend>(), ctx)
            }

            /// `q` narrowed to the rows `f` lets through.
            fn __mango_narrow<ST, GB>(
                mut q: #m::Rows<#table::table, ST, GB>,
                f: &__MangoFilter,
                ctx: &#krate::Context,
            ) -> ::std::result::Result<#m::Rows<#table::table, ST, GB>, #m::QueryError> {
                let _ = ctx;
                #(#apply_filters)*
                #(#apply_relations)*
                ::std::result::Result::Ok(q)
            }

            /// The caller's rows that `f` lets through.
            fn __mango_filtered(
                f: &__MangoFilter,
                ctx: &#krate::Context,
            ) -> ::std::result::Result<#table::BoxedQuery<'static, #m::Backend>, #m::QueryError> {
                __mango_narrow(__mango_rows(ctx), f, ctx)
            }

            impl #m::Related for #strukt {
                type Filter = __MangoFilter;
                type Keys = #m::Rows<#table::table, #krate::diesel::dsl::SqlTypeOf<#table::#key_column>>;

                fn keys(
                    f: &__MangoFilter,
                    ctx: &#krate::Context,
                ) -> ::std::result::Result<Self::Keys, #m::QueryError> {
                    ::std::result::Result::Ok(__mango_filtered(f, ctx)?.select(#table::#key_column))
                }
            }

            #aggregate

            #[#krate::tool(crate = #krate, name = #query_name, read_only, scopes = #scopes, description = #query_description)]
            async fn #fn_query(
                #[doc = #filter_doc]
                #[serde(default)]
                filter: __MangoFilter,
                #[doc = #order_doc]
                #[serde(default)]
                order: ::std::option::Option<__MangoOrder>,
                /// How many rows (by default `[models] default_limit`, at most `[models] max_limit`).
                #[serde(default)]
                limit: ::std::option::Option<u32>,
                /// The `next_cursor` of the page before, for the rows after it.
                #[serde(default)]
                cursor: ::std::option::Option<::std::string::String>,
                /// Also count every row that matches (`total`).
                #[serde(default)]
                count: bool,
                db: &mut #krate::db::Db,
                ctx: &#krate::Context,
            ) -> ::std::result::Result<#krate::Json<#m::Page<__MangoRow>>, #krate::ToolError> {
                let limit = #m::limit(ctx, limit)?;
                let order = order.unwrap_or(__MangoOrder::#default_order);
                let total = if count {
                    ::std::option::Option::Some(
                        __mango_filtered(&filter, ctx)?.count().get_result::<i64>(db).await?,
                    )
                } else {
                    ::std::option::Option::None
                };
                let mut q = __mango_filtered(&filter, ctx)?;
                match order {
                    #(#order_arms)*
                }
                let mut rows: ::std::vec::Vec<#row_types> =
                    q.select(#columns).limit(limit + 1).load(db).await?;
                let more = rows.len() as i64 > limit;
                rows.truncate(limit as usize);
                let next_cursor = match rows.last() {
                    ::std::option::Option::Some(last) if more => ::std::option::Option::Some(match order {
                        #(#cursor_arms)*
                    }),
                    _ => ::std::option::Option::None,
                };
                ::std::result::Result::Ok(#krate::Json(#m::Page {
                    rows: rows.into_iter().map(#row_of).collect(),
                    next_cursor,
                    total,
                }))
            }

            #[#krate::tool(crate = #krate, name = #get_name, read_only, scopes = #scopes, description = #get_description)]
            async fn #fn_get(
                #[doc = #key_doc]
                #key_ident: #key_ty,
                db: &mut #krate::db::Db,
                ctx: &#krate::Context,
            ) -> ::std::result::Result<#krate::Json<__MangoRow>, #krate::ToolError> {
                __mango_one(&#key_ident, db, ctx).await.map(#krate::Json)
            }

            /// The row of `key`, within the caller's scope: a row outside it is not
            /// found, as one that is not there.
            async fn __mango_one(
                #key_ident: &#key_ty,
                db: &mut #krate::db::Db,
                ctx: &#krate::Context,
            ) -> ::std::result::Result<__MangoRow, #krate::ToolError> {
                let q = __mango_rows(ctx);
                let row: ::std::option::Option<#row_types> = q
                    .filter(#table::#key_column.eq(::std::clone::Clone::clone(#key_ident)))
                    .select(#columns)
                    .first(db)
                    .await
                    .optional()?;
                match row {
                    ::std::option::Option::Some(r) => ::std::result::Result::Ok((#row_of)(r)),
                    ::std::option::Option::None => ::std::result::Result::Err(
                        #m::not_found(#what, #key_name, #key_ident).into(),
                    ),
                }
            }

            #[#krate::completion(crate = #krate)]
            async fn #fn_keys(
                value: ::std::string::String,
                __mango_db: &mut #krate::db::Db,
                __mango_ctx: &#krate::Context,
            ) -> ::std::result::Result<::std::vec::Vec<::std::string::String>, #krate::ToolError> {
                let ctx = __mango_ctx;
                let q = __mango_rows(ctx);
                // The keys that start with what was typed, matched by the database
                // (LIKE: case-insensitive on SQLite), checked again here.
                let keys: ::std::vec::Vec<#key_ty> = q
                    .filter(
                        #m::AsText(#table::#key_column)
                            .like(#m::prefix_pattern(&value))
                            .escape('\\'),
                    )
                    .select(#table::#key_column)
                    .order(#table::#key_column.asc())
                    .limit(100)
                    .load(__mango_db)
                    .await?;
                ::std::result::Result::Ok(
                    keys.iter()
                        .map(#m::key_text)
                        .filter(|k| k.starts_with(&value))
                        .collect(),
                )
            }

            #[#krate::resource(#uri, crate = #krate, name = #table_ident, description = #resource_description, scopes = #scopes, mime_type = "application/json", complete(#key_ident = #fn_keys))]
            async fn #fn_resource(
                #[doc = #key_doc]
                #key_ident: #key_ty,
                __mango_db: &mut #krate::db::Db,
                __mango_ctx: &#krate::Context,
            ) -> ::std::result::Result<#krate::Json<__MangoRow>, #krate::ToolError> {
                __mango_one(&#key_ident, __mango_db, __mango_ctx).await.map(#krate::Json)
            }

            #writes

            #field_checks

            #entry
        };
    })
}

/// What the aggregate tool is made of.
struct Aggregate<'a> {
    krate: &'a Path,
    table: &'a Path,
    table_ident: &'a str,
    name: &'a str,
    what: &'a str,
    visible: &'a [&'a Field],
    scopes: &'a TokenStream,
}

/// `<name>_aggregate`: `count`, `sum`, `avg`, `min` and `max` of the rows a filter lets
/// through, in all or per value of a field (Django's `aggregate` and
/// `values(…).annotate(…)`). One query: `SELECT <group>, json_array(<aggregates>) …
/// GROUP BY <group>`, the functions and columns chosen from the model's fields.
fn aggregate(a: &Aggregate) -> TokenStream {
    let Aggregate {
        krate,
        table,
        table_ident,
        name,
        what,
        visible,
        scopes,
    } = *a;
    let m = quote!(#krate::__private::model);
    let p = quote!(#krate::__private);
    let serde_path = format!("{}::__private::serde", path_string(krate));
    let schemars_path = format!("{}::__private::schemars", path_string(krate));
    let variants = visible.iter().map(|f| {
        let (ident, doc) = (&f.ident, &f.doc);
        let token = ident.to_string();
        quote! {
            #[doc = #doc]
            #[serde(rename = #token)]
            #ident,
        }
    });
    let field_arms = visible.iter().map(|f| {
        let (ident, column) = (&f.ident, &f.column);
        let token = ident.to_string();
        let kind = kind_of(f);
        quote! {
            __MangoField::#ident => #m::Field {
                name: #token,
                kind: #m::Kind::#kind,
                column: ::std::boxed::Box::new(#table::#column),
            },
        }
    });
    let group_arms = visible.iter().map(|f| {
        let (ident, column, ty) = (&f.ident, &f.column, &f.ty);
        let token = ident.to_string();
        let col = quote!(#table::#column);
        quote! {
            ::std::option::Option::Some(__MangoField::#ident) => {
                let q = #table::table
                    .group_by(#col)
                    .select((#col, sql))
                    .order(#col.asc())
                    .limit(limit + 1)
                    .into_boxed::<#m::Backend>();
                let found: ::std::vec::Vec<(#ty, ::std::string::String)> =
                    __mango_narrow(__mango_scope(q, ctx), &filter, ctx)?.load(db).await?;
                more = found.len() as i64 > limit;
                for (group, values) in found.into_iter().take(limit as usize) {
                    let group = #p::serde_json::to_value(&group).unwrap_or_default();
                    rows.push(#m::group_row(&names, ::std::option::Option::Some((#token, group)), &values)?);
                }
            }
        }
    });
    let tool_name = format!("{name}_aggregate");
    let description = format!(
        "Count and sum {what} rows (the table `{table_ident}`): `aggregate` lists what to compute (`{{\"fn\": \"sum\", \"field\": …}}`; `count`, `sum`, `avg`, `min`, `max`; by default the count of rows) over the rows `filter` lets through, in all or per value of `group_by`. Each result row has the group's field, then `count` or `<fn>_<field>` (`sum_score`)."
    );
    let fn_name = format_ident!("__mango_model_{}_aggregate", table_ident);
    let group_doc =
        format!("The {what} field whose values make the groups (none: all rows at once).");
    quote! {
        /// A field of the model, as `group_by` and an aggregate name it.
        #[derive(::std::clone::Clone, ::std::marker::Copy, #p::serde::Deserialize, #p::serde::Serialize, #p::schemars::JsonSchema)]
        #[serde(crate = #serde_path)]
        #[schemars(crate = #schemars_path, inline)]
        enum __MangoField {
            #(#variants)*
        }

        impl __MangoField {
            fn field(self) -> #m::Field {
                match self {
                    #(#field_arms)*
                }
            }
        }

        #[#krate::tool(crate = #krate, name = #tool_name, read_only, scopes = #scopes, description = #description)]
        async fn #fn_name(
            /// The rows to aggregate (as the query tool's `filter`).
            #[serde(default)]
            filter: __MangoFilter,
            #[doc = #group_doc]
            #[serde(default)]
            group_by: ::std::option::Option<__MangoField>,
            /// What to compute (at most 16; by default `[{"fn": "count"}]`).
            #[serde(default)]
            aggregate: ::std::vec::Vec<#m::Aggregate<__MangoField>>,
            /// How many groups (by default `[models] default_limit`, at most `[models] max_limit`).
            #[serde(default)]
            limit: ::std::option::Option<u32>,
            db: &mut #krate::db::Db,
            ctx: &#krate::Context,
        ) -> ::std::result::Result<#krate::Json<#m::Groups>, #krate::ToolError> {
            let limit = #m::limit(ctx, limit)?;
            let (names, sql) = #m::aggregates(
                aggregate.iter().map(|a| (a.func, a.field.map(__MangoField::field))).collect(),
            )?;
            let mut rows = ::std::vec::Vec::new();
            let mut more = false;
            match group_by {
                ::std::option::Option::None => {
                    let q = #table::table.select(sql).into_boxed::<#m::Backend>();
                    let values: ::std::string::String =
                        __mango_narrow(__mango_scope(q, ctx), &filter, ctx)?.get_result(db).await?;
                    rows.push(#m::group_row(&names, ::std::option::Option::None, &values)?);
                }
                #(#group_arms)*
            }
            ::std::result::Result::Ok(#krate::Json(#m::Groups { rows, more }))
        }
    }
}

/// What the write tools are made of.
struct Writes<'a> {
    options: &'a Options,
    krate: &'a Path,
    table: &'a Path,
    table_ident: &'a str,
    name: &'a str,
    what: &'a str,
    strukt: &'a Ident,
    fields: &'a [Field],
    key: &'a Field,
    key_at: &'a syn::Index,
    columns: &'a TokenStream,
    row_types: &'a TokenStream,
    row_of: &'a TokenStream,
}

/// `<name>_create`, `<name>_update` and `<name>_delete`, as the options ask. Each runs in
/// the call's transaction: the app's `clean` hook sees the whole row (Django's
/// `Model.clean`) and may refuse it or change it, the database's constraints come back
/// as errors naming the field, and a row that would leave the caller's scope is refused
/// (nothing is written).
fn writes(w: &Writes) -> TokenStream {
    let Writes {
        options,
        krate,
        table,
        table_ident,
        name,
        what,
        strukt,
        fields,
        key,
        key_at,
        columns,
        row_types,
        row_of,
    } = *w;
    let p = quote!(#krate::__private);
    let m = quote!(#p::model);
    let scopes: Vec<String> = match &options.write_scopes {
        Some(scopes) => scopes.iter().map(LitStr::value).collect(),
        None => vec![format!("{table_ident}:write")],
    };
    let scopes = quote!([#(#scopes),*]);
    let (key_ident, key_ty, key_column) = (&key.ident, &key.ty, &key.column);
    let key_name = key_ident.to_string();
    let key_doc = format!("The {what}'s `{key_name}`.");
    let writable: Vec<&Field> = fields
        .iter()
        .filter(|f| !f.hidden && !f.key && !f.read_only)
        .collect();
    // What is written: every field but the key and those the database sets (a hidden
    // field holds what `clean` gave it).
    let stored: Vec<&Field> = fields.iter().filter(|f| !f.key && !f.read_only).collect();
    let all_idents: Vec<&Ident> = fields.iter().map(|f| &f.ident).collect();
    // `let Note { id: _, text, … } = row;`: the stored fields bound, the others not.
    let unpack_fields = fields.iter().map(|f| {
        let ident = &f.ident;
        if f.key || f.read_only {
            quote!(#ident: _)
        } else {
            quote!(#ident)
        }
    });
    let unpack = quote!(let #strukt { #(#unpack_fields,)* } = __mango_row;);
    let assignments = stored.iter().map(|f| {
        let (ident, column) = (&f.ident, &f.column);
        quote!(#table::#column.eq(#ident))
    });
    let assignments = quote!((#(#assignments,)*));
    let clean = match &options.clean {
        Some(hook) => quote_spanned! {hook.span()=>
            #hook(&mut __mango_row, ctx)?;
        },
        None => quote!(),
    };
    let inside = match &options.scope {
        Some(hook) => quote_spanned! {hook.span()=>
            let __mango_inside: i64 = __mango_rows(ctx)
                .filter(#table::#key_column.eq(::std::clone::Clone::clone(&r.#key_at)))
                .count()
                .get_result(__mango_db)
                .await?;
            if __mango_inside == 0 {
                return ::std::result::Result::Err(#m::WriteError::OutsideScope { what: #what }.into());
            }
        },
        None => quote!(),
    };
    let writes_error = quote!(|e| #m::write_error(e, #what));
    let mut out = TokenStream::new();

    if options.create {
        let params = writable.iter().map(|f| {
            let (ident, ty, doc) = (&f.ident, &f.ty, &f.doc);
            quote! {
                #[doc = #doc]
                #ident: #ty,
            }
        });
        let fill = fields.iter().map(|f| {
            let ident = &f.ident;
            if writable.iter().any(|w| w.ident == f.ident) {
                quote!(#ident)
            } else {
                quote!(#ident: ::std::default::Default::default())
            }
        });
        let insert = if stored.is_empty() {
            quote!(#krate::diesel::insert_into(#table::table).default_values())
        } else {
            quote!(#krate::diesel::insert_into(#table::table).values(#assignments))
        };
        let tool_name = format!("{name}_create");
        let description =
            format!("Add a {what} (a row of the table `{table_ident}`); returns it as stored.");
        let fn_name = format_ident!("__mango_model_{}_create", table_ident);
        out.extend(quote! {
            #[#krate::tool(crate = #krate, name = #tool_name, scopes = #scopes, description = #description)]
            async fn #fn_name(
                #(#params)*
                __mango_db: &mut #krate::db::Db,
                __mango_ctx: &#krate::Context,
            ) -> ::std::result::Result<#krate::Json<__MangoRow>, #krate::ToolError> {
                let ctx = __mango_ctx;
                let _ = ctx;
                let mut __mango_row = #strukt { #(#fill,)* };
                #clean
                #unpack
                let r: #row_types = #insert
                    .returning(#columns)
                    .get_result(__mango_db)
                    .await
                    .map_err(#writes_error)?;
                #inside
                ::std::result::Result::Ok(#krate::Json((#row_of)(r)))
            }
        });
    }

    if options.update && !stored.is_empty() {
        let params = writable.iter().map(|f| {
            let (ident, ty, doc) = (&f.ident, &f.ty, &f.doc);
            if f.nullable {
                let doc = format!("{doc} (left as it is when absent; null clears it)");
                let with = format!("{}::__private::model::double_option", path_string(krate));
                quote! {
                    #[doc = #doc]
                    #[serde(default, deserialize_with = #with)]
                    #ident: ::std::option::Option<#ty>,
                }
            } else {
                let doc = format!("{doc} (left as it is when absent)");
                quote! {
                    #[doc = #doc]
                    #ident: ::std::option::Option<#ty>,
                }
            }
        });
        let changes = writable.iter().map(|f| {
            let ident = &f.ident;
            quote! {
                if let ::std::option::Option::Some(v) = #ident {
                    __mango_row.#ident = v;
                }
            }
        });
        let all_columns = fields.iter().map(|f| {
            let column = &f.column;
            quote!(#table::#column)
        });
        let all_types = fields.iter().map(|f| &f.ty);
        let all_at = (0..fields.len()).map(syn::Index::from);
        let tool_name = format!("{name}_update");
        let description = format!(
            "Change a {what} (a row of the table `{table_ident}`), by its `{key_name}`: the fields given are set, the others kept; returns it as stored."
        );
        let fn_name = format_ident!("__mango_model_{}_update", table_ident);
        out.extend(quote! {
            #[#krate::tool(crate = #krate, name = #tool_name, idempotent, scopes = #scopes, description = #description)]
            async fn #fn_name(
                #[doc = #key_doc]
                #key_ident: #key_ty,
                #(#params)*
                __mango_db: &mut #krate::db::Db,
                __mango_ctx: &#krate::Context,
            ) -> ::std::result::Result<#krate::Json<__MangoRow>, #krate::ToolError> {
                let ctx = __mango_ctx;
                let q = __mango_rows(ctx);
                let __mango_found: ::std::option::Option<(#(#all_types,)*)> = q
                    .filter(#table::#key_column.eq(::std::clone::Clone::clone(&#key_ident)))
                    .select((#(#all_columns,)*))
                    .first(__mango_db)
                    .await
                    .optional()?;
                let ::std::option::Option::Some(__mango_found) = __mango_found else {
                    return ::std::result::Result::Err(#m::not_found(#what, #key_name, &#key_ident).into());
                };
                let mut __mango_row = #strukt { #(#all_idents: __mango_found.#all_at,)* };
                #(#changes)*
                #clean
                #unpack
                let r: #row_types = #krate::diesel::update(
                    #table::table.filter(#table::#key_column.eq(::std::clone::Clone::clone(&#key_ident))),
                )
                .set(#assignments)
                .returning(#columns)
                .get_result(__mango_db)
                .await
                .map_err(#writes_error)?;
                #inside
                ::std::result::Result::Ok(#krate::Json((#row_of)(r)))
            }
        });
    }

    if options.delete {
        let confirm = if options.confirm_delete {
            quote! {
                let __mango_question = ::std::format!(
                    "Delete the {} with {} {}? It cannot be undone.",
                    #what,
                    #key_name,
                    #p::serde_json::to_string(&#key_ident).unwrap_or_default(),
                );
                match ctx.elicit::<#m::Confirm>(__mango_question).await? {
                    #krate::Answer::Accept(_) => {}
                    _ => return ::std::result::Result::Err(#m::WriteError::NotConfirmed { what: #what }.into()),
                }
            }
        } else {
            quote!()
        };
        let tool_name = format!("{name}_delete");
        let description = format!(
            "Delete a {what} (a row of the table `{table_ident}`), by its `{key_name}`; returns the row that was deleted."
        );
        let fn_name = format_ident!("__mango_model_{}_delete", table_ident);
        out.extend(quote! {
            #[#krate::tool(crate = #krate, name = #tool_name, destructive, idempotent, scopes = #scopes, description = #description)]
            async fn #fn_name(
                #[doc = #key_doc]
                #key_ident: #key_ty,
                __mango_db: &mut #krate::db::Db,
                __mango_ctx: &#krate::Context,
            ) -> ::std::result::Result<#krate::Json<__MangoRow>, #krate::ToolError> {
                let ctx = __mango_ctx;
                let found = __mango_one(&#key_ident, __mango_db, ctx).await?;
                #confirm
                #krate::diesel::delete(
                    #table::table.filter(#table::#key_column.eq(::std::clone::Clone::clone(&#key_ident))),
                )
                .execute(__mango_db)
                .await
                .map_err(|e| #m::delete_error(e, #what))?;
                ::std::result::Result::Ok(#krate::Json(found))
            }
        });
    }
    out
}

/// `tokens`, every one of them at `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let proc_macro2::TokenTree::Group(group) = &token {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = proc_macro2::TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

/// On an error, the struct as written (less its `#[model(…)]` attributes) with the
/// errors: its other uses report nothing more.
pub fn kept(input: TokenStream, error: syn::Error) -> TokenStream {
    let error = error.into_compile_error();
    match syn::parse2::<ItemStruct>(input) {
        Ok(mut item) => {
            if let Fields::Named(named) = &mut item.fields {
                for f in &mut named.named {
                    strip_model_attributes(&mut f.attrs);
                }
            }
            quote!(#item #error)
        }
        Err(_) => error,
    }
}

/// The `table_name` of `#[diesel(table_name = …)]`.
fn table_name(item: &ItemStruct) -> syn::Result<Path> {
    diesel_option::<Path>(&item.attrs, "table_name")?.ok_or_else(|| {
        syn::Error::new_spanned(
            &item.ident,
            "#[model] needs the model's table: add #[diesel(table_name = <the table! module>)] (as for Selectable)",
        )
    })
}

/// The `column_name` of a field's `#[diesel(column_name = …)]`.
fn column_name(attrs: &[Attribute]) -> syn::Result<Option<Ident>> {
    diesel_option(attrs, "column_name")
}

/// The value of `key` in `#[diesel(…, key = value, …)]`, if given.
fn diesel_option<T: syn::parse::Parse>(attrs: &[Attribute], key: &str) -> syn::Result<Option<T>> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("diesel")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident(key) {
                found = Some(meta.value()?.parse::<T>()?);
            } else {
                skip_option(&meta)?;
            }
            Ok(())
        })?;
    }
    Ok(found)
}

/// `#[model(hidden)]`, `#[model(key)]`, `#[model(read_only)]`, `#[model(refers_to =
/// Model)]`, the attributes taken out.
fn field_options(attrs: &mut Vec<Attribute>) -> syn::Result<FieldOptions> {
    let mut o = FieldOptions::default();
    let mut errors = Errors::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("model")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("hidden") {
                o.hidden = true;
            } else if meta.path.is_ident("key") {
                o.key = true;
            } else if meta.path.is_ident("read_only") {
                o.read_only = true;
            } else if meta.path.is_ident("refers_to") {
                o.refers_to = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error(
                    "unknown #[model] field option; expected `hidden` (not shown, not filtered), `key` (the primary key), `read_only` (shown, set by the database) or `refers_to = Model` (the key of another #[model])",
                ));
            }
            Ok(())
        });
        errors.ok(parsed);
    }
    strip_model_attributes(attrs);
    errors.finish()?;
    Ok(o)
}

/// Skips another `#[diesel(…)]` option: `key = value`, `key(…)` or `key`.
fn skip_option(meta: &syn::meta::ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

fn strip_model_attributes(attrs: &mut Vec<Attribute>) {
    attrs.retain(|a| !a.path().is_ident("model"));
}

fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(inner) => Some(inner),
        _ => None,
    }
}

/// `OrderLine` → `order_line`: a model's name in its tools' names.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn is_string(ty: &Type) -> bool {
    is_named(ty, &["String"])
}

/// The `model::Kind` of a field: what aggregates apply to it.
fn kind_of(f: &Field) -> Ident {
    let kind = if f.text {
        "Text"
    } else if is_named(&f.inner, &["bool"]) {
        "Bool"
    } else if is_named(
        &f.inner,
        &[
            "i8",
            "i16",
            "i32",
            "i64",
            "u8",
            "u16",
            "u32",
            "u64",
            "f32",
            "f64",
            "BigDecimal",
        ],
    ) {
        "Number"
    } else {
        "Other"
    };
    Ident::new(kind, Span::call_site())
}

/// Whether `ty`'s last segment is one of `names`.
fn is_named(ty: &Type, names: &[&str]) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| names.iter().any(|n| s.ident == n)))
}
