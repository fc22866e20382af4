//! `Pipe`: Python's `multiprocessing.Pipe`, two connection ends over a pair of host queues.

use crate::broker::QueueCore;
use crate::context::Context;
use crate::queue::{GetError, PutError, Queue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One end of a pipe — Python's `Connection`. Pass it to a task as an argument
/// (`wasmproc_guest::Connection<T>` there, with the same methods); the other end can stay in the
/// host or go to another task.
///
/// `close` ends the conversation: the peer receives what was already sent, then
/// [`RecvError::Eof`], and its sends fail with [`SendError::Closed`]. The same happens when every
/// holder of this end is gone: the host dropped its handles (clones share one end), and a
/// `Process` or pool task given the end exited — however it exited, killed included.
///
/// ```
/// # fn main() -> wasmproc::Result<()> {
/// let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
/// let (parent, child) = wasmproc::pipe::<String>(&ctx);
/// child.send("hello".to_string()).unwrap();
/// assert_eq!(parent.recv().unwrap(), "hello");
/// child.close();
/// assert_eq!(parent.recv(), Err(wasmproc::RecvError::Eof));
/// # Ok(()) }
/// ```
pub struct Connection<T> {
    tx: Option<Queue<T>>,
    rx: Option<Queue<T>>,
    end: Arc<EndGuard>,
}

/// Closes a pipe end's queues when its last holder (host handle or task) is gone.
struct EndGuard(Vec<Arc<QueueCore>>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        for q in &self.0 {
            q.close();
        }
    }
}

impl<T> Connection<T> {
    fn new(tx: Option<Queue<T>>, rx: Option<Queue<T>>) -> Connection<T> {
        // The receiving side first: a peer that sees end of file must also find its sends refused.
        let end = Arc::new(EndGuard(rx.iter().chain(tx.iter()).map(Queue::core).collect()));
        Connection { tx, rx, end }
    }
}

impl<T> fmt::Debug for Connection<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("readable", &self.rx.is_some())
            .field("writable", &self.tx.is_some())
            .finish()
    }
}

impl<T> Clone for Connection<T> {
    fn clone(&self) -> Self {
        Connection { tx: self.tx.clone(), rx: self.rx.clone(), end: self.end.clone() }
    }
}

/// A connection is sent to tasks as the handles of its two queues.
impl<T> Serialize for Connection<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Through `Queue`'s own impl (same encoding as the ids), so a task that receives this end
        // keeps both queues alive; and the task holds the end itself until it is answered.
        crate::queue::keep_with_task(self.end.clone());
        (self.tx.as_ref(), self.rx.as_ref()).serialize(serializer)
    }
}

/// A duplex pipe — `Pipe()`: both ends send and receive.
pub fn pipe<T: Serialize + DeserializeOwned>(ctx: &Context) -> (Connection<T>, Connection<T>) {
    let (a_to_b, b_to_a) = (Queue::new(ctx), Queue::new(ctx));
    (Connection::new(Some(a_to_b.clone()), Some(b_to_a.clone())), Connection::new(Some(b_to_a), Some(a_to_b)))
}

/// A one-way pipe — `Pipe(duplex=False)`: returns `(receiving end, sending end)`, in Python's order.
pub fn pipe_simplex<T: Serialize + DeserializeOwned>(ctx: &Context) -> (Connection<T>, Connection<T>) {
    let q = Queue::new(ctx);
    (Connection::new(None, Some(q.clone())), Connection::new(Some(q), None))
}

/// Why a send failed; the item comes back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError<T> {
    /// The connection (or its peer) is closed.
    #[error("connection is closed")]
    Closed(T),
    /// This end of a one-way pipe only receives.
    #[error("this end of the pipe only receives")]
    NotWritable(T),
    /// The item could not be encoded.
    #[error("item cannot be encoded: {reason}")]
    Encode {
        /// The item.
        item: T,
        /// Why.
        reason: String,
    },
}

/// Why a receive returned nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// Nothing arrived (`try_recv` at once, `recv_timeout` until its timeout).
    #[error("nothing to receive")]
    Empty,
    /// The peer closed its end and everything it sent was received — Python's `EOFError`.
    #[error("end of file: the other end is closed")]
    Eof,
    /// This end of a one-way pipe only sends.
    #[error("this end of the pipe only sends")]
    NotReadable,
    /// An item did not decode as `T`.
    #[error("item does not decode as the connection's type: {0}")]
    Decode(String),
}

impl<T: Serialize + DeserializeOwned> Connection<T> {
    /// Sends `item` — `conn.send(obj)`.
    pub fn send(&self, item: T) -> Result<(), SendError<T>> {
        let Some(tx) = &self.tx else { return Err(SendError::NotWritable(item)) };
        tx.put(item).map_err(|e| match e {
            PutError::Encode { item, reason } => SendError::Encode { item, reason },
            other => SendError::Closed(other.into_inner()),
        })
    }

    fn recv_with(&self, get: impl FnOnce(&Queue<T>) -> Result<T, GetError>) -> Result<T, RecvError> {
        let Some(rx) = &self.rx else { return Err(RecvError::NotReadable) };
        get(rx).map_err(|e| match e {
            GetError::Empty => RecvError::Empty,
            GetError::Closed => RecvError::Eof,
            GetError::Decode(d) => RecvError::Decode(d),
        })
    }

    /// Receives the next item, waiting for it — `conn.recv()`.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_with(Queue::get)
    }

    /// Receives an item if one is waiting.
    pub fn try_recv(&self) -> Result<T, RecvError> {
        self.recv_with(Queue::try_get)
    }

    /// Receives the next item, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvError> {
        self.recv_with(|q| q.get_timeout(timeout))
    }

    /// Whether `recv` would return at once (an item, or end of file), waiting up to `timeout` —
    /// `conn.poll(timeout)`.
    pub fn poll(&self, timeout: Duration) -> bool {
        let Some(rx) = &self.rx else { return false };
        let deadline = Instant::now() + timeout;
        loop {
            if !rx.is_empty() || rx.is_closed() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(1)));
        }
    }

    /// Closes this end — `conn.close()`: the peer receives what was sent, then end of file.
    pub fn close(&self) {
        // The receiving side first: a peer that sees end of file must also find its sends refused.
        if let Some(rx) = &self.rx {
            rx.close();
        }
        if let Some(tx) = &self.tx {
            tx.close();
        }
    }

    /// Whether this end can receive — `conn.readable`.
    pub fn readable(&self) -> bool {
        self.rx.is_some()
    }

    /// Whether this end can send — `conn.writable`.
    pub fn writable(&self) -> bool {
        self.tx.is_some()
    }
}
