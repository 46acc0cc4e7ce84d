// A command is told about commands, not tools.
#[mango_rt::command]
async fn export<T: Default>(since: Option<i64>) -> impl std::fmt::Display {
    let _ = since;
    String::new()
}

#[mango_rt::command(name = "app.export")]
fn dotted() {}

fn main() {}
