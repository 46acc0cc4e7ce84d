//! The pieces of mango's benchmark: a closed-loop HTTP load generator and the
//! bookkeeping of its results. The servers it drives are built by `main.rs`.

pub mod loadgen;
