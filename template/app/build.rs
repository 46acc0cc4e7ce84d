// The migrations in migrations/ are embedded into the app when it is built: rebuild it
// when one is added or changed.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
