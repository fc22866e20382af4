//! One queue: FIFO, optionally bounded, closable, shared by host threads and workers.
//!
//! Host threads block on it directly (condition variables). Worker requests never block the
//! thread serving them: an operation that cannot complete now *parks* its worker on the queue, and
//! whoever makes it possible (a put, a get, `close`, or the timer at its deadline) answers it.
//!
//! Invariants (under the queue's lock, checked with `debug_assert!`): remote getters wait only
//! while `items` is empty; remote putters wait only while a bounded queue is full; every parked
//! request is answered exactly once (by a put/get/close/timer), or dropped with its worker
//! (`forget`).

use super::peer::{PeerRef, Served};
use super::timers::{Expire, Timers};
use crate::ipc::protocol::BrokerReply;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use wasmproc_wire::QueueFault;

/// A worker's parked request.
struct Waiting {
    id: u64,
    peer: PeerRef,
}

/// One queue: FIFO, optionally bounded, closable.
pub(crate) struct QueueCore {
    id: u64,
    state: Mutex<State>,
    not_empty: Condvar,
    not_full: Condvar,
    all_done: Condvar,
    /// Wakes every `poll`er (a `get` waiter must not consume their wake-ups).
    readable: Condvar,
    capacity: Option<usize>,
    timers: Arc<Timers>,
}

#[derive(Default)]
struct State {
    items: VecDeque<Vec<u8>>,
    closed: bool,
    /// Items put and not yet marked done (`JoinableQueue`).
    unfinished: usize,
    /// Workers waiting for an item, oldest first.
    getters: VecDeque<Waiting>,
    /// Workers waiting for room, with their items, oldest first.
    putters: VecDeque<(Waiting, Vec<u8>)>,
    /// Host threads in `poll`.
    pollers: usize,
}

impl QueueCore {
    pub(super) fn new(id: u64, capacity: Option<usize>, timers: Arc<Timers>) -> QueueCore {
        QueueCore {
            id,
            state: Mutex::default(),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            all_done: Condvar::new(),
            readable: Condvar::new(),
            capacity,
            timers,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    fn has_room(&self, st: &State) -> bool {
        self.capacity.is_none_or(|c| st.items.len() < c)
    }

    /// Appends `item` (there is room and the queue is open): hands it straight to the oldest
    /// parked worker if there is one.
    fn push<'a>(&'a self, mut st: MutexGuard<'a, State>, mut item: Vec<u8>) {
        st.unfinished += 1;
        while let Some(w) = st.getters.pop_front() {
            drop(st);
            match w.peer.answer(BrokerReply::Ok, item) {
                Ok(()) => return,
                // That worker is gone: the next one, or the queue.
                Err(back) => item = back,
            }
            st = self.lock();
        }
        st.items.push_back(item);
        let pollers = st.pollers > 0;
        drop(st);
        self.not_empty.notify_one();
        if pollers {
            self.readable.notify_all();
        }
    }

    /// An item left: lets the oldest parked putter in, or wakes a host thread waiting for room.
    fn made_room<'a>(&'a self, mut st: MutexGuard<'a, State>) {
        if let Some((w, item)) = st.putters.pop_front() {
            st.items.push_back(item);
            st.unfinished += 1;
            drop(st);
            // The item is in whether or not its worker is still there to hear it.
            let _ = w.peer.answer(BrokerReply::Ok, Vec::new());
        } else {
            drop(st);
            self.not_full.notify_one();
        }
    }

