#[mango_rt::tool(read_only, name = "a", read_only = false, name = "b")]
async fn twice() {}

fn main() {}
