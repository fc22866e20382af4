//! The broker: queues owned by the host and shared with every worker of its context.
//!
//! Host threads block on a queue directly (condition variables). Workers send requests over their
//! socket, which the host's reader thread for that worker serves without ever blocking:
//! - an operation that can complete now is answered at once;
//! - a `get` on an empty queue or a `put` on a full one *parks*: the worker is registered on the
//!   queue, and whoever makes the operation possible (a put, a get, `close`, or the broker's timer
//!   when the request's deadline passes) answers it. A waiting guest therefore costs nothing and
//!   is woken by the event itself, not by polling;
//! - a put on an unbounded queue that the worker already knows to be unbounded is *sent*: no
//!   answer, like Python's feeder thread. If it is refused (the queue was closed or dropped
//!   meanwhile), the worker's reader counts it and the chunk that made it fails (never silently);
//!   the worker is told, so its next put to that queue waits for an answer again.
//!
//! Invariants (under the queue's lock): remote getters wait only while `items` is empty; remote
//! putters wait only while a bounded queue is full; every parked request is answered exactly once
//! (by a put/get/close/timer), or dropped with its worker (`forget_peer`).

use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// Why a queue operation did not complete (the WIT `queue-error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum QueueFault {
    Empty,
    Full,
    Closed,
    Unknown,
    TooManyTaskDone,
}

/// A request from a worker; `Put` and `Send` carry the item as the frame's payload.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) enum BrokerOp {
    /// Append, waiting up to `timeout_ms` (`None`: forever) while the queue is full.
    Put {
        queue: u64,
        timeout_ms: Option<u64>,
    },
    /// Append to an unbounded queue; no answer (see the module docs).
    Send {
        queue: u64,
    },
    /// Remove the oldest item, waiting up to `timeout_ms` while the queue is empty.
    Get {
        queue: u64,
        timeout_ms: Option<u64>,
    },
    Len {
        queue: u64,
    },
    Close {
        queue: u64,
    },
    IsClosed {
        queue: u64,
    },
    TaskDone {
        queue: u64,
    },
    Unfinished {
        queue: u64,
    },
    /// An operation on a managed dict or list (see `manager.rs`).
    Managed {
        object: u64,
        op: crate::manager::ManagedOp,
    },
}

impl BrokerOp {
    fn queue(self) -> u64 {
        match self {
            BrokerOp::Put { queue, .. }
            | BrokerOp::Send { queue }
            | BrokerOp::Get { queue, .. }
            | BrokerOp::Len { queue }
            | BrokerOp::Close { queue }
            | BrokerOp::IsClosed { queue }
            | BrokerOp::TaskDone { queue }
            | BrokerOp::Unfinished { queue } => queue,
            BrokerOp::Managed { object, .. } => object,
        }
    }
}

/// The answer; `Ok` to a `Get` carries the item as the frame's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum BrokerReply {
    Ok,
    /// A put succeeded and the queue is unbounded: later puts may be sent without waiting.
    OkUnbounded,
    Len(u64),
    Err(QueueFault),
}

/// How the broker answered a worker's request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Served {
    /// Send this answer now.
    Reply(BrokerReply, Vec<u8>),
    /// Parked, or a `Send` that was accepted: nothing to send now.
    Nothing,
    /// A `Send` was refused: its item is lost, and the chunk that sent it must fail.
    Refused { object: u64, fault: QueueFault },
}

/// A worker that can be answered later, from any thread.
pub(crate) trait Peer: Send + Sync {
    /// Writes `reply` (and `item`, for a get) to the worker. Hands the item back if the worker is
    /// gone, so it is not lost.
    fn answer(&self, reply: BrokerReply, item: Vec<u8>) -> Result<(), Vec<u8>>;
}

/// A peer and its broker-wide identity (to drop its parked requests when it dies).
#[derive(Clone)]
pub(crate) struct PeerRef {
    pub(crate) id: u64,
    pub(crate) peer: Arc<dyn Peer>,
}

#[derive(Default)]
pub(crate) struct Broker {
    next: AtomicU64,
    queues: Mutex<HashMap<u64, Arc<QueueCore>>>,
    managed: Mutex<HashMap<u64, Arc<crate::manager::Managed>>>,
    timers: Arc<Timers>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").field("queues", &self.queues.lock().map(|q| q.len()).unwrap_or(0)).finish()
    }
}

