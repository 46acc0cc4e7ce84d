/// Only `rename` means something on a prompt's argument, once.
#[mango_rt::prompt]
async fn greet(
    #[serde(default)] who: String,
    #[serde(rename = "a", rename = "b")] whom: String,
    #[serde(rename = "who")] other: String,
) -> String {
    format!("{who}{whom}{other}")
}

fn main() {}