    /// Appends `item`, waiting until `deadline` (`None`: forever) while the queue is full. On
    /// failure the item comes back.
    pub(crate) fn put(&self, item: Vec<u8>, deadline: Option<Instant>) -> Result<(), (QueueFault, Vec<u8>)> {
        let mut st = self.lock();
        loop {
            if st.closed {
                return Err((QueueFault::Closed, item));
            }
            if self.has_room(&st) {
                self.push(st, item);
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
        if st.items.is_empty() && !st.closed {
            // An item from a worker usually comes within µs: look before sleeping on the condvar.
            drop(st);
            crate::spin::spin_on(deadline, &self.state, |st| !st.items.is_empty() || st.closed);
            st = self.lock();
        }
        loop {
            if let Some(item) = st.items.pop_front() {
                self.made_room(st);
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

    pub(super) fn remote_put(self: &Arc<Self>, item: Vec<u8>, timeout_ms: Option<u64>, peer: &PeerRef) -> Served {
        let mut st = self.lock();
        if st.closed {
            return Served::reply(BrokerReply::Err(QueueFault::Closed));
        }
        if self.has_room(&st) {
            self.push(st, item);
            let ok = if self.capacity.is_none() { BrokerReply::OkUnbounded } else { BrokerReply::Ok };
            return Served::reply(ok);
        }
        if timeout_ms == Some(0) {
            return Served::reply(BrokerReply::Err(QueueFault::Full));
        }
        debug_assert!(!self.has_room(&st), "a putter parks only on a full queue");
        let id = self.timers.waiter_id();
        st.putters.push_back((Waiting { id, peer: peer.clone() }, item));
        drop(st);
        self.expire_at(timeout_ms, id);
        Served::Nothing
    }

    pub(super) fn remote_get(self: &Arc<Self>, timeout_ms: Option<u64>, peer: &PeerRef) -> Served {
        let mut st = self.lock();
        if let Some(item) = st.items.pop_front() {
            self.made_room(st);
            return Served::Reply(BrokerReply::Ok, item);
        }
        if st.closed {
            return Served::reply(BrokerReply::Err(QueueFault::Closed));
        }
        if timeout_ms == Some(0) {
            return Served::reply(BrokerReply::Err(QueueFault::Empty));
        }
        debug_assert!(st.items.is_empty(), "a getter parks only on an empty queue");
        let id = self.timers.waiter_id();
        st.getters.push_back(Waiting { id, peer: peer.clone() });
        drop(st);
        self.expire_at(timeout_ms, id);
        Served::Nothing
    }

    /// Has the timer answer parked request `id` after `timeout_ms`, if it has a timeout.
    fn expire_at(self: &Arc<Self>, timeout_ms: Option<u64>, id: u64) {
        if let Some(ms) = timeout_ms {
            let owner: Weak<dyn Expire> = Arc::downgrade(self) as Weak<dyn Expire>;
            self.timers.add(Instant::now() + Duration::from_millis(ms), id, owner);
        }
    }

    /// Drops the requests `peer` has parked here (its worker is gone; a put it parked never
    /// happened), and returns who asked each.
    pub(super) fn forget(&self, peer: u64) -> Vec<PeerRef> {
        let mut st = self.lock();
        let gone = |w: &Waiting| w.peer.id == peer;
        let mut dropped: Vec<PeerRef> = st.getters.iter().filter(|w| gone(w)).map(|w| w.peer.clone()).collect();
        dropped.extend(st.putters.iter().filter(|(w, _)| gone(w)).map(|(w, _)| w.peer.clone()));
        st.getters.retain(|w| !gone(w));
        st.putters.retain(|(w, _)| !gone(w));
        dropped
    }

    /// Waits until `deadline` (`None`: forever) for a get to be able to return at once: an item is
    /// there, or the queue is closed. Returns whether one could.
    pub(crate) fn poll(&self, deadline: Option<Instant>) -> bool {
        let mut st = self.lock();
        st.pollers += 1;
        let ready = loop {
            if !st.items.is_empty() || st.closed {
                break true;
            }
            st = match wait(&self.readable, st, deadline) {
                Some(st) => st,
                None => {
                    st = self.lock();
                    break !st.items.is_empty() || st.closed;
                }
            };
        };
        st.pollers -= 1;
        ready
    }
}

impl Expire for QueueCore {
    fn expire(&self, id: u64) {
        let mut st = self.lock();
        if let Some(at) = st.getters.iter().position(|w| w.id == id) {
            let w = st.getters.remove(at).expect("position is in range");
            drop(st);
            let _ = w.peer.answer(BrokerReply::Err(QueueFault::Empty), Vec::new());
        } else if let Some(at) = st.putters.iter().position(|(w, _)| w.id == id) {
            let (w, _item) = st.putters.remove(at).expect("position is in range");
            drop(st);
            // The guest still has its item (the SDK hands it back with `Full`).
            let _ = w.peer.answer(BrokerReply::Err(QueueFault::Full), Vec::new());
        }
    }
}

impl QueueCore {
    /// The broker's id for this queue.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Closes the queue and answers every parked worker `Closed`.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        let getters = std::mem::take(&mut st.getters);
        let putters = std::mem::take(&mut st.putters);
        drop(st);
        self.not_empty.notify_all();
        self.not_full.notify_all();
        self.readable.notify_all();
        let closed = || BrokerReply::Err(QueueFault::Closed);
        for w in getters.into_iter().chain(putters.into_iter().map(|(w, _)| w)) {
            let _ = w.peer.answer(closed(), Vec::new());
        }
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

impl std::fmt::Debug for QueueCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueCore").field("id", &self.id).field("capacity", &self.capacity).finish()
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
