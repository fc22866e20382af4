//! # wasmproc-guest: write tasks for wasmproc
//!
//! A task is a plain Rust function with the [`task`] attribute. Build the crate as a `cdylib` for
//! `wasm32-wasip2` and the result is a WebAssembly component that `wasmproc` can run on a pool of
//! sandboxed worker processes — the `multiprocessing.Pool` workflow, with a `.wasm` file in place of
//! a pickled Python function.
//!
//! ```no_run
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

// Modules, lowest first (no module imports one below it in this list): the bindings, then the
// chunk's outcomes, the registry and dispatcher of tasks, then the shared objects.
mod bindings;

mod outcomes;
mod registry;

mod dispatch;
mod process;

mod queue;
mod region;

mod locks;
mod manager;
mod memory;
mod pipe;
mod value;

pub use locks::{
    Barrier, BoundedSemaphore, Condition, ConditionGuard, Event, Lock, LockGuard, RLock, RLockGuard, Semaphore,
    SemaphoreGuard,
};
pub use manager::{Dict, List, Namespace};
pub use memory::SharedMemory;
pub use pipe::Connection;
pub use process::{ProcessInfo, current_process};
pub use queue::{JoinableQueue, Queue, SimpleQueue};
pub use value::{Array, Value};
pub use wasmproc_guest_macros::task;

/// The types that cross the sandbox, defined once in `wasmproc-wire` for the guest and the host
/// (`wasmproc::GetError` and `wasmproc_guest::GetError` are the same type): every shared object's
/// errors, the numbers of a `Value`, and raw-bytes items.
pub use wasmproc_wire::{
    AcquireError, BarrierError, ByteBuf, GetError, ManagerError, NotHeld, PutError, RecvError, Scalar, SendError,
    ShmError, Timeout, TooManyReleases, TooManyTaskDone,
};

/// The wire crate itself.
pub use wasmproc_wire as wire;

/// Implementation details used by the code that [`task`] generates. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::registry::{Codec, TaskDef, TaskError, call_task};
    pub use inventory;
}
