struct Secret;

#[mango_rt::tool]
async fn reveal() -> Secret {
    Secret
}

fn main() {}
