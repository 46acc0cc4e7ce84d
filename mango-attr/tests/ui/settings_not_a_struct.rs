#[mango_rt::settings]
enum Settings {
    A,
}

fn main() {}
