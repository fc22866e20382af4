//! One end of a pipe, with the same behaviour on both sides of the sandbox.
//!
//! A pipe is two queues, one per direction (one queue for a one-way pipe). An end sends on one and
//! receives on the other; each side of the sandbox supplies its own queue type through [`Channel`],
//! and [`Ends`] adds the pipe's rules on top: which end may send or receive, what a closed
//! peer looks like (end of file), the order in which an end closes.

use crate::queue::{GetError, PutError};
use alloc::string::String;
use core::fmt;
use core::time::Duration;

/// How long a blocking queue call may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Until it can complete.
    Forever,
    /// Not at all.
    Now,
    /// At most this long.
    For(Duration),
}

/// A queue as a pipe end uses it; implemented by the host's and the guest's `Queue<T>`.
pub trait Channel {
    /// What the queue carries.
    type Item;
    /// Appends `item`, waiting while a bounded queue is full.
    fn put(&self, item: Self::Item) -> Result<(), PutError<Self::Item>>;
    /// Removes the oldest item, waiting as `wait` says while the queue is empty.
    fn get(&self, wait: Wait) -> Result<Self::Item, GetError>;
    /// Waits at most `timeout` until a get would return at once (an item, or the queue closed);
    /// returns whether it would.
    fn poll(&self, timeout: Duration) -> bool;
    /// Closes the queue: puts fail, gets drain what is left and then fail.
    fn close(&self);
}

/// The two queues of one pipe end, and the pipe's rules over them: the logic of every
/// `Connection<T>` (see [`define_connection!`](crate::define_connection)), host and guest alike.
pub struct Ends<Q> {
    tx: Option<Q>,
    rx: Option<Q>,
}

impl<Q> Ends<Q> {
    /// An end sending on `tx` and receiving on `rx` (either may be missing for a one-way pipe).
    pub fn new(tx: Option<Q>, rx: Option<Q>) -> Ends<Q> {
        Ends { tx, rx }
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

impl<Q: Channel> Ends<Q> {
    /// Sends `item`.
    pub fn send(&self, item: Q::Item) -> Result<(), SendError<Q::Item>> {
        let Some(tx) = &self.tx else { return Err(SendError::NotWritable(item)) };
        tx.put(item).map_err(|e| match e {
            PutError::Encode { item, reason } => SendError::Encode { item, reason },
            other => SendError::Closed(other.into_inner()),
        })
    }

    /// Receives the next item, waiting as `wait` says.
    pub fn recv(&self, wait: Wait) -> Result<Q::Item, RecvError> {
        let Some(rx) = &self.rx else { return Err(RecvError::NotReadable) };
        rx.get(wait).map_err(|e| match e {
            GetError::Empty => RecvError::Empty,
            GetError::Closed => RecvError::Eof,
            GetError::Decode(d) => RecvError::Decode(d),
        })
    }

    /// Whether a receive would return at once, waiting up to `timeout`; false for an end that only
    /// sends.
    pub fn poll(&self, timeout: Duration) -> bool {
        self.rx.as_ref().is_some_and(|rx| rx.poll(timeout))
    }

    /// Closes this end.
    pub fn close(&self) {
        // The receiving side first: a peer that sees end of file must also find its sends refused.
        if let Some(rx) = &self.rx {
            rx.close();
        }
        if let Some(tx) = &self.tx {
            tx.close();
        }
    }
}

impl<Q: Clone> Clone for Ends<Q> {
    fn clone(&self) -> Self {
        Ends { tx: self.tx.clone(), rx: self.rx.clone() }
    }
}

impl<Q> fmt::Debug for Ends<Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection").field("readable", &self.readable()).field("writable", &self.writable()).finish()
    }
}

/// An end crosses the sandbox as its two queue handles, `(sending, receiving)`.
impl<Q: serde::Serialize> serde::Serialize for Ends<Q> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (&self.tx, &self.rx).serialize(serializer)
    }
}

impl<'de, Q: serde::Deserialize<'de>> serde::Deserialize<'de> for Ends<Q> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (tx, rx) = <(Option<Q>, Option<Q>)>::deserialize(deserializer)?;
        Ok(Ends { tx, rx })
    }
}

