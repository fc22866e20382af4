//! The `wasmproc` command-line tool: run one task, map a task over JSON lines, inspect a module.
//!
//! `main.rs` only calls [`main`]; this crate parses arguments (clap), runs the command with the
//! `wasmproc` library, and maps failures to the documented exit codes in [`exit`].

mod cli;
mod commands;
pub mod exit;
mod progress;

use clap::Parser;
use std::process::ExitCode;

/// Parses the process arguments, runs the command, and returns its exit code.
pub fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code.into(),
        Err(failure) => {
            eprintln!("wasmproc: {:#}", failure.error);
            failure.code.into()
        }
    }
}
