//! Every compile error a user can hit with mango's attribute macros, with its message
//! (`tests/ui/*.stderr`). Regenerate after a deliberate change with
//! `TRYBUILD=overwrite cargo test -p mango-attr --test ui`. What must compile is in
//! `tests/pass.rs`: without a pass case here, trybuild only checks (never builds) the
//! dependencies.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
