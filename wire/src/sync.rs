//! What can go wrong with a lock, semaphore, event, condition or barrier, on either side of the
//! sandbox.

use crate::shm::ShmError;

/// Why a synchronization call did not succeed: the code the primitives return and the WIT
/// `sync-error` carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncFault {
    /// The timeout passed first.
    #[error("timed out")]
    Timeout,
    /// Release of a lock the caller does not hold (or a condition used without its lock).
    #[error("the lock is not held")]
    NotHeld,
    /// A bounded semaphore was released more often than acquired.
    #[error("semaphore released too many times")]
    TooManyReleases,
    /// The barrier was aborted, or a waiter timed out.
    #[error("the barrier is broken")]
    Broken,
    /// The object's words could not be accessed.
    #[error(transparent)]
    Region(#[from] ShmError),
}

/// How a lock was acquired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// Normally.
    Clean,
    /// Its previous owner died holding it: what it guards may be half-updated.
    OwnerDied,
}

/// Why an acquire did not give a clean lock.
#[derive(Debug, thiserror::Error)]
pub enum AcquireError<G> {
    /// The timeout passed (`try_acquire` at once, `acquire_timeout` after its timeout).
    #[error("timed out")]
    Timeout,
    /// The lock *was* acquired, but its previous owner died holding it: what it guards may be
    /// half-updated. The guard is inside (`into_guard`) — like `std::sync::PoisonError`.
    #[error("the previous owner died while holding the lock")]
    OwnerDied(G),
}

impl<G> AcquireError<G> {
    /// The guard of a lock taken over from a dead owner; `None` for a timeout.
    pub fn into_guard(self) -> Option<G> {
        match self {
            AcquireError::OwnerDied(g) => Some(g),
            AcquireError::Timeout => None,
        }
    }
}

/// Released a lock that was not held (by the caller, for an `RLock`), or a condition used
/// without its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the lock is not held")]
pub struct NotHeld;

/// A semaphore had no permit before the timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timed out")]
pub struct Timeout;

/// A bounded semaphore was released more often than it was acquired (Python's `ValueError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("semaphore released too many times")]
pub struct TooManyReleases;

/// Why a barrier wait did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BarrierError {
    /// The barrier is broken: aborted, or another waiter timed out (Python's
    /// `BrokenBarrierError`).
    #[error("the barrier is broken")]
    Broken,
    /// This waiter timed out, which broke the barrier for everyone.
    #[error("timed out (the barrier is now broken)")]
    Timeout,
}
