//! The broker: queues and managed objects owned by the host and shared with every worker of its
//! context.
//!
//! Host threads use a queue directly ([`QueueCore`]). Workers send requests over their link, whose
//! reader serves them here without ever blocking:
//! - an operation that can complete now is answered at once;
//! - a `get` on an empty queue or a `put` on a full one *parks* (see `queue`): whoever makes it
//!   possible answers it, so a waiting guest costs nothing and is woken by the event itself;
//! - a put on an unbounded queue that the worker already knows to be unbounded, and a managed
//!   write, are *sent*: no answer, like Python's feeder thread. If one is refused (its object was
//!   closed or dropped meanwhile), the link counts it, the chunk that made it fails (never
//!   silently), and the worker is told, so its next request to that object waits for an answer.
//!
//! Pieces: [`peer`] (who is answered), [`queue`] (one queue), [`managed`] (dicts and lists),
//! [`timers`] (deadlines of parked requests).

pub(crate) mod managed;
pub(crate) mod peer;
pub(crate) mod queue;
mod timers;

use crate::ipc::protocol::{BrokerOp, BrokerReply, QueueOp};
use managed::Managed;
pub(crate) use peer::{Peer, PeerRef, Served};
pub(crate) use queue::QueueCore;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, MutexGuard};
use timers::Timers;
use wasmproc_wire::QueueFault;

/// The queues and managed objects of one context, by id.
#[derive(Default)]
pub(crate) struct Broker {
    next: AtomicU64,
    queues: std::sync::Mutex<HashMap<u64, Arc<QueueCore>>>,
    managed: std::sync::Mutex<HashMap<u64, Arc<Managed>>>,
    timers: Arc<Timers>,
    /// Where every request goes instead, for a broker that stands in for another process's (a
    /// cluster node's, for the client whose objects a chunk refers to).
    forward: Option<Arc<dyn Forward>>,
}

/// A broker elsewhere, reached by message: serves a request without blocking (an answer comes
/// later through the peer, as for a parked request).
pub(crate) trait Forward: Send + Sync {
    /// Sends `op` on; what to do now (usually nothing: the answer follows).
    fn forward(&self, op: BrokerOp, payload: Vec<u8>, peer: &PeerRef) -> Served;
    /// The worker behind `peer` is gone.
    fn forget(&self, peer: u64);
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").field("queues", &self.queues().len()).field("managed", &self.managed().len()).finish()
    }
}

impl Broker {
    /// A broker holding no objects that forwards every request to `to`.
    pub(crate) fn forwarding(to: Arc<dyn Forward>) -> Broker {
        Broker { forward: Some(to), ..Broker::default() }
    }

    /// Whether requests go to a broker elsewhere, which learns late whether a sent one was
    /// accepted (its workers confirm their sends: `BrokerOp::Confirm`).
    pub(crate) fn forwards(&self) -> bool {
        self.forward.is_some()
    }

