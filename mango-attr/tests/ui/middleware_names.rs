// Middleware names are listed in Mango.toml as `app.name`: letters, digits and `_`.
#[mango_rt::middleware(name = "rate-limit")]
async fn limit(req: &mut mango_rt::Request, next: mango_rt::Next) -> mango_rt::Response {
    next.run(req).await
}

#[mango_rt::middleware(name = "app.audit", unknown)]
struct Audit;

impl mango_rt::Middleware for Audit {}

// Every problem of one item is reported at once.
#[mango_rt::middleware(name = "x y")]
fn not_async<T>(req: &mut mango_rt::Request, next: mango_rt::Next) -> mango_rt::Response {
    let _ = (req, next);
    mango_rt::Response::text("")
}

fn main() {}
