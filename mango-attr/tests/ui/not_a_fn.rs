#[mango_rt::tool]
struct NotATool;

fn main() {}
