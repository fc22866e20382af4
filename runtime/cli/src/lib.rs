//! The `wasmproc` command-line tool: run one task, map a task over JSON lines, inspect a module.
//!
//! `main.rs` only calls [`main`]; this crate parses arguments (clap), runs the command with the
//! `wasmproc` library, and maps failures to the documented exit codes in [`exit`].

mod cli;
mod commands;
pub mod exit;
mod interrupt;
mod progress;

use clap::Parser;
use std::process::ExitCode;

/// Parses the process arguments, runs the command, and returns its exit code.
pub fn main() -> ExitCode {
    interrupt::install();
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code.into(),
        Err(failure) => {
            eprintln!("wasmproc: {}", message(&failure.error));
            failure.code.into()
        }
    }
}

/// An error and its causes, each cause said once: many errors already name their cause in their
/// own message (`cannot read x.wasm: No such file`), which a plain chain would repeat.
fn message(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_cause_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let read = wasmproc::Error::Read { path: "x.wasm".into(), source: io };
        let text = super::message(&anyhow::Error::from(read));
        assert_eq!(text.matches("No such file").count(), 1, "{text}");
        let wrapped = anyhow::Error::from(std::io::Error::other("disk full")).context("writing out.jsonl");
        assert_eq!(super::message(&wrapped), "writing out.jsonl: disk full");
    }
}
