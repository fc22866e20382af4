//! The broker: queues owned by the host and shared with every worker of its context.
//!
//! Host threads block on a queue directly (a condition variable). Guests reach it through their
//! worker, which sends non-blocking requests over its socket and polls with backoff for the
//! blocking ones: the host parks nothing on a worker's behalf, so a worker that dies mid-`get`
//! strands no state (an item already handed to a dying worker is lost with it, as in Python).

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// Why a queue operation did not complete (the WIT `queue-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum QueueFault {
    Empty,
    Full,
    Closed,
    Unknown,
    TooManyTaskDone,
}

#[derive(Debug, Default)]
pub(crate) struct Broker {
    next: AtomicU64,
    queues: Mutex<HashMap<u64, Arc<QueueCore>>>,
}

impl Broker {
    pub(crate) fn create(&self, capacity: Option<usize>) -> (u64, Arc<QueueCore>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let core = Arc::new(QueueCore::new(capacity));
        self.queues.lock().unwrap_or_else(|p| p.into_inner()).insert(id, core.clone());
        (id, core)
    }

    pub(crate) fn get(&self, id: u64) -> Option<Arc<QueueCore>> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    /// Forgets queue `id` (its last host handle is gone).
    pub(crate) fn remove(&self, id: u64) {
        self.queues.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }

    /// Serves one request from a worker, without blocking.
    pub(crate) fn serve(&self, op: QueueOp, payload: Vec<u8>) -> (QueueReply, Vec<u8>) {
        let Some(q) = self.get(op.queue()) else { return (QueueReply::Err(QueueFault::Unknown), Vec::new()) };
        match op {
            QueueOp::Put { .. } => match q.put(payload, Some(Instant::now())) {
                Ok(()) => (QueueReply::Ok, Vec::new()),
                Err((fault, _)) => (QueueReply::Err(fault), Vec::new()),
            },
            QueueOp::Get { .. } => match q.get(Some(Instant::now())) {
                Ok(item) => (QueueReply::Ok, item),
                Err(fault) => (QueueReply::Err(fault), Vec::new()),
            },
            QueueOp::Len { .. } => (QueueReply::Len(q.len() as u64), Vec::new()),
            QueueOp::Close { .. } => {
                q.close();
                (QueueReply::Ok, Vec::new())
            }
            QueueOp::IsClosed { .. } => (QueueReply::Len(u64::from(q.is_closed())), Vec::new()),
            QueueOp::TaskDone { .. } => match q.task_done() {
                Ok(()) => (QueueReply::Ok, Vec::new()),
                Err(f) => (QueueReply::Err(f), Vec::new()),
            },
            QueueOp::Unfinished { .. } => (QueueReply::Len(q.unfinished() as u64), Vec::new()),
        }
    }
}

/// A request from a worker; `Put` carries the item as the frame's payload.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) enum QueueOp {
    Put { queue: u64 },
    Get { queue: u64 },
    Len { queue: u64 },
    Close { queue: u64 },
    IsClosed { queue: u64 },
    TaskDone { queue: u64 },
    Unfinished { queue: u64 },
}

impl QueueOp {
    fn queue(self) -> u64 {
        match self {
            QueueOp::Put { queue }
            | QueueOp::Get { queue }
            | QueueOp::Len { queue }
            | QueueOp::Close { queue }
            | QueueOp::IsClosed { queue }
            | QueueOp::TaskDone { queue }
            | QueueOp::Unfinished { queue } => queue,
        }
    }
}

/// The answer; `Ok` to a `Get` carries the item as the frame's payload.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) enum QueueReply {
    Ok,
    Len(u64),
    Err(QueueFault),
}

/// One queue: FIFO, optionally bounded, closable.
#[derive(Debug)]
pub(crate) struct QueueCore {
    state: Mutex<State>,
    not_empty: Condvar,
    not_full: Condvar,
    all_done: Condvar,
    capacity: Option<usize>,
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<Vec<u8>>,
    closed: bool,
    /// Items put and not yet marked done (`JoinableQueue`).
    unfinished: usize,
}

