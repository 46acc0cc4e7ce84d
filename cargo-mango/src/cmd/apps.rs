//! `apps`: build the project, then its binary's `apps`.

use std::process::ExitCode;

use super::runner;
use crate::cli::Passthrough;
use crate::error::Result;

pub fn run(args: Passthrough) -> Result<ExitCode> {
    runner::hand_on(&["apps"], args)
}
