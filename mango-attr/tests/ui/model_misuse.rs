// The mistakes a model's declaration can make: no table named, no key, an unknown
// field option, an unknown model option, a relation not named `<relation>_id`, a field
// whose type is not its column's.

diesel::table! {
    notes (id) {
        id -> BigInt,
        text -> Text,
    }
}

#[mango_rt::model]
#[derive(diesel::Queryable)]
struct NoTable {
    id: i64,
}

#[mango_rt::model]
#[derive(diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = notes)]
struct NoKey {
    number: i64,
    text: String,
}

#[mango_rt::model(writes)]
#[derive(diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = notes)]
struct Options {
    id: i64,
    #[model(secret)]
    text: String,
}

#[mango_rt::model]
#[derive(diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = notes)]
struct Relation {
    id: i64,
    #[model(refers_to = Options)]
    text: String,
}

/// A field whose type is not its column's: the error is at the field.
#[mango_rt::model]
#[derive(diesel::Queryable)]
#[diesel(table_name = notes)]
struct Mismatch {
    id: i64,
    text: i32,
}

fn main() {}