impl QueueCore {
    fn new(capacity: Option<usize>) -> QueueCore {
        QueueCore {
            state: Mutex::default(),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            all_done: Condvar::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    /// Appends `item`, waiting until `deadline` (`None`: forever) while the queue is full. On
    /// failure the item comes back.
    pub(crate) fn put(&self, item: Vec<u8>, deadline: Option<Instant>) -> Result<(), (QueueFault, Vec<u8>)> {
        let mut st = self.lock();
        loop {
            if st.closed {
                return Err((QueueFault::Closed, item));
            }
            if self.capacity.is_none_or(|c| st.items.len() < c) {
                st.items.push_back(item);
                st.unfinished += 1;
                drop(st);
                self.not_empty.notify_one();
                return Ok(());
            }
            st = match wait(&self.not_full, st, deadline) {
                Some(st) => st,
                None => return Err((QueueFault::Full, item)),
            };
        }
    }

    /// Removes the oldest item, waiting until `deadline` (`None`: forever) while the queue is empty.
    pub(crate) fn get(&self, deadline: Option<Instant>) -> Result<Vec<u8>, QueueFault> {
        let mut st = self.lock();
        loop {
            if let Some(item) = st.items.pop_front() {
                drop(st);
                self.not_full.notify_one();
                return Ok(item);
            }
            if st.closed {
                return Err(QueueFault::Closed);
            }
            st = match wait(&self.not_empty, st, deadline) {
                Some(st) => st,
                None => return Err(QueueFault::Empty),
            };
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Marks one item as processed.
    pub(crate) fn task_done(&self) -> Result<(), QueueFault> {
        let mut st = self.lock();
        if st.unfinished == 0 {
            return Err(QueueFault::TooManyTaskDone);
        }
        st.unfinished -= 1;
        if st.unfinished == 0 {
            self.all_done.notify_all();
        }
        Ok(())
    }

    pub(crate) fn unfinished(&self) -> usize {
        self.lock().unfinished
    }

    /// Waits until every item put was marked done, or `deadline`; returns whether they were.
    pub(crate) fn join(&self, deadline: Option<Instant>) -> bool {
        let mut st = self.lock();
        while st.unfinished > 0 {
            st = match wait(&self.all_done, st, deadline) {
                Some(st) => st,
                None => return false,
            };
        }
        true
    }
}

/// Waits on `cond` until `deadline`; `None` once it has passed.
fn wait<'a>(cond: &Condvar, st: MutexGuard<'a, State>, deadline: Option<Instant>) -> Option<MutexGuard<'a, State>> {
    match deadline {
        None => Some(cond.wait(st).unwrap_or_else(|p| p.into_inner())),
        Some(d) => {
            let now = Instant::now();
            if now >= d {
                return None;
            }
            Some(cond.wait_timeout(st, d - now).unwrap_or_else(|p| p.into_inner()).0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fifo_bounded_close_and_timeouts() {
        let broker = Broker::default();
        let (id, q) = broker.create(Some(2));
        q.put(b"a".to_vec(), None).unwrap();
        q.put(b"b".to_vec(), None).unwrap();
        let soon = Some(Instant::now() + Duration::from_millis(20));
        assert_eq!(q.put(b"c".to_vec(), soon), Err((QueueFault::Full, b"c".to_vec())));
        assert!(matches!(broker.serve(QueueOp::Len { queue: id }, Vec::new()).0, QueueReply::Len(2)));
        assert_eq!(q.get(None).unwrap(), b"a");
        q.close();
        assert_eq!(q.put(b"d".to_vec(), None), Err((QueueFault::Closed, b"d".to_vec())));
        assert_eq!(q.get(None).unwrap(), b"b");
        assert_eq!(q.get(None), Err(QueueFault::Closed));
        let (_, empty) = broker.create(None);
        assert_eq!(empty.get(Some(Instant::now() + Duration::from_millis(10))), Err(QueueFault::Empty));
        assert!(matches!(
            broker.serve(QueueOp::Get { queue: 999 }, Vec::new()).0,
            QueueReply::Err(QueueFault::Unknown)
        ));
    }
}
