// The templates are embedded with include_dir!, which cargo does not track on stable:
// rebuild when they change.
fn main() {
    println!("cargo:rerun-if-changed=template");
}
