// The macro's error is the only one: the function is kept, so its callers compile.
#[mango_rt::tool(bogus)]
async fn add(a: i64, #[serde(default)] b: i64) -> i64 {
    a + b
}

fn main() {
    let _ = add(1, 2);
}
