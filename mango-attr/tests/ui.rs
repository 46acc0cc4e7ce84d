//! Every compile error a user can hit with `#[tool]` and `#[settings]`, with its message
//! (`tests/ui/*.stderr`). Regenerate after a deliberate change with
//! `TRYBUILD=overwrite cargo test -p mango-attr --test ui`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
