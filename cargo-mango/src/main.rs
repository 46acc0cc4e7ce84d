//! `cargo mango`: the `manage.py` of mango projects.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod cmd;
mod error;
mod fsx;
mod names;
mod project;
mod template;

fn main() -> ExitCode {
    let cli = match cli::Cargo::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                error::exit::USAGE
            } else {
                error::exit::SUCCESS
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
