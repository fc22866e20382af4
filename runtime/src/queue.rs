//! `Queue<T>`: Python's `multiprocessing.Queue`, owned by the host and shared with guests.

use crate::broker::QueueCore;
use crate::context::{Context, ContextInner};
use crate::error::Result;
use crate::keep;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmproc_wire::codec;
use wasmproc_wire::handle::QueueHandle;
use wasmproc_wire::{Channel, GetError, PutError, TooManyTaskDone, Wait};

/// A FIFO queue of `T` shared by the host and any guests: `multiprocessing.Queue`.
///
/// Pass it to a task as an argument (`wasmproc_guest::Queue<T>` on the guest side, with the same
/// methods); it serializes as a handle, not by value. Items travel postcard-encoded. The queue
/// lives while the host holds a handle (clones share it); after that, guests get
/// `QueueError::Unknown`.
///
/// Method families follow crossbeam-channel: `put`/`try_put`/`put_timeout`,
/// `get`/`try_get`/`get_timeout`; a failed put hands the item back.
///
/// ```
/// # fn main() -> wasmproc::Result<()> {
/// let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
/// let q = wasmproc::Queue::<String>::bounded(&ctx, 1)?;
/// q.put("hello".to_string()).unwrap();
/// assert!(matches!(q.try_put("world".to_string()), Err(wasmproc::PutError::Full(w)) if w == "world"));
/// assert_eq!(q.get().unwrap(), "hello");
/// q.close();
/// assert!(matches!(q.get(), Err(wasmproc::GetError::Closed)));
/// # Ok(()) }
/// ```
pub struct Queue<T> {
    inner: Arc<Inner>,
    /// Kept alive with this handle and with any call it is passed to (a pipe end's guard).
    holder: Option<Arc<dyn Any + Send + Sync>>,
    _items: PhantomData<fn(T) -> T>,
}

struct Inner {
    id: u64,
    core: Arc<QueueCore>,
    ctx: Arc<ContextInner>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ctx.broker.remove(self.id);
    }
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue { inner: self.inner.clone(), holder: self.holder.clone(), _items: PhantomData }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue").field("id", &self.inner.id).field("len", &self.inner.core.len()).finish()
    }
}

/// A queue is sent to tasks as its handle; the task keeps it alive until it is answered.
impl<T> Serialize for Queue<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        keep::with_call(self.inner.clone());
        if let Some(holder) = &self.holder {
            keep::with_call(holder.clone());
        }
        QueueHandle(self.inner.id).serialize(serializer)
    }
}

impl<T> Queue<T> {
    /// The shared state, for a pipe end that closes it when the end's last holder is gone.
    pub(crate) fn core(&self) -> Arc<QueueCore> {
        self.inner.core.clone()
    }

