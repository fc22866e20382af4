//! # wasmproc: Python's `multiprocessing`, for WebAssembly tasks
//!
//! A [`Pool`] of worker processes, each an isolated OS process running wasmtime, executes tasks
//! compiled to one portable `.wasm` component with the `wasmproc-guest` SDK. What
//! `multiprocessing.Pool` gives Python users — `map`, `imap`, `imap_unordered`, `starmap`, `apply`,
//! `apply_async`, `map_async`, `chunksize` — with what Python cannot give: a sandbox (no files,
//! network or environment unless granted), crash isolation (a panicking, trapping or killed task
//! never hangs the pool), and the same module on every OS.
//!
//! ```no_run
//! use wasmproc::{Context, Pool};
//!
//! # fn main() -> wasmproc::Result<()> {
//! let ctx = Context::new()?;                          // engine + module cache
//! let module = ctx.load("tasks.wasm")?;               // validate, compile once, read its tasks
//! let square = module.task::<u64, u64>("square")?;    // checked against the module's signature
//! let pool = Pool::new(&ctx)?;                        // one worker process per CPU
//! assert_eq!(pool.map(&square, 0..10)?, vec![0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
//! for r in pool.imap_unordered(&square, 0..1_000_000) {
//!     let _ = r?;                                     // streams with bounded memory
//! }
//! # Ok(()) }
//! ```
//!
//! Beyond the pool, the rest of `multiprocessing` and `concurrent.futures`, shared by the host and
//! any task it is passed to:
//! - [`Process`] (start, join, terminate, kill, exit codes);
//! - [`Queue`], [`JoinableQueue`], [`pipe`] / [`Connection`];
//! - shared state: [`SharedMemory`], [`Value`], [`Array`], and [`Lock`], [`RLock`],
//!   [`Semaphore`], [`Event`], [`Condition`], [`Barrier`] working across processes;
//! - [`Manager`] dicts, lists and namespaces held by the host;
//! - [`Executor`] with [`Future`]s, [`as_completed`] and [`wait`];
//! - workers that are processes or threads ([`StartMethod`]).
//!
//! ## How it works
//! - [`Context::load`] checks the file is a component implementing the `wasmproc:task` world,
//!   precompiles it once into a private cache keyed by content hash and engine, and reads the task
//!   listing, so a [`Task`] handle is type-checked before anything runs.
//! - [`Pool::new`] starts worker processes by re-executing the current program; the library
//!   recognizes a worker start before `main` runs, so this works from any binary, test or example
//!   that links `wasmproc`, with no setup. Workers load the precompiled artifact (mmap) and keep a warm
//!   instance per module, like a Python worker keeps its globals.
//! - The host talks to each worker over a Unix socketpair; a chunk of inputs is one frame and one
//!   call into the guest, and two chunks stay queued at each worker so the round trip is hidden.
//! - A worker that dies is detected (socket EOF, reaped), its inputs fail with
//!   [`FailureKind::WorkerDied`], and it is replaced. A worker exits as soon as its host goes away.
//!
//! Blocking and async: every waiting method blocks the calling thread; the `*_async` methods return
//! an [`AsyncResult`] that can also be `.await`ed, and [`IMap`] is a `futures_core::Stream`.

mod broker;
mod cache;
mod context;
mod engine;
mod error;
mod executor;
mod guest;
mod manager;
mod module;
mod outcomes;
mod pipe;
mod pool;
mod process;
mod protocol;
mod queue;
mod sandbox;
mod shared;
mod shm;
mod spawn;
mod worker;

pub use context::{Context, ContextBuilder};
pub use error::{Error, FailureKind, Result, TaskFailure};
pub use executor::{AsCompleted, Executor, Future, MapResults, ReturnWhen, Waited, as_completed, wait};
pub use manager::{Dict, List, Manager, ManagerError, Namespace};
pub use module::{Module, Task, TaskSignature};
pub use pipe::{Connection, RecvError, SendError, pipe, pipe_simplex};
pub use pool::{AsyncResult, Chunked, IMap, Pool, PoolBuilder, default_chunksize};
pub use process::{Process, ProcessBuilder};
pub use queue::{GetError, JoinableQueue, PutError, Queue, SimpleQueue, TooManyTaskDone};
pub use sandbox::{DirAccess, DirGrant, Sandbox};
pub use shared::{
    AcquireError, Array, Barrier, BarrierError, BoundedSemaphore, Condition, ConditionGuard, Event, Lock, LockGuard,
    NotHeld, RLock, RLockGuard, RawArray, RawValue, Scalar, Semaphore, SemaphoreGuard, SharedMemory, ShmError, Timeout,
    TooManyReleases, Value,
};
pub use spawn::StartMethod;

/// Raw bytes as one queue or pipe item: `Queue<ByteBuf>` moves a buffer with one copy, where a
/// `Vec<u8>` item is encoded byte by byte (postcard has no way to tell a `Vec<u8>` from any other
/// list). The same type is `wasmproc_guest::ByteBuf` in guests (both are `serde_bytes::ByteBuf`).
pub use serde_bytes::ByteBuf;
