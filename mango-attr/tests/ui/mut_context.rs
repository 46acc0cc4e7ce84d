#[mango_rt::tool]
async fn tick(ctx: &mut mango_rt::Context) -> String {
    ctx.target().name.to_owned()
}

fn main() {}
