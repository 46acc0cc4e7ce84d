#[mango_rt::tool]
async fn echo<T: std::fmt::Debug>(value: T) -> String {
    format!("{value:?}")
}

fn main() {}