impl Broker {
    pub(crate) fn create(&self, capacity: Option<usize>) -> (u64, Arc<QueueCore>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let core = Arc::new(QueueCore::new(id, capacity, self.timers.clone()));
        self.lock().insert(id, core.clone());
        (id, core)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<QueueCore>>> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh identity for a worker connection.
    pub(crate) fn peer(&self, peer: Arc<dyn Peer>) -> PeerRef {
        PeerRef { id: self.next.fetch_add(1, Ordering::Relaxed) + 1, peer }
    }

    /// Forgets queue `id` (its last handle is gone); parked workers are told it is closed.
    pub(crate) fn remove(&self, id: u64) {
        let removed = self.lock().remove(&id);
        if let Some(core) = removed {
            core.close();
        }
    }

    /// Registers a managed object; returns its id.
    pub(crate) fn add_managed(&self, obj: Arc<crate::manager::Managed>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        self.managed.lock().unwrap_or_else(|p| p.into_inner()).insert(id, obj);
        id
    }

    /// Forgets managed object `id` (its last handle is gone).
    pub(crate) fn remove_managed(&self, id: u64) {
        self.managed.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }

    /// Drops every request `peer` has parked (its worker is gone; a put it parked never happened).
    pub(crate) fn forget_peer(&self, peer: u64) {
        let queues: Vec<Arc<QueueCore>> = self.lock().values().cloned().collect();
        for q in queues {
            let mut st = q.lock();
            st.getters.retain(|w| w.peer.id != peer);
            st.putters.retain(|(w, _)| w.peer.id != peer);
        }
    }

    /// Serves one request from `peer`, without blocking.
    pub(crate) fn serve(&self, op: BrokerOp, payload: Vec<u8>, peer: &PeerRef) -> Served {
        let reply = |r: BrokerReply| Served::Reply(r, Vec::new());
        if let BrokerOp::Managed { object, op } = op {
            let found = self.managed.lock().unwrap_or_else(|p| p.into_inner()).get(&object).cloned();
            return match found {
                Some(obj) => crate::manager::serve(&obj, op, payload),
                None if op.is_sent() => Served::Refused { object, fault: QueueFault::Unknown },
                None => reply(BrokerReply::Err(QueueFault::Unknown)),
            };
        }
        let Some(q) = self.lock().get(&op.queue()).cloned() else {
            return match op {
                BrokerOp::Send { queue } => Served::Refused { object: queue, fault: QueueFault::Unknown },
                _ => reply(BrokerReply::Err(QueueFault::Unknown)),
            };
        };
        match op {
            BrokerOp::Put { timeout_ms, .. } => q.remote_put(payload, timeout_ms, peer),
            BrokerOp::Send { queue } => match q.remote_put(payload, None, peer) {
                Served::Reply(BrokerReply::Err(fault), _) => Served::Refused { object: queue, fault },
                _ => Served::Nothing,
            },
            BrokerOp::Get { timeout_ms, .. } => q.remote_get(timeout_ms, peer),
            BrokerOp::Len { .. } => reply(BrokerReply::Len(q.len() as u64)),
            BrokerOp::Close { .. } => {
                q.close();
                reply(BrokerReply::Ok)
            }
            BrokerOp::IsClosed { .. } => reply(BrokerReply::Len(u64::from(q.is_closed()))),
            BrokerOp::TaskDone { .. } => match q.task_done() {
                Ok(()) => reply(BrokerReply::Ok),
                Err(f) => reply(BrokerReply::Err(f)),
            },
            BrokerOp::Unfinished { .. } => reply(BrokerReply::Len(q.unfinished() as u64)),
            // Served above, before the queue lookup.
            BrokerOp::Managed { .. } => reply(BrokerReply::Err(QueueFault::Unknown)),
        }
    }
}

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
}

impl QueueCore {
    fn new(id: u64, capacity: Option<usize>, timers: Arc<Timers>) -> QueueCore {
        QueueCore {
            id,
            state: Mutex::default(),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            all_done: Condvar::new(),
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
            match w.peer.peer.answer(BrokerReply::Ok, item) {
                Ok(()) => return,
                // That worker is gone: the next one, or the queue.
                Err(back) => item = back,
            }
            st = self.lock();
        }
        st.items.push_back(item);
        drop(st);
        self.not_empty.notify_one();
    }

