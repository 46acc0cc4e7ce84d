#[mango_rt::data]
fn not_a_type() {}

#[mango_rt::data(serialize_only)]
struct Options {
    a: u32,
}

fn main() {}
