#[mango_rt::command(name = "app:export", verbose)]
async fn export(#[serde(default)] since: Option<i64>) -> String {
    String::new()
}

#[mango_rt::command]
struct NotACommand;

fn main() {}
