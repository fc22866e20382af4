//! The library's error type. Every failure names its cause; callers match on the variant.
//!
//! The errors of the shared objects (`GetError`, `ShmError`, …) and [`TaskFailure`] are defined in
//! `wasmproc-wire`, once for both sides of the sandbox.

use std::path::PathBuf;
pub(crate) use wasmproc_wire::{FailureKind, ManagerError, ShmError, TaskFailure};

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
    Shm(#[from] ShmError),
    /// A managed dict, list or namespace operation failed.
    #[error(transparent)]
    Manager(#[from] ManagerError),
    /// `Process::start` on a process that was already started.
    #[error("process {name} was already started")]
    AlreadyStarted {
        /// The process's name.
        name: String,
    },
    /// `Process::result` of a process that was never started.
    #[error("process {name} was never started")]
    NotStarted {
        /// The process's name.
        name: String,
    },
    /// Work was submitted to a pool after `close` or `terminate`.
    #[error("the pool is closed")]
    PoolClosed,
    /// The pool was terminated (or dropped) before this work finished.
    #[error("the pool was terminated before the task finished")]
    Terminated,
    /// `get_timeout`, `map_timeout` or `IMap::next_timeout` ran out of time; the result may still
    /// arrive (except after `map_timeout`, which cancels what had not started).
    #[error("timed out waiting for the result")]
    Timeout,
    /// The result was already taken by an earlier `get_timeout`.
    #[error("the result was already taken")]
    AlreadyTaken,
    /// The call was cancelled before it started (`Future::cancel`, or `shutdown` with
    /// `cancel_futures`) — Python's `CancelledError`.
    #[error("the call was cancelled before it started")]
    Cancelled,
    /// The cluster's server could not be reached or used (wrong address, credentials, a server
    /// without JetStream, a message over its limits); the reason says which and what to do.
    #[error("cluster {address}: {reason}")]
    Cluster {
        /// The server's address.
        address: String,
        /// What went wrong, and the fix.
        reason: String,
    },
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
            Error::Cluster { address, reason } => Error::Cluster { address: address.clone(), reason: reason.clone() },
            Error::Shm(e) => Error::Shm(e.clone()),
            Error::Manager(e) => Error::Manager(e.clone()),
            other => Error::Internal(other.to_string()),
        }
    }
}

/// A result whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
