//! # wasmproc-guest: write tasks for wasmproc
//!
//! A task is a plain Rust function with the [`task`] attribute. Build the crate as a `cdylib` for
//! `wasm32-wasip2` and the result is a WebAssembly component that `wasmproc` can run on a pool of
//! sandboxed worker processes — the `multiprocessing.Pool` workflow, with a `.wasm` file in place of
//! a pickled Python function.
//!
//! ```ignore
//! use wasmproc_guest::task;
//!
//! /// Squares a number.
//! #[task]
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! /// Fails cleanly instead of crashing the worker.
//! #[task]
//! fn parse(text: String) -> Result<i64, std::num::ParseIntError> {
//!     text.trim().parse()
//! }
//! ```
//!
//! ```text
//! $ cargo build --release --target wasm32-wasip2
//! $ wasmproc run target/wasm32-wasip2/release/my_tasks.wasm square 7
//! 49
//! ```
//!
//! ## What a task may take and return
//! - any number of arguments of owned types that implement `serde::Deserialize`;
//! - a result that implements `serde::Serialize`, or `Result<T, E>` where `E: Display`: an `Err` becomes
//!   a task error carrying `E`'s text; the worker goes on with the next item;
//! - a panic is caught by the SDK's panic hook, reported with its message, and the worker replaces the
//!   instance: the pool never loses a worker to a panicking task.
//!
//! Arguments arrive as postcard (from Rust hosts) or JSON (from the CLI); the SDK decodes either, so the
//! same module serves both.
//!
//! ## Crate setup
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! wasmproc-guest = "0.1"
//! serde = { version = "1", features = ["derive"] }
//! ```

mod bindings;
mod dispatch;
mod manager;
mod pipe;
mod queue;
mod registry;
mod shared;
mod sync;

pub use manager::{Dict, List, ManagerError, Namespace};
pub use pipe::{Connection, RecvError, SendError};
pub use queue::{GetError, JoinableQueue, PutError, Queue, SimpleQueue, TooManyTaskDone};
pub use shared::{Array, Scalar, SharedMemory, ShmError, Value};
pub use sync::{
    AcquireError, Barrier, BarrierError, BoundedSemaphore, Condition, ConditionGuard, Event, Lock, LockGuard, NotHeld,
    RLock, RLockGuard, Semaphore, SemaphoreGuard, Timeout, TooManyReleases,
};
pub use wasmproc_guest_macros::task;

/// Raw bytes as one queue or pipe item: `Queue<ByteBuf>` moves a buffer with one copy, where a
/// `Vec<u8>` item is encoded byte by byte. The host's `wasmproc::ByteBuf` is the same type
/// (`serde_bytes::ByteBuf`).
pub use serde_bytes::ByteBuf;

/// The process a task runs in — Python's `multiprocessing.current_process()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The process's name: `pool<N>-<slot>` for a pool worker, or the name a `Process` was given.
    pub name: String,
    /// The operating-system process id of the worker.
    pub pid: u32,
    /// The worker's slot in its pool (0 for a `Process`).
    pub worker_id: u32,
    /// The process id of the host program that started the worker.
    pub parent_pid: u32,
}

/// Information about the current process, as `multiprocessing.current_process()` gives it.
///
/// ```ignore
/// #[wasmproc_guest::task]
/// fn whoami() -> String {
///     let me = wasmproc_guest::current_process();
///     format!("{} (pid {}, parent {})", me.name, me.pid, me.parent_pid)
/// }
/// ```
pub fn current_process() -> ProcessInfo {
    let info = bindings::wasmproc::task::process::current();
    ProcessInfo { name: info.name, pid: info.pid, worker_id: info.worker_id, parent_pid: info.parent_pid }
}

/// Implementation details used by the code that [`task`] generates. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::registry::{Codec, TaskDef, TaskError, call_task};
    pub use inventory;
}
