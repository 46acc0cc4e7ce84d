//! What must compile, and run: the attribute macros on valid code (`tests/pass/*.rs`).
//! Ordinary tests rather than trybuild `pass` cases: with a pass case trybuild builds
//! (rather than only checks) mango-rt and every dependency again in a directory of its
//! own, and these need nothing that the workspace's own build does not have.
#![allow(clippy::unwrap_used)]

#[path = "pass/data.rs"]
mod data;
#[path = "pass/raw_names.rs"]
mod raw_names;

#[test]
fn data_types_are_arguments_and_results() {
    data::main();
}

#[test]
fn raw_identifiers_name_items_by_the_word() {
    raw_names::main();
}
