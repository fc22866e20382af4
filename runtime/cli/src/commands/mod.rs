//! The subcommands, and how a failure carries its exit code.

mod inspect;
mod map;
mod run;

use crate::cli::{Cli, Command, GlobalOptions};
use crate::exit::{self, Code};
use wasmproc::Context;

/// A failed command: what to print and which exit code to return.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: Code,
    pub(crate) error: anyhow::Error,
}

impl Failure {
    pub(crate) fn new(code: Code, error: impl Into<anyhow::Error>) -> Failure {
        Failure { code, error: error.into() }
    }
}

impl From<wasmproc::Error> for Failure {
    fn from(error: wasmproc::Error) -> Failure {
        Failure { code: exit::code_for(&error), error: error.into() }
    }
}

pub(crate) fn run(cli: Cli) -> Result<Code, Failure> {
    match cli.command {
        Command::Run(args) => run::run(&cli.global, args),
        Command::Map(args) => map::map(&cli.global, args),
        Command::Inspect(args) => inspect::inspect(&cli.global, args),
    }
}

/// A context for the CLI: guest stdout goes to stderr so results on stdout stay parseable.
pub(crate) fn context(global: &GlobalOptions, processes: Option<usize>) -> Result<Context, Failure> {
    let mut builder = Context::builder().stdout_to_stderr(true);
    if let Some(dir) = &global.cache_dir {
        builder = builder.cache_dir(dir);
    }
    if let Some(n) = processes {
        builder = builder.processes(n);
    }
    Ok(builder.build()?)
}
