//! `Connection<T>` inside a task: one end of a pipe the host created (`wasmproc::pipe`).

use crate::queue::{GetError, PutError, Queue};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::{Duration, Instant};

/// One end of a pipe passed to this task — Python's `Connection`, with the host's method names.
///
/// ```ignore
/// #[wasmproc_guest::task]
/// fn sender(conn: wasmproc_guest::Connection<String>) {
///     for msg in ["Hello", "World", "Done"] {
///         conn.send(msg.to_string()).unwrap();
///     }
///     conn.close();
/// }
/// ```
pub struct Connection<T> {
    tx: Option<Queue<T>>,
    rx: Option<Queue<T>>,
}

impl<T> fmt::Debug for Connection<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("readable", &self.rx.is_some())
            .field("writable", &self.tx.is_some())
            .finish()
    }
}

impl<'de, T> Deserialize<'de> for Connection<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (tx, rx) = <(Option<u64>, Option<u64>)>::deserialize(deserializer)?;
        Ok(Connection { tx: tx.map(Queue::from_id), rx: rx.map(Queue::from_id) })
    }
}

impl<T> Serialize for Connection<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (self.tx.as_ref().map(Queue::id), self.rx.as_ref().map(Queue::id)).serialize(serializer)
    }
}

/// Why a send failed; the item comes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError<T> {
    /// The connection (or its peer) is closed.
    Closed(T),
    /// This end of a one-way pipe only receives.
    NotWritable(T),
    /// The item could not be encoded.
    Encode {
        /// The item.
        item: T,
        /// Why.
        reason: String,
    },
}

/// Why a receive returned nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecvError {
    /// Nothing arrived (`try_recv` at once, `recv_timeout` until its timeout).
    Empty,
    /// The peer closed its end and everything it sent was received — Python's `EOFError`.
    Eof,
    /// This end of a one-way pipe only sends.
    NotReadable,
    /// An item did not decode as `T`.
    Decode(String),
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed(_) => f.write_str("connection is closed"),
            SendError::NotWritable(_) => f.write_str("this end of the pipe only receives"),
            SendError::Encode { reason, .. } => write!(f, "item cannot be encoded: {reason}"),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Empty => f.write_str("nothing to receive"),
            RecvError::Eof => f.write_str("end of file: the other end is closed"),
            RecvError::NotReadable => f.write_str("this end of the pipe only sends"),
            RecvError::Decode(e) => write!(f, "item does not decode as the connection's type: {e}"),
        }
    }
}

impl<T: fmt::Debug> std::error::Error for SendError<T> {}
impl std::error::Error for RecvError {}

impl<T: Serialize + DeserializeOwned> Connection<T> {
    /// Sends `item`.
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

    /// Receives the next item, waiting for it.
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

    /// Whether `recv` would return at once (an item, or end of file), waiting up to `timeout`.
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

    /// Closes this end: the peer receives what was sent, then end of file.
    pub fn close(&self) {
        // The receiving side first: a peer that sees end of file must also find its sends refused.
        if let Some(rx) = &self.rx {
            rx.close();
        }
        if let Some(tx) = &self.tx {
            tx.close();
        }
    }

    /// Whether this end can receive.
    pub fn readable(&self) -> bool {
        self.rx.is_some()
    }

    /// Whether this end can send.
    pub fn writable(&self) -> bool {
        self.tx.is_some()
    }
}
