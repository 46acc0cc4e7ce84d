//! The pieces of mango's benchmark: a closed-loop HTTP load generator, the report of a
//! run (targets, Markdown, JSON) and its plot. The servers it drives are built by
//! `main.rs`.

pub mod loadgen;
pub mod pipe;
pub mod plot;
pub mod report;
pub mod timing;
