struct Counter;

impl Counter {
    #[mango_rt::tool]
    async fn count(&self) -> u32 {
        1
    }
}

fn main() {}
