// The templates are embedded with include_dir!, which cargo does not track on stable:
// rebuild when they change. In the repository they live in the top-level `template/`
// (`cargo-mango/template` links to it); in the packaged crate, in `template/` itself.
fn main() {
    let repository = std::path::Path::new("../template");
    if repository.is_dir() && std::path::Path::new("../Cargo.toml").is_file() {
        println!("cargo:rerun-if-changed=../template");
    } else {
        println!("cargo:rerun-if-changed=template");
    }
}
