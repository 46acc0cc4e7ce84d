// A tool's JSON result needs a schema (its `outputSchema`); a resource's does not.
#[derive(mango_rt::serde::Serialize)]
#[serde(crate = "mango_rt::serde")]
struct Stats {
    count: u32,
}

#[mango_rt::tool]
async fn stats() -> Stats {
    Stats { count: 1 }
}

#[mango_rt::resource("stats://all")]
async fn all_stats() -> Stats {
    Stats { count: 1 }
}

fn main() {}