    /// An item left: lets the oldest parked putter in, or wakes a host thread waiting for room.
    fn made_room<'a>(&'a self, mut st: MutexGuard<'a, State>) {
        if let Some((w, item)) = st.putters.pop_front() {
            st.items.push_back(item);
            st.unfinished += 1;
            drop(st);
            // The item is in whether or not its worker is still there to hear it.
            let _ = w.peer.peer.answer(BrokerReply::Ok, Vec::new());
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

    fn remote_put(self: &Arc<Self>, item: Vec<u8>, timeout_ms: Option<u64>, peer: &PeerRef) -> Served {
        let mut st = self.lock();
        if st.closed {
            return Served::Reply(BrokerReply::Err(QueueFault::Closed), Vec::new());
        }
        if self.has_room(&st) {
            self.push(st, item);
            let ok = if self.capacity.is_none() { BrokerReply::OkUnbounded } else { BrokerReply::Ok };
            return Served::Reply(ok, Vec::new());
        }
        if timeout_ms == Some(0) {
            return Served::Reply(BrokerReply::Err(QueueFault::Full), Vec::new());
        }
        let id = self.timers.waiter_id();
        st.putters.push_back((Waiting { id, peer: peer.clone() }, item));
        drop(st);
        if let Some(ms) = timeout_ms {
            self.timers.add(Instant::now() + Duration::from_millis(ms), id, Arc::downgrade(self));
        }
        Served::Nothing
    }

    fn remote_get(self: &Arc<Self>, timeout_ms: Option<u64>, peer: &PeerRef) -> Served {
        let mut st = self.lock();
        if let Some(item) = st.items.pop_front() {
            self.made_room(st);
            return Served::Reply(BrokerReply::Ok, item);
        }
        if st.closed {
            return Served::Reply(BrokerReply::Err(QueueFault::Closed), Vec::new());
        }
        if timeout_ms == Some(0) {
            return Served::Reply(BrokerReply::Err(QueueFault::Empty), Vec::new());
        }
        let id = self.timers.waiter_id();
        st.getters.push_back(Waiting { id, peer: peer.clone() });
        drop(st);
        if let Some(ms) = timeout_ms {
            self.timers.add(Instant::now() + Duration::from_millis(ms), id, Arc::downgrade(self));
        }
        Served::Nothing
    }

    /// The deadline of parked request `id` passed: answer it, if it is still waiting.
    fn expire(&self, id: u64) {
        let mut st = self.lock();
        if let Some(at) = st.getters.iter().position(|w| w.id == id) {
            let w = st.getters.remove(at).expect("position is in range");
            drop(st);
            let _ = w.peer.peer.answer(BrokerReply::Err(QueueFault::Empty), Vec::new());
        } else if let Some(at) = st.putters.iter().position(|(w, _)| w.id == id) {
            let (w, _item) = st.putters.remove(at).expect("position is in range");
            drop(st);
            // The guest still has its item (the SDK hands it back with `Full`).
            let _ = w.peer.peer.answer(BrokerReply::Err(QueueFault::Full), Vec::new());
        }
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
        let closed = || BrokerReply::Err(QueueFault::Closed);
        for w in getters.into_iter().chain(putters.into_iter().map(|(w, _)| w)) {
            let _ = w.peer.peer.answer(closed(), Vec::new());
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

/// Deadlines of parked requests, served by one thread per broker (started on first use; it
/// exits once the broker is gone).
#[derive(Default)]
struct Timers {
    next_id: AtomicU64,
    state: Mutex<TimerState>,
    changed: Condvar,
}

#[derive(Default)]
struct TimerState {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    queues: HashMap<u64, Weak<QueueCore>>,
    started: bool,
}

impl Timers {
    fn waiter_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn add(self: &Arc<Self>, deadline: Instant, id: u64, queue: Weak<QueueCore>) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.heap.push(Reverse((deadline, id)));
        st.queues.insert(id, queue);
        if !st.started {
            st.started = true;
            let weak = Arc::downgrade(self);
            std::thread::Builder::new()
                .name("wasmproc-queue-timers".into())
                .spawn(move || timer_loop(weak))
                .expect("spawn the queue timer thread");
        }
        drop(st);
        self.changed.notify_one();
    }
}

fn timer_loop(timers: Weak<Timers>) {
    loop {
        let Some(t) = timers.upgrade() else { return };
        let mut st = t.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some(Reverse((deadline, id))) = st.heap.peek().copied() {
            if deadline > now {
                break;
            }
            st.heap.pop();
            if let Some(q) = st.queues.remove(&id) {
                due.push((q, id));
            }
        }
        if due.is_empty() {
            // Wake at the next deadline, and at least every second to notice the broker is gone.
            let wait = st.heap.peek().map_or(Duration::from_secs(1), |Reverse((d, _))| *d - now);
            let _ = t.changed.wait_timeout(st, wait.min(Duration::from_secs(1)));
            continue;
        }
        drop(st);
        for (q, id) in due {
            if let Some(q) = q.upgrade() {
                q.expire(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what it is answered.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(BrokerReply, Vec<u8>)>>, bool);

    impl Peer for Recorder {
        fn answer(&self, reply: BrokerReply, item: Vec<u8>) -> Result<(), Vec<u8>> {
            if self.1 {
                return Err(item);
            }
            self.0.lock().unwrap().push((reply, item));
            Ok(())
        }
    }

    #[test]
    fn fifo_bounded_close_and_timeouts() {
        let broker = Broker::default();
        let peer = broker.peer(Arc::new(Recorder::default()));
        let (id, q) = broker.create(Some(2));
        q.put(b"a".to_vec(), None).unwrap();
        q.put(b"b".to_vec(), None).unwrap();
        let soon = Some(Instant::now() + Duration::from_millis(20));
        assert_eq!(q.put(b"c".to_vec(), soon), Err((QueueFault::Full, b"c".to_vec())));
        assert_eq!(
            broker.serve(BrokerOp::Len { queue: id }, Vec::new(), &peer),
            Served::Reply(BrokerReply::Len(2), vec![])
        );
        assert_eq!(q.get(None).unwrap(), b"a");
        q.close();
        assert_eq!(q.put(b"d".to_vec(), None), Err((QueueFault::Closed, b"d".to_vec())));
        assert_eq!(q.get(None).unwrap(), b"b");
        assert_eq!(q.get(None), Err(QueueFault::Closed));
        let (_, empty) = broker.create(None);
        assert_eq!(empty.get(Some(Instant::now() + Duration::from_millis(10))), Err(QueueFault::Empty));
        let get = BrokerOp::Get { queue: 999, timeout_ms: None };
        assert_eq!(broker.serve(get, Vec::new(), &peer), Served::Reply(BrokerReply::Err(QueueFault::Unknown), vec![]));
        let send = BrokerOp::Send { queue: 999 };
        assert_eq!(
            broker.serve(send, b"x".to_vec(), &peer),
            Served::Refused { object: 999, fault: QueueFault::Unknown }
        );
    }

    #[test]
    fn parked_requests_are_answered_by_the_event_or_their_deadline() {
        let broker = Broker::default();
        let rec = Arc::new(Recorder::default());
        let peer = broker.peer(rec.clone());
        let (id, q) = broker.create(Some(1));
        // A get on an empty queue parks; a put hands the item straight over.
        assert_eq!(broker.serve(BrokerOp::Get { queue: id, timeout_ms: None }, vec![], &peer), Served::Nothing);
        q.put(b"x".to_vec(), None).unwrap();
        assert_eq!(rec.0.lock().unwrap().pop(), Some((BrokerReply::Ok, b"x".to_vec())));
        assert_eq!(q.len(), 0);
        // A put on a full queue parks; a get lets it in.
        q.put(b"1".to_vec(), None).unwrap();
        let put = BrokerOp::Put { queue: id, timeout_ms: Some(5_000) };
        assert_eq!(broker.serve(put, b"2".to_vec(), &peer), Served::Nothing);
        assert_eq!(q.get(None).unwrap(), b"1");
        assert_eq!(rec.0.lock().unwrap().pop(), Some((BrokerReply::Ok, vec![])));
        assert_eq!(q.get(None).unwrap(), b"2");
        // A parked get times out.
        assert_eq!(broker.serve(BrokerOp::Get { queue: id, timeout_ms: Some(20) }, vec![], &peer), Served::Nothing);
        let start = Instant::now();
        while rec.0.lock().unwrap().is_empty() {
            assert!(start.elapsed() < Duration::from_secs(5), "the timer never answered");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(rec.0.lock().unwrap().pop(), Some((BrokerReply::Err(QueueFault::Empty), vec![])));
        // Close answers everyone parked.
        assert_eq!(broker.serve(BrokerOp::Get { queue: id, timeout_ms: None }, vec![], &peer), Served::Nothing);
        q.close();
        assert_eq!(rec.0.lock().unwrap().pop(), Some((BrokerReply::Err(QueueFault::Closed), vec![])));
    }

    #[test]
    fn an_item_for_a_dead_worker_stays_in_the_queue() {
        let broker = Broker::default();
        let dead = broker.peer(Arc::new(Recorder(Mutex::default(), true)));
        let (id, q) = broker.create(None);
        assert_eq!(broker.serve(BrokerOp::Get { queue: id, timeout_ms: None }, vec![], &dead), Served::Nothing);
        q.put(b"kept".to_vec(), None).unwrap();
        assert_eq!(q.get(None).unwrap(), b"kept");
        // A forgotten peer is not answered at all.
        let rec = Arc::new(Recorder::default());
        let gone = broker.peer(rec.clone());
        assert_eq!(broker.serve(BrokerOp::Get { queue: id, timeout_ms: None }, vec![], &gone), Served::Nothing);
        broker.forget_peer(gone.id);
        q.put(b"y".to_vec(), None).unwrap();
        assert!(rec.0.lock().unwrap().is_empty());
        assert_eq!(q.len(), 1);
    }
}
