//! `serve`: build the project, then its binary's `serve`; with `--reload`, again on
//! every change (`reload`).

use std::process::ExitCode;

use super::{reload, runner};
use crate::cli::Passthrough;
use crate::error::Result;

pub fn run(mut args: Passthrough) -> Result<ExitCode> {
    // `--reload` is cargo mango's (the binary serves once).
    let reloading = runner::take_flag(&mut args.args, "--reload");
    if reloading {
        runner::checked(&["serve"], args, reload::run)
    } else {
        runner::hand_on(&["serve"], args)
    }
}
