//! Shared memory, in two layers:
//! - [`raw`]: regions mapped by name, futex waits, and the lock/semaphore/event/condition/barrier
//!   algorithms on a region's words — used by the host API below and by the worker's host
//!   functions for guests;
//! - the public objects: [`SharedMemory`] (`memory`), [`Value`]/[`Array`] (`value`), and the
//!   synchronization primitives (`locks`).

pub(crate) mod raw;

mod locks;
mod memory;
mod value;

pub use locks::{
    Barrier, BoundedSemaphore, Condition, ConditionGuard, Event, Lock, LockGuard, RLock, RLockGuard, Semaphore,
    SemaphoreGuard,
};
pub use memory::SharedMemory;
pub use value::{Array, RawArray, RawValue, Value};
