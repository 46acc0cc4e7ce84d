#[mango_rt::tool]
async fn add(#[allow(unused)] a: i64, b: i64) -> i64 {
    b
}

fn main() {}
