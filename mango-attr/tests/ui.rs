//! Every compile error a user can hit with mango's attribute macros, with its message
//! (`tests/ui/*.stderr`), and what must compile (`tests/pass/*.rs`). Regenerate after a
//! deliberate change with `TRYBUILD=overwrite cargo test -p mango-attr --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/pass/*.rs");
}
