diesel::table! {
    {{app_name}}_items (id) {
        id -> BigInt,
        name -> Text,
    }
}
