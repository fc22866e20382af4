//! Exit codes of the `wasmproc` command.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a task failed (returned an error, panicked, trapped, or lost its worker); with `map --keep-going`, at least one input failed |
//! | 2 | bad command line (unknown option, missing argument) |
//! | 3 | bad input: the module cannot be used (unreadable, not wasm, not a component, not a task module), no such task, or arguments/JSON lines that do not fit the task; `new`: the path is taken or cannot name a crate, or `--sdk` holds no SDK; `build`: not a task project, or its code does not compile |
//! | 4 | the runtime failed: a worker process could not start, `--deadline` passed before everything was answered, the module cache or an output file could not be written, the cluster's server cannot be reached or refuses the credentials; `build`: cargo or the `wasm32-wasip2` target is missing (the message says what to install) |
//! | 130 | interrupted (Ctrl-C) |

use std::process::ExitCode;

/// A command's exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// 0: everything worked.
    Success = 0,
    /// 1: a task failed.
    TaskFailed = 1,
    /// 2: the command line was wrong (clap reports these itself).
    Usage = 2,
    /// 3: the module, the task name or the input does not fit.
    BadInput = 3,
    /// 4: the runtime could not do its job.
    Runtime = 4,
    /// 130: interrupted (Ctrl-C, or SIGTERM).
    Interrupted = 130,
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> ExitCode {
        ExitCode::from(code as u8)
    }
}

/// The exit code for a library error.
pub fn code_for(error: &wasmproc::Error) -> Code {
    use wasmproc::Error as E;
    match error {
        E::Task(_) => Code::TaskFailed,
        E::Read { .. }
        | E::NotWasm { .. }
        | E::CoreModule { .. }
        | E::InvalidComponent { .. }
        | E::NotATaskModule { .. }
        | E::UnknownTask { .. }
        | E::SignatureMismatch { .. } => Code::BadInput,
        _ => Code::Runtime,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_problems_are_bad_input_and_worker_problems_runtime() {
        let not_wasm = wasmproc::Error::NotWasm { name: "x".into() };
        assert_eq!(code_for(&not_wasm), Code::BadInput);
        let start = wasmproc::Error::WorkerStart { reason: "no".into() };
        assert_eq!(code_for(&start), Code::Runtime);
        assert_eq!(code_for(&wasmproc::Error::Terminated), Code::Runtime);
    }
}
