// `complete(…)` names the item's own arguments, and a completion takes what it is given.
#[mango_rt::completion]
async fn topics(value: String, colour: String) -> Vec<String> {
    vec![value, colour]
}

#[mango_rt::completion]
async fn ok_topics(value: String) -> Vec<String> {
    vec![value]
}

#[mango_rt::prompt(complete(subject = ok_topics))]
async fn essay(topic: String) -> String {
    topic
}

#[mango_rt::resource("notes://{id}", complete(name = ok_topics))]
async fn note(id: i64) -> String {
    id.to_string()
}

fn main() {}
