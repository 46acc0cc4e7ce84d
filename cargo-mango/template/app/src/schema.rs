//! The tables of the `{{app_name}}` app, as Diesel sees them: keep this in step with
//! migrations/ (a new migration: `cargo mango makemigrations {{app_name}} <name>`).

diesel::table! {
    {{app_name}}_items (id) {
        id -> BigInt,
        name -> Text,
    }
}
