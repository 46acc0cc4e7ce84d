#[mango_rt::tool]
async fn numbers() -> impl mango_rt::serde::Serialize {
    vec![1, 2, 3]
}

#[mango_rt::tool]
async fn show(value: impl std::fmt::Display) -> String {
    value.to_string()
}

fn main() {}
