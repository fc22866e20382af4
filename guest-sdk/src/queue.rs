//! `Queue<T>` inside a task: the same queue the host created, reached through the host.

use crate::bindings::wasmproc::task::queue::{self as wit, QueueError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};
use wasmproc_wire::codec;
use wasmproc_wire::handle::QueueHandle;
use wasmproc_wire::{Channel, GetError, PutError, QueueFault, TooManyTaskDone, Wait};

/// A queue created by the host (`wasmproc::Queue<T>`) and passed to this task as an argument —
/// Python's `multiprocessing.Queue` inside a worker. Items are postcard-encoded, so `T` must match
/// the host's `T`.
///
/// ```no_run
/// #[wasmproc_guest::task]
/// fn square(numbers: Vec<u64>, q: wasmproc_guest::Queue<u64>) {
///     for n in numbers {
///         q.put(n * n).unwrap();
///     }
/// }
/// ```
pub struct Queue<T> {
    id: u64,
    _items: PhantomData<fn(T) -> T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue { id: self.id, _items: PhantomData }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue").field("id", &self.id).finish()
    }
}

/// A queue arrives as its handle.
impl<'de, T> Deserialize<'de> for Queue<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Queue { id: QueueHandle::deserialize(deserializer)?.0, _items: PhantomData })
    }
}

/// A queue is passed on (to the host, or in an item) as its handle.
impl<T> Serialize for Queue<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        QueueHandle(self.id).serialize(serializer)
    }
}

/// The wire code of a WIT queue error.
fn fault(e: QueueError) -> QueueFault {
    match e {
        QueueError::Empty => QueueFault::Empty,
        QueueError::Full => QueueFault::Full,
        QueueError::Closed => QueueFault::Closed,
        QueueError::Unknown => QueueFault::Unknown,
        QueueError::TooManyTaskDone => QueueFault::TooManyTaskDone,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    fn put_with(&self, item: T, timeout_ms: Option<u64>) -> Result<(), PutError<T>> {
        let bytes = match codec::to_item(&item) {
            Ok(b) => b,
            Err(e) => return Err(PutError::Encode { item, reason: e.to_string() }),
        };
        wit::put(self.id, &bytes, timeout_ms).map_err(|e| PutError::from_fault(fault(e), item))
    }

    fn get_with(&self, timeout_ms: Option<u64>) -> Result<T, GetError> {
        let bytes = wit::get(self.id, timeout_ms).map_err(|e| GetError::from_fault(fault(e)))?;
        codec::from_item(&bytes).map_err(|e| GetError::Decode(e.to_string()))
    }

    /// Appends `item`, waiting while the queue is full.
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.put_with(item, None)
    }

    /// Appends `item` if there is room now.
    pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
        self.put_with(item, Some(0))
    }

    /// Appends `item`, waiting at most `timeout` for room.
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.put_with(item, Some(millis(timeout)))
    }

    /// Removes the oldest item, waiting while the queue is empty.
    pub fn get(&self) -> Result<T, GetError> {
        self.get_with(None)
    }

    /// Removes the oldest item if there is one.
    pub fn try_get(&self) -> Result<T, GetError> {
        self.get_with(Some(0))
    }

    /// Removes the oldest item, waiting at most `timeout`.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.get_with(Some(millis(timeout)))
    }

    /// The number of items waiting (0 if the queue is gone).
    pub fn len(&self) -> usize {
        wit::len(self.id).map(|n| n as usize).unwrap_or(0)
    }

    /// Whether no item is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes the queue for everyone: puts fail, gets drain and then fail.
    pub fn close(&self) {
        let _ = wit::close(self.id);
    }

    /// Whether the queue was closed (or its owner dropped it).
    pub fn is_closed(&self) -> bool {
        wit::is_closed(self.id).unwrap_or(true)
    }
}

/// Python's `SimpleQueue`: an unbounded [`Queue`].
pub type SimpleQueue<T> = Queue<T>;

/// A host `JoinableQueue<T>` passed to this task: a [`Queue`] (through `Deref`) plus
/// `task_done` and `join`.
pub struct JoinableQueue<T>(Queue<T>);

impl<T> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        JoinableQueue(self.0.clone())
    }
}

impl<T> fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JoinableQueue").field(&self.0).finish()
    }
}

impl<T> std::ops::Deref for JoinableQueue<T> {
    type Target = Queue<T>;
    fn deref(&self) -> &Queue<T> {
        &self.0
    }
}

impl<'de, T> Deserialize<'de> for JoinableQueue<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Queue::deserialize(deserializer).map(JoinableQueue)
    }
}

impl<T> Serialize for JoinableQueue<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<T> JoinableQueue<T> {
    /// Marks one item taken from the queue as processed.
    pub fn task_done(&self) -> Result<(), TooManyTaskDone> {
        wit::task_done(self.0.id).map_err(|_| TooManyTaskDone)
    }

    /// Waits until every item put has been marked done.
    pub fn join(&self) {
        let mut backoff = Duration::from_micros(20);
        while wit::unfinished(self.0.id).is_ok_and(|n| n > 0) {
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_millis(2));
        }
    }
}

/// A queue is one direction of a pipe (see `Connection`).
impl<T: Serialize + DeserializeOwned> Channel for Queue<T> {
    type Item = T;

    fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.put_with(item, None)
    }

    fn get(&self, wait: Wait) -> Result<T, GetError> {
        self.get_with(match wait {
            Wait::Forever => None,
            Wait::Now => Some(0),
            Wait::For(d) => Some(millis(d)),
        })
    }

    fn poll(&self, timeout: Duration) -> bool {
        // The interface has no wait-without-taking: look, then look again shortly.
        let deadline = Instant::now() + timeout;
        loop {
            if !self.is_empty() || self.is_closed() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(1)));
        }
    }

    fn close(&self) {
        let _ = wit::close(self.id);
    }
}
