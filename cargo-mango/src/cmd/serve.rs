//! `serve`: build the project, then its binary's `serve`.

use std::process::ExitCode;

use super::runner;
use crate::cli::Passthrough;
use crate::error::Result;

pub fn run(args: Passthrough) -> Result<ExitCode> {
    runner::hand_on(&["serve"], args)
}
