//! `serve`: build the project, then its binary's `serve`; with `--reload`, again on
//! every change (`reload`).

use std::process::ExitCode;

use super::{reload, runner};
use crate::cli::Passthrough;
use crate::error::Result;

pub fn run(mut args: Passthrough) -> Result<ExitCode> {
    // `--reload` is cargo mango's (the binary serves once): taken out before a `--`.
    let end = args
        .args
        .iter()
        .position(|a| a == "--")
        .unwrap_or(args.args.len());
    let before = args.args.len();
    let mut kept = Vec::new();
    for (i, arg) in std::mem::take(&mut args.args).into_iter().enumerate() {
        if !(i < end && arg == "--reload") {
            kept.push(arg);
        }
    }
    let reloading = kept.len() != before;
    args.args = kept;
    if reloading {
        runner::checked(&["serve"], args, reload::run)
    } else {
        runner::hand_on(&["serve"], args)
    }
}
