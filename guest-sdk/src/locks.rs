//! Synchronization primitives inside a task: the host's `Lock`, `RLock`, `Semaphore`, `Event`,
//! `Condition` and `Barrier`, passed as arguments; the waiting happens in the worker (a futex on
//! the shared words), honouring the task's timeout.

use crate::bindings::wasmproc::task::sync::{self as wit, Acquired, SyncError};
use crate::region::{Obj, from_wit};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use wasmproc_wire::{AcquireError, BarrierError, NotHeld, Timeout, TooManyReleases};

fn ms(t: Duration) -> Option<u64> {
    Some(t.as_millis().min(u128::from(u64::MAX)) as u64)
}

/// A region failure in a primitive built by the host is a broken handle: say so loudly.
pub(crate) fn fatal(e: SyncError) -> ! {
    match e {
        SyncError::Region(r) => panic!("wasmproc: synchronization object unusable: {}", from_wit(r)),
        other => panic!("wasmproc: unexpected synchronization error {other:?}"),
    }
}

macro_rules! lock_type {
    ($(#[$doc:meta])* $name:ident, $guard:ident, $acq:path, $rel:path) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name {
            pub(crate) obj: Obj,
        }

        /// Releases the lock when dropped.
        #[must_use = "the lock is released when the guard is dropped"]
        #[derive(Debug)]
        pub struct $guard<'a> {
            lock: &'a $name,
        }

        impl Drop for $guard<'_> {
            fn drop(&mut self) {
                let _ = self.lock.release();
            }
        }

        impl $name {
            fn acquire_with(&self, t: Option<u64>) -> Result<$guard<'_>, AcquireError<$guard<'_>>> {
                match $acq(self.obj.map.handle, self.obj.offset, t) {
                    Ok(Acquired::Clean) => Ok($guard { lock: self }),
                    Ok(Acquired::OwnerDied) => Err(AcquireError::OwnerDied($guard { lock: self })),
                    Err(SyncError::Timeout) => Err(AcquireError::Timeout),
                    Err(e) => fatal(e),
                }
            }

            /// Waits for the lock.
            pub fn acquire(&self) -> Result<$guard<'_>, AcquireError<$guard<'_>>> {
                self.acquire_with(None)
            }

            /// Takes the lock if it is free now.
            pub fn try_acquire(&self) -> Result<$guard<'_>, AcquireError<$guard<'_>>> {
                self.acquire_with(Some(0))
            }

            /// Waits at most `timeout`.
            pub fn acquire_timeout(&self, timeout: Duration) -> Result<$guard<'_>, AcquireError<$guard<'_>>> {
                self.acquire_with(ms(timeout))
            }

            /// Releases the lock without a guard.
            pub fn release(&self) -> Result<(), NotHeld> {
                match $rel(self.obj.map.handle, self.obj.offset) {
                    Ok(()) => Ok(()),
                    Err(SyncError::NotHeld) => Err(NotHeld),
                    Err(e) => fatal(e),
                }
            }
        }
    };
}

lock_type!(
    /// The host's `wasmproc::Lock`, passed as an argument — `multiprocessing.Lock` in a worker.
    ///
    /// ```no_run
    /// #[wasmproc_guest::task]
    /// fn deposit(balance: wasmproc_guest::Value<i64>, lock: wasmproc_guest::Lock) {
    ///     let _held = lock.acquire().unwrap();
    ///     balance.set(balance.get() + 10);
    /// }
    /// ```
    Lock,
    LockGuard,
    wit::lock_acquire,
    wit::lock_release
);

lock_type!(
    /// The host's `wasmproc::RLock`: this task's worker may acquire it again, and must release
    /// it as many times.
    RLock,
    RLockGuard,
    wit::rlock_acquire,
    wit::rlock_release
);

/// The host's `wasmproc::Semaphore` (or bounded one).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Semaphore {
    obj: Obj,
}

/// Python's `BoundedSemaphore` (the host decides the bound).
pub type BoundedSemaphore = Semaphore;

/// Gives its permit back when dropped.
#[must_use = "the permit is released when the guard is dropped"]
#[derive(Debug)]
pub struct SemaphoreGuard<'a> {
    sem: &'a Semaphore,
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        let _ = self.sem.release();
    }
}

