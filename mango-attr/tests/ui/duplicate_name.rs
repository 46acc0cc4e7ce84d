/// One.
#[mango_rt::tool]
async fn search() -> String {
    String::new()
}

mod other {
    /// Two, named like the first.
    #[mango_rt::tool(name = "search")]
    async fn find() -> String {
        String::new()
    }
}

fn main() {}
