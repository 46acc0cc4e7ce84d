//! `tools`: build the project, then its built-in `tools --json` command.

use std::process::ExitCode;

use super::runner;
use crate::cli::Passthrough;
use crate::error::Result;

pub fn run(args: Passthrough) -> Result<ExitCode> {
    runner::hand_on(&["run", "tools", "--json"], args)
}
