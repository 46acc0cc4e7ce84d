//! `cargo mango`: the `manage.py` of mango projects.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod cmd;
mod error;
mod fsx;
mod models;
mod names;
mod project;
mod template;

fn main() -> ExitCode {
    let cli = match cli::Cargo::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                error::Exit::Usage
            } else {
                error::Exit::Success
            };
            let _ = e.print();
            return code.into();
        }
    };
    match cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code().into()
        }
    }
}
