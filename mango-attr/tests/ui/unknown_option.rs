#[mango_rt::tool(readonly, destructive = false, colour = "red")]
async fn paint() -> String {
    String::new()
}

fn main() {}
