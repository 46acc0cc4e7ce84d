#[mango_rt::middleware]
fn not_async(req: &mut mango_rt::Request, next: mango_rt::Next) -> mango_rt::Response {
    let _ = (req, next);
    mango_rt::Response::text("")
}

#[mango_rt::middleware]
struct WithState {
    count: u32,
}

#[mango_rt::middleware]
struct NotImplemented;

fn main() {}