impl Semaphore {
    fn acquire_with(&self, t: Option<u64>) -> Result<SemaphoreGuard<'_>, Timeout> {
        match wit::semaphore_acquire(self.obj.map.handle, self.obj.offset, t) {
            Ok(()) => Ok(SemaphoreGuard { sem: self }),
            Err(SyncError::Timeout) => Err(Timeout),
            Err(e) => fatal(e),
        }
    }

    /// Waits for a permit.
    pub fn acquire(&self) -> SemaphoreGuard<'_> {
        self.acquire_with(None).unwrap_or_else(|_| unreachable!("an untimed acquire does not time out"))
    }

    /// Takes a permit if one is free now.
    pub fn try_acquire(&self) -> Result<SemaphoreGuard<'_>, Timeout> {
        self.acquire_with(Some(0))
    }

    /// Waits at most `timeout` for a permit.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<SemaphoreGuard<'_>, Timeout> {
        self.acquire_with(ms(timeout))
    }

    /// Gives a permit back without a guard.
    pub fn release(&self) -> Result<(), TooManyReleases> {
        match wit::semaphore_release(self.obj.map.handle, self.obj.offset) {
            Ok(()) => Ok(()),
            Err(SyncError::TooManyReleases) => Err(TooManyReleases),
            Err(e) => fatal(e),
        }
    }

    /// The free permits now.
    pub fn value(&self) -> u32 {
        wit::semaphore_value(self.obj.map.handle, self.obj.offset).unwrap_or_else(|e| fatal(e))
    }
}

/// The host's `wasmproc::Event`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Event {
    obj: Obj,
}

impl Event {
    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        wit::event_set(self.obj.map.handle, self.obj.offset).unwrap_or_else(|e| fatal(e));
    }

    /// Clears the flag.
    pub fn clear(&self) {
        wit::event_clear(self.obj.map.handle, self.obj.offset).unwrap_or_else(|e| fatal(e));
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        wit::event_is_set(self.obj.map.handle, self.obj.offset).unwrap_or_else(|e| fatal(e))
    }

    /// Waits until the flag is set.
    pub fn wait(&self) {
        wit::event_wait(self.obj.map.handle, self.obj.offset, None).unwrap_or_else(|e| fatal(e));
    }

    /// Waits at most `timeout`; returns whether the flag is set.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        wit::event_wait(self.obj.map.handle, self.obj.offset, ms(timeout)).unwrap_or_else(|e| fatal(e))
    }
}

/// The host's `wasmproc::Condition`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Condition {
    obj: Obj,
}

/// The condition's lock, held; released when dropped.
#[must_use = "the lock is released when the guard is dropped"]
#[derive(Debug)]
pub struct ConditionGuard<'a> {
    cond: &'a Condition,
}

impl Drop for ConditionGuard<'_> {
    fn drop(&mut self) {
        let _ = wit::rlock_release(self.cond.obj.map.handle, self.cond.obj.offset);
    }
}

impl Condition {
    /// Takes the condition's lock.
    pub fn acquire(&self) -> Result<ConditionGuard<'_>, AcquireError<ConditionGuard<'_>>> {
        match wit::rlock_acquire(self.obj.map.handle, self.obj.offset, None) {
            Ok(Acquired::Clean) => Ok(ConditionGuard { cond: self }),
            Ok(Acquired::OwnerDied) => Err(AcquireError::OwnerDied(ConditionGuard { cond: self })),
            Err(SyncError::Timeout) => Err(AcquireError::Timeout),
            Err(e) => fatal(e),
        }
    }
}

impl ConditionGuard<'_> {
    fn wait_with(&self, t: Option<u64>) -> bool {
        wit::condition_wait(self.cond.obj.map.handle, self.cond.obj.offset, t).unwrap_or_else(|e| fatal(e))
    }

    /// Releases the lock, waits for a notify, takes the lock back.
    pub fn wait(&self) {
        self.wait_with(None);
    }

    /// Like `wait`, at most `timeout`; false if it timed out.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_with(ms(timeout))
    }

    /// Waits until `predicate()` holds, checking it under the lock after each wake-up.
    pub fn wait_for(&self, mut predicate: impl FnMut() -> bool) {
        while !predicate() {
            self.wait_with(None);
        }
    }

    /// Wakes up to `n` waiters.
    pub fn notify(&self, n: u32) {
        wit::condition_notify(self.cond.obj.map.handle, self.cond.obj.offset, n).unwrap_or_else(|e| fatal(e));
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        self.notify(u32::MAX);
    }
}

/// The host's `wasmproc::Barrier`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Barrier {
    obj: Obj,
}

impl Barrier {
    fn wait_with(&self, t: Option<u64>) -> Result<u32, BarrierError> {
        match wit::barrier_wait(self.obj.map.handle, self.obj.offset, t) {
            Ok(i) => Ok(i),
            Err(SyncError::Timeout) => Err(BarrierError::Timeout),
            Err(SyncError::Broken) => Err(BarrierError::Broken),
            Err(e) => fatal(e),
        }
    }

    /// Waits until all parties wait; returns this caller's arrival index.
    pub fn wait(&self) -> Result<u32, BarrierError> {
        self.wait_with(None)
    }

    /// Like `wait`, at most `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<u32, BarrierError> {
        self.wait_with(ms(timeout))
    }

    /// Breaks the barrier.
    pub fn abort(&self) {
        wit::barrier_abort(self.obj.map.handle, self.obj.offset).unwrap_or_else(|e| fatal(e));
    }

    /// Makes the barrier usable again.
    pub fn reset(&self) {
        wit::barrier_reset(self.obj.map.handle, self.obj.offset).unwrap_or_else(|e| fatal(e));
    }
}
