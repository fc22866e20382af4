//! # wasmproc-wire: what crosses the sandbox, defined once
//!
//! The `wasmproc` host runtime and the `wasmproc-guest` SDK run on two sides of a WebAssembly
//! sandbox, built for different targets. Every type and byte layout both sides must agree on lives
//! here, so they cannot drift apart:
//!
//! - [`codec`]: how task arguments and results are encoded (postcard for Rust hosts, JSON for the
//!   CLI), and how queue items are.
//! - [`outcome`]: the framed buffer a chunk's results come back in, and its tags;
//!   [`FailureKind`]/[`TaskFailure`] say why an input produced no result.
//! - [`frame`]: the layout of a frame on a worker's socket.
//! - [`handle`]: how a queue, a shared region, a lock or a managed object is encoded when it is
//!   passed to a task as an argument.
//! - the errors of every shared object, with their `Display` texts: [`GetError`], [`PutError`],
//!   [`RecvError`], [`SendError`], [`ShmError`], [`AcquireError`], [`BarrierError`],
//!   [`ManagerError`], …
//! - [`scalar`] and [`layout`]: the numbers a `Value`/`Array` holds and where things lie in a
//!   shared region.
//! - [`pipe`]: one end of a pipe, the same logic on both sides over their own queues
//!   ([`define_connection!`] gives each side its `Connection<T>`).
//!
//! The crate is `no_std` (with `alloc`): it builds for the host and for `wasm32-wasip2`. Both
//! `wasmproc` and `wasmproc-guest` re-export what their users need; depend on this crate directly
//! only to write another host or SDK.
//!
//! Every decoder here turns arbitrary or truncated bytes into an error, never a panic (checked by
//! property tests).

#![no_std]

extern crate alloc;

pub mod codec;
pub mod failure;
pub mod frame;
pub mod handle;
pub mod layout;
pub mod manager;
pub mod outcome;
pub mod pipe;
pub mod queue;
pub mod scalar;
pub mod shm;
pub mod sync;

pub use codec::{Codec, CodecError};
pub use failure::{FailureKind, TaskFailure};
pub use manager::ManagerError;
pub use pipe::{Channel, RecvError, SendError, Wait};
pub use queue::{GetError, PutError, QueueFault, TooManyTaskDone};
pub use scalar::Scalar;
pub use shm::ShmError;
pub use sync::{AcquireError, Acquired, BarrierError, NotHeld, SyncFault, Timeout, TooManyReleases};

/// Raw bytes as one queue or pipe item: `Queue<ByteBuf>` moves a buffer with one copy per hop,
/// where a `Vec<u8>` item is encoded byte by byte (postcard cannot tell a `Vec<u8>` from any other
/// list).
pub use serde_bytes::ByteBuf;

#[doc(hidden)]
pub use serde as __serde;
