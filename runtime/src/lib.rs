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
//! - [`Process`] (start, join, terminate, kill, exit codes, and its task's [`result`](Process::result));
//! - [`Queue`], [`JoinableQueue`], [`pipe`] / [`Connection`];
//! - shared state: [`SharedMemory`], [`Value`], [`Array`], and [`Lock`], [`RLock`],
//!   [`Semaphore`], [`Event`], [`Condition`], [`Barrier`] working across processes;
//! - [`Manager`] dicts, lists and namespaces held by the host;
//! - [`Executor`] with [`Future`]s, [`as_completed`] and [`wait`];
//! - workers that are processes or threads ([`StartMethod`]).
//!
//! Every shared object is made the same way, with the context its tasks run in, as Python's
//! `ctx.Queue()` or `ctx.Lock()` are: `Queue::new(&ctx)?`, `Value::new(&ctx, 0)?`,
//! `Lock::new(&ctx)?`, `Manager::new(&ctx)?`, `pipe(&ctx)?`. Their errors ([`GetError`],
//! [`ShmError`], …) are the guest SDK's own types too: both come from [`wire`].
//!
//! The guide, with every example run by the test suite, is in the repository's `docs/`; the map of
//! the code is `ARCHITECTURE.md`.
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

// Layers, lowest first; a module imports only from its own layer or below (checked by the
// `layers` test of wasmproc-tests, and drawn in ARCHITECTURE.md):
// 1. `wasmproc_wire` (its own crate);
// 2. basics: `sys` (the platform layer), `error`, `config`, `engine`, `cache`, `keep`, `spin`,
//    `ipc`, `shm::raw`;
// 3. `broker`, `worker` (the worker never imports the broker, the context or a scheduler);
// 4. host core: `context`, `module`, `job`, `spawn`, `link`;
// 5. shared objects: `queue`, `pipe`, `manager`, `shm`;
// 6. schedulers: `pool`, `process`, `executor`.
mod cache;
mod config;
mod engine;
mod error;
mod ipc;
mod keep;
mod spin;
mod sys;

mod broker;
mod worker;

mod cluster;
mod context;
mod job;
mod link;
mod module;
mod spawn;

mod manager;
mod pipe;
mod queue;
mod shm;

mod executor;
mod node;
mod pool;
mod process;

pub use cluster::{Cluster, NodeStatus};
pub use config::{DirAccess, DirGrant, Sandbox, StartMethod};
pub use context::{Context, ContextBuilder};
pub use error::{Error, Result};
pub use executor::{AsCompleted, Executor, Future, MapResults, ReturnWhen, Waited, as_completed, wait};
pub use manager::{Dict, List, Manager, Namespace};
pub use module::{Module, Task, TaskSignature};
pub use node::{NodeOptions, serve as serve_node};
pub use pipe::{Connection, pipe, pipe_simplex};
pub use pool::{AsyncResult, Chunked, IMap, Pool, PoolBuilder, default_chunksize};
pub use process::{Process, ProcessBuilder};
pub use queue::{JoinableQueue, Queue, SimpleQueue};
pub use shm::{
    Array, Barrier, BoundedSemaphore, Condition, ConditionGuard, Event, Lock, LockGuard, RLock, RLockGuard, RawArray,
    RawValue, Semaphore, SemaphoreGuard, SharedMemory, Value,
};

/// The types that cross the sandbox, defined once in `wasmproc-wire` for the host and the guest
/// SDK: every shared object's errors, the numbers of a `Value`, and why a task failed.
pub use wasmproc_wire::{
    AcquireError, BarrierError, ByteBuf, FailureKind, GetError, ManagerError, NotHeld, PutError, RecvError, Scalar,
    SendError, ShmError, TaskFailure, Timeout, TooManyReleases, TooManyTaskDone,
};

/// The wire crate itself, for hosts and SDKs of other kinds.
pub use wasmproc_wire as wire;
