#[mango_rt::tool(scopes = ["notes write"])]
async fn spaced() -> String {
    String::new()
}

#[mango_rt::tool(scopes = "notes:write")]
async fn not_a_list() -> String {
    String::new()
}

#[mango_rt::resource("notes://all", scopes = [read])]
async fn not_a_string() -> String {
    String::new()
}

fn main() {}