/// Defines `Connection<T>` — one end of a pipe, Python's `Connection` — over a queue type
/// `$queue<T>` of the calling crate that implements [`Channel`]. Host and guest SDK each invoke it
/// once, so both have a `Connection<T>` of their own (tasks declare `Connection<String>`, hosts
/// pass `Connection<String>`) with one behaviour: [`Ends`]'.
#[macro_export]
macro_rules! define_connection {
    ($(#[$doc:meta])* $queue:ident) => {
        $(#[$doc])*
        ///
        /// `close` ends the conversation: the peer receives what was already sent, then
        /// [`RecvError::Eof`]($crate::RecvError::Eof), and its sends fail with
        /// [`SendError::Closed`]($crate::SendError::Closed).
        pub struct Connection<T>($crate::pipe::Ends<$queue<T>>);

        impl<T> Connection<T> {
            /// An end over its queues (`pipe()` makes them).
            #[allow(dead_code, reason = "a guest receives its ends from the host and never makes one")]
            pub(crate) fn from_ends(ends: $crate::pipe::Ends<$queue<T>>) -> Connection<T> {
                Connection(ends)
            }

            /// Whether this end can receive — `conn.readable`.
            pub fn readable(&self) -> bool {
                self.0.readable()
            }

            /// Whether this end can send — `conn.writable`.
            pub fn writable(&self) -> bool {
                self.0.writable()
            }
        }

        impl<T> Connection<T>
        where
            $queue<T>: $crate::Channel<Item = T>,
        {
            /// Sends `item` — `conn.send(obj)`.
            pub fn send(&self, item: T) -> ::core::result::Result<(), $crate::SendError<T>> {
                self.0.send(item)
            }

            /// Receives the next item, waiting for it — `conn.recv()`.
            pub fn recv(&self) -> ::core::result::Result<T, $crate::RecvError> {
                self.0.recv($crate::Wait::Forever)
            }

            /// Receives an item if one is waiting.
            pub fn try_recv(&self) -> ::core::result::Result<T, $crate::RecvError> {
                self.0.recv($crate::Wait::Now)
            }

            /// Receives the next item, waiting at most `timeout`.
            pub fn recv_timeout(&self, timeout: ::core::time::Duration) -> ::core::result::Result<T, $crate::RecvError> {
                self.0.recv($crate::Wait::For(timeout))
            }

            /// Whether `recv` would return at once (an item, or end of file), waiting up to
            /// `timeout` — `conn.poll(timeout)`. Always false for an end that only sends.
            pub fn poll(&self, timeout: ::core::time::Duration) -> bool {
                self.0.poll(timeout)
            }

            /// Closes this end — `conn.close()`: the peer receives what was sent, then end of file.
            pub fn close(&self) {
                self.0.close()
            }
        }

        impl<T> ::core::clone::Clone for Connection<T>
        where
            $queue<T>: ::core::clone::Clone,
        {
            fn clone(&self) -> Self {
                Connection(self.0.clone())
            }
        }

        impl<T> ::core::fmt::Debug for Connection<T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                self.0.fmt(f)
            }
        }

        /// An end is passed to a task as the handles of its two queues.
        impl<T> $crate::__serde::Serialize for Connection<T>
        where
            $queue<T>: $crate::__serde::Serialize,
        {
            fn serialize<S: $crate::__serde::Serializer>(&self, serializer: S) -> ::core::result::Result<S::Ok, S::Error> {
                self.0.serialize(serializer)
            }
        }
    };
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

impl<T> SendError<T> {
    /// The item that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            SendError::Closed(t) | SendError::NotWritable(t) | SendError::Encode { item: t, .. } => t,
        }
    }
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
    /// An item did not decode as the connection's type.
    #[error("item does not decode as the connection's type: {0}")]
    Decode(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::QueueFault;
    use alloc::collections::VecDeque;
    use alloc::rc::Rc;
    use alloc::vec::Vec;
    use core::cell::RefCell;

    /// A queue in one thread's memory, recording closes.
    #[derive(Clone, Default)]
    struct Local(Rc<RefCell<(VecDeque<u32>, bool)>>, Rc<RefCell<Vec<&'static str>>>, &'static str);

    impl Channel for Local {
        type Item = u32;
        fn put(&self, item: u32) -> Result<(), PutError<u32>> {
            let mut q = self.0.borrow_mut();
            if q.1 {
                return Err(PutError::from_fault(QueueFault::Closed, item));
            }
            q.0.push_back(item);
            Ok(())
        }
        fn get(&self, _: Wait) -> Result<u32, GetError> {
            let mut q = self.0.borrow_mut();
            match q.0.pop_front() {
                Some(x) => Ok(x),
                None if q.1 => Err(GetError::Closed),
                None => Err(GetError::Empty),
            }
        }
        fn poll(&self, _: Duration) -> bool {
            let q = self.0.borrow();
            !q.0.is_empty() || q.1
        }
        fn close(&self) {
            self.0.borrow_mut().1 = true;
            self.1.borrow_mut().push(self.2);
        }
    }

    #[test]
    fn a_duplex_pair_delivers_then_reads_end_of_file_and_closes_receiving_first() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let (ab, ba) = (Local(Default::default(), log.clone(), "a→b"), Local(Default::default(), log.clone(), "b→a"));
        let a = Ends::new(Some(ab.clone()), Some(ba.clone()));
        let b = Ends::new(Some(ba), Some(ab));
        a.send(1).unwrap();
        assert!(b.poll(Duration::ZERO));
        assert_eq!(b.recv(Wait::Forever), Ok(1));
        assert_eq!(b.recv(Wait::Now), Err(RecvError::Empty));
        a.close();
        assert_eq!(*log.borrow(), ["b→a", "a→b"], "the receiving queue closes first");
        assert_eq!(b.recv(Wait::Forever), Err(RecvError::Eof));
        assert_eq!(b.send(2), Err(SendError::Closed(2)));
    }

    #[test]
    fn one_way_ends_keep_their_direction() {
        let q = Local(Default::default(), Default::default(), "q");
        let (r, w) = (Ends::new(None, Some(q.clone())), Ends::new(Some(q), None));
        assert_eq!((r.readable(), r.writable(), w.readable(), w.writable()), (true, false, false, true));
        assert_eq!(r.send(1), Err(SendError::NotWritable(1)));
        assert_eq!(w.recv(Wait::Forever), Err(RecvError::NotReadable));
        assert!(!w.poll(Duration::ZERO));
    }
}
