//! `check`: build the project, compare each app's `schema.rs` with its tables, then
//! run the built-in `check` command with those findings in its report.

use std::process::ExitCode;

use super::{models, runner};
use crate::cli::Passthrough;
use crate::error::Result;

pub fn run(args: Passthrough) -> Result<ExitCode> {
    runner::checked(&["run", "check"], args, |build, rest| {
        let (project, exe) = runner::built(build)?;
        let lines = models::compare(&project, &exe);
        let mut cmd = runner::binary(&exe, &project);
        // The binary's check reports them with its own findings (`problem: …` lines
        // count as problems).
        cmd.args(&rest).env("MANGO_CHECK_MODELS", lines.join("\n"));
        runner::status(cmd, &exe)
    })
}
