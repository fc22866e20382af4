//! Shared state across processes: memory regions, numbers and arrays in them, and the
//! synchronization primitives (all built on `crate::shm`).

mod memory;
mod sync;
mod value;

pub use memory::{SharedMemory, ShmError};
pub use sync::{
    AcquireError, Barrier, BarrierError, BoundedSemaphore, Condition, ConditionGuard, Event, Lock, LockGuard, NotHeld,
    RLock, RLockGuard, Semaphore, SemaphoreGuard, Timeout, TooManyReleases,
};
pub use value::{Array, RawArray, RawValue, Scalar, Value};
