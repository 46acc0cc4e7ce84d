//! The tables of the `notes` app, as Diesel sees them (keep in step with migrations/).

diesel::table! {
    notes (id) {
        id -> BigInt,
        text -> Text,
    }
}
