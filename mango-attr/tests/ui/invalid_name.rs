#[mango_rt::tool(name = "search notes")]
async fn search() -> String {
    String::new()
}

#[mango_rt::tool(name = "a_name_that_is_much_longer_than_the_sixty_four_characters_clients_accept")]
async fn long() -> String {
    String::new()
}

fn main() {}
