//! What can go wrong with a queue, on either side of the sandbox.

use alloc::string::String;

/// Why a queue operation did not complete: the code the broker answers with and the WIT
/// `queue-error` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum QueueFault {
    /// A get found no item before its timeout.
    Empty,
    /// A put found a bounded queue full until its timeout.
    Full,
    /// The queue is closed (for a get: closed and drained).
    Closed,
    /// No such queue (its last handle was dropped).
    Unknown,
    /// `task_done` was called more times than items were put.
    TooManyTaskDone,
}

/// Why a put failed; the item comes back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PutError<T> {
    /// The queue stayed full (`try_put` at once, `put_timeout` until its timeout).
    #[error("queue is full")]
    Full(T),
    /// The queue is closed, or its owner dropped it.
    #[error("queue is closed")]
    Closed(T),
    /// The item could not be encoded.
    #[error("item cannot be encoded: {reason}")]
    Encode {
        /// The item.
        item: T,
        /// Why.
        reason: String,
    },
}

impl<T> PutError<T> {
    /// The item that was not put.
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(t) | PutError::Closed(t) | PutError::Encode { item: t, .. } => t,
        }
    }

    /// The error a put of `item` that failed with `fault` reports.
    pub fn from_fault(fault: QueueFault, item: T) -> PutError<T> {
        match fault {
            QueueFault::Full => PutError::Full(item),
            QueueFault::Empty | QueueFault::Closed | QueueFault::Unknown | QueueFault::TooManyTaskDone => {
                PutError::Closed(item)
            }
        }
    }
}

/// Why a get returned no item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GetError {
    /// No item arrived (`try_get` at once, `get_timeout` until its timeout — in a task, or the
    /// task's own timeout, whichever comes first).
    #[error("queue is empty")]
    Empty,
    /// The queue is closed and drained, or its owner dropped it.
    #[error("queue is closed")]
    Closed,
    /// An item did not decode as the queue's type (it is consumed; the queue stays usable).
    #[error("item does not decode as the queue's type: {0}")]
    Decode(String),
}

impl GetError {
    /// The error a get that failed with `fault` reports.
    pub fn from_fault(fault: QueueFault) -> GetError {
        match fault {
            QueueFault::Empty => GetError::Empty,
            QueueFault::Full | QueueFault::Closed | QueueFault::Unknown | QueueFault::TooManyTaskDone => {
                GetError::Closed
            }
        }
    }
}

/// `task_done` was called more times than items were put (Python's `ValueError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("task_done() called more times than items were put")]
pub struct TooManyTaskDone;
