#[mango_rt::tool]
async fn tick(ctx: &mut mango_rt::Context) -> String {
    ctx.tool().to_owned()
}

fn main() {}