    /// This handle, keeping `holder` alive with it (and with any call it is passed to).
    pub(crate) fn held_by(&self, holder: Arc<dyn Any + Send + Sync>) -> Queue<T> {
        Queue { inner: self.inner.clone(), holder: Some(holder), _items: PhantomData }
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// An unbounded queue — `ctx.Queue()`.
    pub fn new(ctx: &Context) -> Result<Queue<T>> {
        Ok(Self::with_capacity(ctx, None))
    }

    /// A queue of at most `capacity` items; puts wait while it is full — `ctx.Queue(maxsize=n)`.
    pub fn bounded(ctx: &Context, capacity: usize) -> Result<Queue<T>> {
        Ok(Self::with_capacity(ctx, Some(capacity.max(1))))
    }

    fn with_capacity(ctx: &Context, capacity: Option<usize>) -> Queue<T> {
        let (id, core) = ctx.inner.broker.create(capacity);
        Queue { inner: Arc::new(Inner { id, core, ctx: ctx.inner.clone() }), holder: None, _items: PhantomData }
    }

    fn put_until(&self, item: T, deadline: Option<Instant>) -> std::result::Result<(), PutError<T>> {
        let bytes = match codec::to_item(&item) {
            Ok(b) => b,
            Err(e) => return Err(PutError::Encode { item, reason: e.to_string() }),
        };
        self.inner.core.put(bytes, deadline).map_err(|(fault, _)| PutError::from_fault(fault, item))
    }

    fn get_until(&self, deadline: Option<Instant>) -> std::result::Result<T, GetError> {
        let bytes = self.inner.core.get(deadline).map_err(GetError::from_fault)?;
        codec::from_item(&bytes).map_err(|e| GetError::Decode(e.to_string()))
    }

    /// Appends `item`, waiting while the queue is full — `q.put(item)`.
    pub fn put(&self, item: T) -> std::result::Result<(), PutError<T>> {
        self.put_until(item, None)
    }

    /// Appends `item` if there is room now — `q.put_nowait(item)`.
    pub fn try_put(&self, item: T) -> std::result::Result<(), PutError<T>> {
        self.put_until(item, Some(Instant::now()))
    }

    /// Appends `item`, waiting at most `timeout` for room — `q.put(item, timeout=…)`.
    pub fn put_timeout(&self, item: T, timeout: Duration) -> std::result::Result<(), PutError<T>> {
        self.put_until(item, Some(Instant::now() + timeout))
    }

    /// Removes the oldest item, waiting while the queue is empty — `q.get()`.
    pub fn get(&self) -> std::result::Result<T, GetError> {
        self.get_until(None)
    }

    /// Removes the oldest item if there is one — `q.get_nowait()`.
    pub fn try_get(&self) -> std::result::Result<T, GetError> {
        self.get_until(Some(Instant::now()))
    }

    /// Removes the oldest item, waiting at most `timeout` — `q.get(timeout=…)`.
    pub fn get_timeout(&self, timeout: Duration) -> std::result::Result<T, GetError> {
        self.get_until(Some(Instant::now() + timeout))
    }

    /// The number of items waiting — `q.qsize()`.
    pub fn len(&self) -> usize {
        self.inner.core.len()
    }

    /// Whether no item is waiting — `q.empty()`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a bounded queue is at capacity — `q.full()`.
    pub fn is_full(&self) -> bool {
        self.capacity().is_some_and(|c| self.len() >= c)
    }

    /// The bound, if any.
    pub fn capacity(&self) -> Option<usize> {
        self.inner.core.capacity()
    }

    /// Closes the queue: puts fail from now on, gets drain what is left and then fail with
    /// [`GetError::Closed`] — `q.close()`, but also wakes every waiter (the way to tell consumers
    /// the work is over without a sentinel).
    pub fn close(&self) {
        self.inner.core.close();
    }

    /// Whether the queue was closed.
    pub fn is_closed(&self) -> bool {
        self.inner.core.is_closed()
    }
}

/// Python's `SimpleQueue`: an unbounded [`Queue`] (every method of `Queue` works on it).
pub type SimpleQueue<T> = Queue<T>;

/// A [`Queue`] that also counts unfinished items — Python's `JoinableQueue`. Every successful
/// put adds one; [`task_done`](JoinableQueue::task_done) (from the host or a task) removes one;
/// [`join`](JoinableQueue::join) waits until none are left. All `Queue` methods are available
/// through `Deref`.
///
/// ```
/// # fn main() -> wasmproc::Result<()> {
/// let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
/// let q = wasmproc::JoinableQueue::<u32>::new(&ctx)?;
/// q.put(1).unwrap();
/// assert!(!q.join_timeout(std::time::Duration::from_millis(10)));
/// assert_eq!(q.get().unwrap(), 1);
/// q.task_done().unwrap();
/// q.join();
/// # Ok(()) }
/// ```
pub struct JoinableQueue<T>(Queue<T>);

impl<T> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        JoinableQueue(self.0.clone())
    }
}

impl<T> fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JoinableQueue").field(&self.0).field(&self.0.inner.core.unfinished()).finish()
    }
}

impl<T> std::ops::Deref for JoinableQueue<T> {
    type Target = Queue<T>;
    fn deref(&self) -> &Queue<T> {
        &self.0
    }
}

impl<T> Serialize for JoinableQueue<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<T: Serialize + DeserializeOwned> JoinableQueue<T> {
    /// An unbounded joinable queue — `ctx.JoinableQueue()`.
    pub fn new(ctx: &Context) -> Result<JoinableQueue<T>> {
        Queue::new(ctx).map(JoinableQueue)
    }

    /// A joinable queue of at most `capacity` items.
    pub fn bounded(ctx: &Context, capacity: usize) -> Result<JoinableQueue<T>> {
        Queue::bounded(ctx, capacity).map(JoinableQueue)
    }

    /// Marks one item as processed — `q.task_done()`.
    pub fn task_done(&self) -> std::result::Result<(), TooManyTaskDone> {
        self.0.inner.core.task_done().map_err(|_| TooManyTaskDone)
    }

    /// Waits until every item put has been marked done — `q.join()`.
    pub fn join(&self) {
        self.0.inner.core.join(None);
    }

    /// Like [`join`](JoinableQueue::join), giving up after `timeout`; returns whether all were done.
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.0.inner.core.join(Some(Instant::now() + timeout))
    }

    /// Items put and not yet marked done.
    pub fn unfinished(&self) -> usize {
        self.0.inner.core.unfinished()
    }
}

/// A queue is one direction of a pipe (see `pipe`).
impl<T: Serialize + DeserializeOwned> Channel for Queue<T> {
    type Item = T;

    fn put(&self, item: T) -> std::result::Result<(), PutError<T>> {
        self.put_until(item, None)
    }

    fn get(&self, wait: Wait) -> std::result::Result<T, GetError> {
        self.get_until(match wait {
            Wait::Forever => None,
            Wait::Now => Some(Instant::now()),
            Wait::For(d) => Some(Instant::now() + d),
        })
    }

    fn poll(&self, timeout: Duration) -> bool {
        self.inner.core.poll(Some(Instant::now() + timeout))
    }

    fn close(&self) {
        self.inner.core.close();
    }
}
