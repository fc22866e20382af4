//! The library's error types. Every failure names its cause; callers match on the variant.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong in wasmproc.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A module file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file does not start with the WebAssembly magic bytes.
    #[error("{name} is not a WebAssembly file (it does not start with \\0asm)")]
    NotWasm {
        /// The file name, or the name given to `load_bytes`.
        name: String,
    },
    /// The file is a core WebAssembly module; wasmproc runs components.
    #[error(
        "{name} is a core WebAssembly module, not a component; build tasks with the wasmproc-guest SDK \
         for the wasm32-wasip2 target (`cargo build --release --target wasm32-wasip2`)"
    )]
    CoreModule {
        /// The file name.
        name: String,
    },
    /// wasmtime rejected the component.
    #[error("{name} is not a valid WebAssembly component: {reason}")]
    InvalidComponent {
        /// The file name.
        name: String,
        /// wasmtime's explanation.
        reason: String,
    },
    /// A valid component that does not implement the `wasmproc:task/task` world.
    #[error(
        "{name} is not a wasmproc task module: {reason}\n(task modules are built with the wasmproc-guest SDK's #[task] attribute)"
    )]
    NotATaskModule {
        /// The file name.
        name: String,
        /// What is missing or extra.
        reason: String,
    },
    /// No task of that name in the module.
    #[error("{module} has no task named `{task}`; its tasks are: {known}")]
    UnknownTask {
        /// The module's name.
        module: String,
        /// The requested name.
        task: String,
        /// The tasks it does have, comma separated.
        known: String,
    },
    /// A typed lookup whose Rust types do not match the task's declared signature.
    #[error("task `{signature}` cannot be called as ({requested_args}) -> {requested_result}")]
    SignatureMismatch {
        /// The task's signature, as its module declares it.
        signature: String,
        /// The argument type requested by the caller.
        requested_args: String,
        /// The result type requested by the caller.
        requested_result: String,
    },
    /// A task ran but produced no result.
    #[error(transparent)]
    Task(#[from] TaskFailure),
    /// A worker process did not start.
    #[error("a worker process failed to start: {reason}")]
    WorkerStart {
        /// What happened.
        reason: String,
    },
    /// A sandbox grant that cannot be honoured.
    #[error("cannot grant {path}: {reason}")]
    InvalidGrant {
        /// The host path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The compiled-module cache could not be used.
    #[error("module cache {path}: {reason}")]
    Cache {
        /// The cache file or directory.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// An argument could not be encoded, or a result decoded, on the host side.
    #[error("task `{task}`: {reason}")]
    Codec {
        /// The task.
        task: String,
        /// What went wrong.
        reason: String,
    },
    /// A shared memory region could not be created or attached.
    #[error("shared memory {name}: {source}")]
    SharedMemory {
        /// The region's name.
        name: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A shared memory access failed (out of bounds, misaligned).
    #[error(transparent)]
    Shm(#[from] crate::shared::ShmError),
    /// A managed dict, list or namespace operation failed.
    #[error(transparent)]
    Manager(#[from] crate::manager::ManagerError),
    /// `Process::start` on a process that was already started.
    #[error("process {name} was already started")]
    AlreadyStarted {
        /// The process's name.
        name: String,
    },
    /// Work was submitted to a pool after `close` or `terminate`.
    #[error("the pool is closed")]
    PoolClosed,
    /// The pool was terminated (or dropped) before this work finished.
    #[error("the pool was terminated before the task finished")]
    Terminated,
    /// `get_timeout` ran out of time; the result may still arrive.
    #[error("timed out waiting for the result")]
    Timeout,
    /// The result was already taken by an earlier `get_timeout`.
    #[error("the result was already taken")]
    AlreadyTaken,
    /// The call was cancelled before it started (`Future::cancel`, or `shutdown` with
    /// `cancel_futures`) — Python's `CancelledError`.
    #[error("the call was cancelled before it started")]
    Cancelled,
    /// An internal error of the runtime (a bug); the message says where.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A copy for a second reader (`Future::exception`): task failures and unit variants exactly,
    /// the others (which hold I/O errors) as their message.
    pub(crate) fn duplicate(&self) -> Error {
        match self {
            Error::Task(f) => Error::Task(f.clone()),
            Error::PoolClosed => Error::PoolClosed,
            Error::Terminated => Error::Terminated,
            Error::Timeout => Error::Timeout,
            Error::AlreadyTaken => Error::AlreadyTaken,
            Error::Cancelled => Error::Cancelled,
            Error::WorkerStart { reason } => Error::WorkerStart { reason: reason.clone() },
            Error::Shm(e) => Error::Shm(e.clone()),
            Error::Manager(e) => Error::Manager(e.clone()),
            other => Error::Internal(other.to_string()),
        }
    }
}

/// A result whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why one input of a task produced no result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum FailureKind {
    /// The task returned `Err`; the message is the error's text.
    Failed,
    /// The task panicked; the message is the panic message and location.
    Panicked,
    /// The guest trapped without panicking (e.g. `unreachable`, stack overflow, out of memory).
    Trapped,
    /// The arguments did not decode as the task's parameter types.
    BadArgument,
    /// The result could not be encoded by the guest.
    BadResult,
    /// The module does not (or no longer) define the task.
    UnknownTask,
    /// The worker could not load the module.
    Load,
    /// The input ran longer than the pool's per-task timeout and was interrupted.
    Timeout,
    /// The input needed more memory than the pool's `max_memory`.
    MemoryLimit,
    /// The input used up the pool's fuel budget (instructions executed).
    FuelExhausted,
    /// The input put items on a queue without waiting (an unbounded queue), and the queue was
    /// closed or dropped before they arrived: they were not delivered. (Every successful input of
    /// the chunk that sent them reports this, since the host cannot tell which one did.)
    Undelivered,
    /// The worker process died while it held this input.
    WorkerDied {
        /// The worker's process id.
        pid: u32,
        /// The signal that killed it, if it was killed by one.
        signal: Option<i32>,
    },
}

/// One input of one task that did not produce a result: which task, which input, why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub struct TaskFailure {
    /// The task's name.
    pub task: String,
    /// The position of the input in the call (`0` for `apply`).
    pub index: usize,
    /// What kind of failure.
    pub kind: FailureKind,
    /// The guest's or the runtime's message.
    pub message: String,
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.kind {
            FailureKind::Failed => "failed",
            FailureKind::Panicked => "panicked",
            FailureKind::Trapped => "trapped",
            FailureKind::BadArgument => "rejected its argument",
            FailureKind::BadResult => "could not encode its result",
            FailureKind::UnknownTask => "is unknown",
            FailureKind::Load => "could not be loaded",
            FailureKind::Timeout => "timed out",
            FailureKind::MemoryLimit => "exceeded its memory limit",
            FailureKind::FuelExhausted => "ran out of fuel",
            FailureKind::Undelivered => "put items that were not delivered",
            FailureKind::WorkerDied { .. } => "lost its worker",
        };
        write!(f, "task `{}` {what} on input {}: {}", self.task, self.index, self.message)
    }
}
