// A resource's parameters by value are its URI template's variables, and back.
#[mango_rt::resource("notes://{id}/{part}")]
async fn note(id: i64, extra: String) -> String {
    format!("{id}{extra}")
}

#[mango_rt::resource(name = "no_uri")]
async fn no_uri() -> String {
    String::new()
}

#[mango_rt::resource("notes://{id}", colour = "red")]
async fn coloured(id: i64) -> String {
    id.to_string()
}

fn main() {}