    fn id(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn queues(&self) -> MutexGuard<'_, HashMap<u64, Arc<QueueCore>>> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn managed(&self) -> MutexGuard<'_, HashMap<u64, Arc<Managed>>> {
        self.managed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new queue of at most `capacity` items (`None`: unbounded), and its id.
    pub(crate) fn create(&self, capacity: Option<usize>) -> (u64, Arc<QueueCore>) {
        let id = self.id();
        let core = Arc::new(QueueCore::new(id, capacity, self.timers.clone()));
        self.queues().insert(id, core.clone());
        (id, core)
    }

    /// A fresh identity for a worker connection.
    pub(crate) fn peer(&self, peer: Arc<dyn Peer>) -> PeerRef {
        PeerRef { id: self.id(), peer }
    }

    /// Forgets queue `id` (its last handle is gone); parked workers are told it is closed.
    pub(crate) fn remove(&self, id: u64) {
        let removed = self.queues().remove(&id);
        if let Some(core) = removed {
            core.close();
        }
    }

    /// Registers a managed object; returns its id.
    pub(crate) fn add_managed(&self, obj: Arc<Managed>) -> u64 {
        let id = self.id();
        self.managed().insert(id, obj);
        id
    }

    /// Forgets managed object `id` (its last handle is gone).
    pub(crate) fn remove_managed(&self, id: u64) {
        self.managed().remove(&id);
    }

    /// Drops every request `peer` has parked (its worker is gone; a put it parked never happened),
    /// and returns who asked each (a node's forwarder still waits for an answer to them).
    pub(crate) fn forget_peer(&self, peer: u64) -> Vec<PeerRef> {
        if let Some(f) = &self.forward {
            f.forget(peer);
        }
        let queues: Vec<Arc<QueueCore>> = self.queues().values().cloned().collect();
        queues.iter().flat_map(|q| q.forget(peer)).collect()
    }

    /// Serves one request from `peer`, without blocking.
    pub(crate) fn serve(&self, op: BrokerOp, payload: Vec<u8>, peer: &PeerRef) -> Served {
        if let Some(f) = &self.forward {
            return f.forward(op, payload, peer);
        }
        let found = match op {
            BrokerOp::Queue { queue, op } => {
                self.queues().get(&queue).cloned().map(|q| serve_queue(&q, op, payload, peer))
            }
            BrokerOp::Managed { object, op } => self.managed().get(&object).cloned().map(|obj| obj.serve(op, payload)),
            // Here every sent request was served as it came: nothing is left to confirm.
            BrokerOp::Confirm { .. } => return Served::reply(BrokerReply::Ok),
        };
        found.unwrap_or_else(|| match op.is_sent() {
            true => Served::Refused { object: op.object(), fault: QueueFault::Unknown },
            false => Served::reply(BrokerReply::Err(QueueFault::Unknown)),
        })
    }
}

/// Serves a queue request from `peer`.
fn serve_queue(q: &Arc<QueueCore>, op: QueueOp, payload: Vec<u8>, peer: &PeerRef) -> Served {
    let reply = Served::reply;
    match op {
        QueueOp::Put { timeout_ms } => q.remote_put(payload, timeout_ms, peer),
        QueueOp::Send => match q.remote_put(payload, None, peer) {
            Served::Reply(BrokerReply::Err(fault), _) => Served::Refused { object: q.id(), fault },
            _ => Served::Nothing,
        },
        QueueOp::Get { timeout_ms } => q.remote_get(timeout_ms, peer),
        QueueOp::Len => reply(BrokerReply::Len(q.len() as u64)),
        QueueOp::Close => {
            q.close();
            reply(BrokerReply::Ok)
        }
        QueueOp::IsClosed => reply(BrokerReply::Len(u64::from(q.is_closed()))),
        QueueOp::TaskDone => match q.task_done() {
            Ok(()) => reply(BrokerReply::Ok),
            Err(f) => reply(BrokerReply::Err(f)),
        },
        QueueOp::Unfinished => reply(BrokerReply::Len(q.unfinished() as u64)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::protocol::BrokerReply;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    fn q_op(queue: u64, op: QueueOp) -> BrokerOp {
        BrokerOp::Queue { queue, op }
    }

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

        fn refused(&self, object: u64, fault: QueueFault) {
            self.0.lock().unwrap().push((BrokerReply::Err(fault), object.to_le_bytes().to_vec()));
        }

        fn confirmed(&self, lost: u64) {
            self.0.lock().unwrap().push((BrokerReply::Len(lost), Vec::new()));
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
        assert_eq!(broker.serve(q_op(id, QueueOp::Len), Vec::new(), &peer), Served::reply(BrokerReply::Len(2)));
        assert_eq!(q.get(None).unwrap(), b"a");
        q.close();
        assert_eq!(q.put(b"d".to_vec(), None), Err((QueueFault::Closed, b"d".to_vec())));
        assert_eq!(q.get(None).unwrap(), b"b");
        assert_eq!(q.get(None), Err(QueueFault::Closed));
        let (_, empty) = broker.create(None);
        assert_eq!(empty.get(Some(Instant::now() + Duration::from_millis(10))), Err(QueueFault::Empty));
        let get = q_op(999, QueueOp::Get { timeout_ms: None });
        assert_eq!(broker.serve(get, Vec::new(), &peer), Served::reply(BrokerReply::Err(QueueFault::Unknown)));
        let send = q_op(999, QueueOp::Send);
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
        assert_eq!(broker.serve(q_op(id, QueueOp::Get { timeout_ms: None }), vec![], &peer), Served::Nothing);
        q.put(b"x".to_vec(), None).unwrap();
        assert_eq!(rec.0.lock().unwrap().pop(), Some((BrokerReply::Ok, b"x".to_vec())));
        assert_eq!(q.len(), 0);
        // A put on a full queue parks; a get lets it in.
        q.put(b"1".to_vec(), None).unwrap();
        let put = q_op(id, QueueOp::Put { timeout_ms: Some(5_000) });
        assert_eq!(broker.serve(put, b"2".to_vec(), &peer), Served::Nothing);
        assert_eq!(q.get(None).unwrap(), b"1");
        assert_eq!(rec.0.lock().unwrap().pop(), Some((BrokerReply::Ok, vec![])));
        assert_eq!(q.get(None).unwrap(), b"2");
        // A parked get times out.
        assert_eq!(broker.serve(q_op(id, QueueOp::Get { timeout_ms: Some(20) }), vec![], &peer), Served::Nothing);
        let start = Instant::now();
        while rec.0.lock().unwrap().is_empty() {
            assert!(start.elapsed() < Duration::from_secs(5), "the timer never answered");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(rec.0.lock().unwrap().pop(), Some((BrokerReply::Err(QueueFault::Empty), vec![])));
        // Close answers everyone parked.
        assert_eq!(broker.serve(q_op(id, QueueOp::Get { timeout_ms: None }), vec![], &peer), Served::Nothing);
        q.close();
        assert_eq!(rec.0.lock().unwrap().pop(), Some((BrokerReply::Err(QueueFault::Closed), vec![])));
    }

    #[test]
    fn an_item_for_a_dead_worker_stays_in_the_queue() {
        let broker = Broker::default();
        let dead = broker.peer(Arc::new(Recorder(Mutex::default(), true)));
        let (id, q) = broker.create(None);
        assert_eq!(broker.serve(q_op(id, QueueOp::Get { timeout_ms: None }), vec![], &dead), Served::Nothing);
        q.put(b"kept".to_vec(), None).unwrap();
        assert_eq!(q.get(None).unwrap(), b"kept");
        // A forgotten peer is not answered at all.
        let rec = Arc::new(Recorder::default());
        let gone = broker.peer(rec.clone());
        assert_eq!(broker.serve(q_op(id, QueueOp::Get { timeout_ms: None }), vec![], &gone), Served::Nothing);
        broker.forget_peer(gone.id);
        q.put(b"y".to_vec(), None).unwrap();
        assert!(rec.0.lock().unwrap().is_empty());
        assert_eq!(q.len(), 1);
    }
}
