//! Queues, pipes and Manager objects across machines: a node's workers reach the client's broker
//! by message.
//!
//! A client serves its broker on its own subject (`wasmproc.broker.<id>`): each request is a
//! worker's broker request, answered — at once, or later when a parked get or put completes — on
//! the reply subject it came with. A node's pool for that client has a broker that forwards every
//! request there ([`Forwarder`]) and hands each answer to the worker that asked. Requests of one
//! worker travel on one connection to one subscriber, so they are served in the order sent, and
//! the client publishes its answers in the order it makes them.
//!
//! Requests a worker sends without waiting (puts to an unbounded queue, managed writes) travel the
//! same way, and nothing comes back for them unless one is refused: the refusal reaches the
//! worker's link ([`Peer::refused`]). Before answering a chunk that sent any, the worker asks for
//! a confirmation (`BrokerOp::Confirm`, with how many it sent); the client answers it after every
//! earlier request of that worker, saying how many never arrived ([`Peer::confirmed`]). So a chunk's
//! puts cost one round trip to the client in all instead of one each, and a refused or lost one
//! still fails the chunk that sent it, as on one machine. An item answered to a worker that is
//! gone is put back on its queue.
//!
//! A waited-for request, or its answer, lost while the server restarts is sent again
//! ([`resend`]), and the client answers a copy from its memory instead of serving it twice
//! ([`replies`]). A send lost that way is counted by the chunk's `Confirm`, which fails the chunk
//! with `Undelivered`: it cannot be sent again safely, since the client cannot tell a lost send
//! from a late one.

mod replies;
mod resend;

use super::runtime;
use crate::broker::{Broker, Forward, Peer, PeerRef, Served};
use crate::ipc::protocol::{BrokerOp, BrokerReply, QueueOp};
use bytes::Bytes;
use futures_util::StreamExt;
use replies::{Replies, Seen};
use resend::Sent;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use wasmproc_wire::QueueFault;

/// A worker's request, as it travels.
#[derive(Serialize, Deserialize)]
struct Request {
    /// The worker, unique across nodes (the forwarder's salt and the worker's id).
    peer: u64,
    op: BrokerOp,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
    /// The numbers of the answers the forwarder received since its previous waited-for request
    /// (empty on a request sent without waiting): the client forgets them (see `replies`).
    received: Vec<u64>,
}

/// What the client sends back.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Answer {
    /// The answer to a request the worker waits for.
    Reply {
        reply: BrokerReply,
        #[serde(with = "serde_bytes")]
        item: Vec<u8>,
    },
    /// A request worker `peer` sent without waiting was refused (to the forwarder's refusal
    /// subject).
    Refused { peer: u64, object: u64, fault: QueueFault },
    /// The answer to a `Confirm`: `lost` of the requests it counted never arrived.
    Confirmed { lost: u64 },
    /// To a waited-for request sent again: the client has it and will answer it.
    Pending,
}

/// The subject a client serves its broker on.
pub(crate) fn subject(client: &str) -> String {
    format!("wasmproc.broker.{client}")
}

/// The last token of a forwarder's subject on which refusals come (answers to waited-for
/// requests come on their number).
const REFUSALS: &str = "refused";

/// Serves `broker` to nodes on `subject` until the process ends.
pub(crate) fn serve(client: async_nats::Client, subject: String, broker: Arc<Broker>) -> Result<(), String> {
    let sub_client = client.clone();
    let mut sub = runtime::wait(async move { sub_client.subscribe(subject).await }).map_err(|e| e.to_string())?;
    // One task publishes every answer, in the order made: a worker's refusals reach its node
    // before the confirmation that follows them.
    let (out, mut answers) = unbounded_channel::<(async_nats::Subject, Bytes)>();
    runtime::handle().spawn(async move {
        while let Some((to, payload)) = answers.recv().await {
            let _ = client.publish(to, payload).await;
        }
    });
    let replies = Arc::new(Mutex::new(Replies::default()));
    runtime::handle().spawn(async move {
        let mut arrivals = Arrivals::default();
        while let Some(msg) = sub.next().await {
            // A request that does not decode is one that did not arrive: if it was sent without
            // waiting, the worker's `Confirm` counts it as lost.
            let Ok(req) = postcard::from_bytes::<Request>(&msg.payload) else { continue };
            let waited = msg.reply.as_deref().and_then(waited_for);
            if let (Some((inbox, n)), Some(to)) = (&waited, &msg.reply) {
                match lock(&replies).arrived(inbox, *n, &req.received) {
                    Seen::New => {}
                    Seen::Pending => {
                        let _ = out.send((to.clone(), encode(&Answer::Pending)));
                        continue;
                    }
                    Seen::Answered(answer) => {
                        let _ = out.send((to.clone(), answer));
                        continue;
                    }
                }
            }
            let replier =
                Arc::new(Replier { out: out.clone(), to: msg.reply, peer: req.peer, waited, replies: replies.clone() });
            if let BrokerOp::Confirm { sent } = req.op {
                replier.confirmed(arrivals.confirm(req.peer, sent));
                continue;
            }
            if req.op.is_sent() {
                arrivals.arrived(req.peer);
            }
            let peer = PeerRef { id: req.peer, peer: replier.clone() };
            match broker.serve(req.op, req.payload, &peer) {
                Served::Reply(reply, item) => {
                    let _ = replier.answer(reply, item);
                }
                Served::Nothing => {}
                Served::Refused { object, fault } => replier.refused(object, fault),
            }
        }
    });
    Ok(())
}

/// Per worker: how many requests it sent without waiting arrived since its last `Confirm`.
#[derive(Default)]
struct Arrivals(HashMap<u64, u64>);

impl Arrivals {
    fn arrived(&mut self, peer: u64) {
        *self.0.entry(peer).or_default() += 1;
    }

    /// How many of the `sent` requests `peer` counts since its last `Confirm` never arrived;
    /// counting starts afresh.
    fn confirm(&mut self, peer: u64, sent: u64) -> u64 {
        sent.saturating_sub(self.0.remove(&peer).unwrap_or(0))
    }
}

/// The forwarder's inbox and the request's number, if `reply` is a waited-for request's reply
/// subject (`<inbox>.<n>`, not `<inbox>.refused`).
fn waited_for(reply: &str) -> Option<(String, u64)> {
    let (inbox, n) = reply.rsplit_once('.')?;
    Some((inbox.to_string(), n.parse().ok()?))
}

fn encode<T: Serialize>(value: &T) -> Bytes {
    postcard::to_allocvec(value).expect("bridge messages encode").into()
}

/// Answers one forwarded request on its reply subject.
struct Replier {
    out: UnboundedSender<(async_nats::Subject, Bytes)>,
    to: Option<async_nats::Subject>,
    /// The worker that asked.
    peer: u64,
    /// The forwarder's inbox and the request's number, if the worker waits for the answer: the
    /// answer is kept for a copy of the request.
    waited: Option<(String, u64)>,
    replies: Arc<Mutex<Replies>>,
}

impl Replier {
    fn send(&self, answer: &Answer) {
        if let Some(to) = self.to.clone() {
            let answer = encode(answer);
            if let Some((inbox, n)) = &self.waited {
                lock(&self.replies).answered(inbox, *n, answer.clone());
            }
            let _ = self.out.send((to, answer));
        }
    }
}

impl Peer for Replier {
    fn answer(&self, reply: BrokerReply, item: Vec<u8>) -> Result<(), Vec<u8>> {
        self.send(&Answer::Reply { reply, item });
        Ok(())
    }

    fn refused(&self, object: u64, fault: QueueFault) {
        self.send(&Answer::Refused { peer: self.peer, object, fault });
    }

    fn confirmed(&self, lost: u64) {
        self.send(&Answer::Confirmed { lost });
    }
}

/// A node's stand-in for one client's broker.
pub(crate) struct Forwarder {
    /// Requests, published in this order by one task: `(request, reply subject)`.
    out: UnboundedSender<(Bytes, Option<String>)>,
    /// This forwarder's inbox prefix; answers come to `<inbox>.<n>`.
    inbox: String,
    /// Where refusals come: `<inbox>.refused`.
    refusals: String,
    /// Waited-for requests, until answered.
    waiting: Mutex<Waited>,
    /// The connection's statistics: its count of connects tells a reconnect.
    stats: Arc<async_nats::Statistics>,
    /// Workers that sent requests without waiting, by id, until they are gone: a refusal may come.
    senders: Mutex<HashMap<u64, PeerRef>>,
    /// Distinguishes this node's workers from other nodes' at the client.
    salt: u64,
}

/// The waited-for requests of one forwarder.
#[derive(Default)]
struct Waited {
    /// The next request's number.
    next: u64,
    /// Who asked, by request number, until answered.
    by_number: BTreeMap<u64, Waiting>,
    /// The numbers of the answers received since the last request.
    received: Vec<u64>,
}

struct Waiting {
    peer: PeerRef,
    /// The request, to put an answered item back if its worker is gone.
    op: BrokerOp,
    /// As sent, to send again.
    request: Bytes,
    reply: String,
    sent: Sent,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Forwarder {
    /// A forwarder to the client serving its broker on `subject`.
    pub(crate) fn start(client: async_nats::Client, subject: String) -> Result<Arc<Forwarder>, String> {
        let inbox = client.new_inbox();
        let digest = <sha2::Sha256 as sha2::Digest>::digest(inbox.as_bytes());
        let salt = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
        let (out, mut requests) = unbounded_channel::<(Bytes, Option<String>)>();
        let publisher = client.clone();
        runtime::handle().spawn(async move {
            while let Some((request, reply)) = requests.recv().await {
                let subject = subject.clone();
                let _ = match reply {
                    Some(reply) => publisher.publish_with_reply(subject, reply, request).await,
                    None => publisher.publish(subject, request).await,
                };
            }
        });
        let f = Arc::new(Forwarder {
            out,
            inbox: inbox.clone(),
            refusals: format!("{inbox}.{REFUSALS}"),
            waiting: Mutex::default(),
            stats: client.statistics(),
            senders: Mutex::default(),
            salt,
        });
        let weak = Arc::downgrade(&f);
        runtime::handle().spawn(async move {
            let mut tick = tokio::time::interval(resend::RESEND_TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(f) = weak.upgrade() else { return };
                f.resend_due();
            }
        });
        let mut sub =
            runtime::wait(async move { client.subscribe(format!("{inbox}.*")).await }).map_err(|e| e.to_string())?;
        let weak = Arc::downgrade(&f);
        runtime::handle().spawn(async move {
            while let Some(msg) = sub.next().await {
                let Some(f) = weak.upgrade() else { return };
                let Ok(answer) = postcard::from_bytes::<Answer>(&msg.payload) else { continue };
                match msg.subject.rsplit('.').next().map(str::parse::<u64>) {
                    Some(Ok(n)) => f.answered(n, answer),
                    _ => f.told(answer),
                }
            }
        });
        Ok(f)
    }

    /// The answer to request `n`.
    fn answered(&self, n: u64, answer: Answer) {
        let w = {
            let mut waiting = lock(&self.waiting);
            if let Answer::Pending = answer {
                if let Some(w) = waiting.by_number.get_mut(&n) {
                    w.sent.heard();
                }
                return;
            }
            // A second answer (to a copy sent again) finds nothing.
            let Some(w) = waiting.by_number.remove(&n) else { return };
            waiting.received.push(n);
            w
        };
        let (reply, item) = match answer {
            Answer::Reply { reply, item } => (reply, item),
            Answer::Confirmed { lost } => return w.peer.peer.confirmed(lost),
            Answer::Refused { .. } | Answer::Pending => return,
        };
        if let Err(item) = w.peer.answer(reply, item)
            && let BrokerOp::Queue { queue, op: QueueOp::Get { .. } } = w.op
            && !item.is_empty()
        {
            // The worker that asked is gone: the item goes back on its queue, not lost.
            self.send(self.salt, BrokerOp::Queue { queue, op: QueueOp::Send }, item, None);
        }
    }

    /// A refusal of a request sent without waiting.
    fn told(&self, answer: Answer) {
        if let Answer::Refused { peer, object, fault } = answer
            && let Some(sender) = lock(&self.senders).get(&(peer ^ self.salt)).cloned()
        {
            sender.peer.refused(object, fault);
        }
    }

    /// Queues a request sent without waiting for the client, with the subject its answer should
    /// come to.
    fn send(&self, peer: u64, op: BrokerOp, payload: Vec<u8>, reply: Option<String>) {
        let _ = self.out.send((encode(&Request { peer, op, payload, received: Vec::new() }), reply));
    }

    /// Sends the waited-for requests that are due again (see `resend`), oldest first.
    fn resend_due(&self) {
        let (now, connects) = (Instant::now(), self.stats.connects.load(Ordering::Relaxed));
        let mut waiting = lock(&self.waiting);
        for w in waiting.by_number.values_mut().filter(|w| w.sent.due(now, connects)) {
            w.sent.resent(now, connects);
            let _ = self.out.send((w.request.clone(), Some(w.reply.clone())));
        }
    }
}

impl Forward for Forwarder {
    fn forward(&self, op: BrokerOp, payload: Vec<u8>, peer: &PeerRef) -> Served {
        if op.is_sent() {
            lock(&self.senders).entry(peer.id).or_insert_with(|| peer.clone());
            self.send(self.salt ^ peer.id, op, payload, Some(self.refusals.clone()));
            return Served::Nothing;
        }
        // Numbered and queued under one lock, so a copy sent again (`resend_due`) never follows
        // the request that says its answer was received.
        let mut waiting = lock(&self.waiting);
        let n = waiting.next;
        waiting.next += 1;
        let received = std::mem::take(&mut waiting.received);
        let request = encode(&Request { peer: self.salt ^ peer.id, op, payload, received });
        let reply = format!("{}.{n}", self.inbox);
        let sent = Sent::new(Instant::now(), self.stats.connects.load(Ordering::Relaxed));
        let _ = self.out.send((request.clone(), Some(reply.clone())));
        waiting.by_number.insert(n, Waiting { peer: peer.clone(), op, request, reply, sent });
        Served::Nothing
    }

    /// Forgets the worker as a sender. An answer still on its way to it is handled when it
    /// arrives (an item goes back on its queue).
    fn forget(&self, peer: u64) {
        lock(&self.senders).remove(&peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip() {
        for answer in [
            Answer::Reply { reply: BrokerReply::OkUnbounded, item: b"x".to_vec() },
            Answer::Refused { peer: 3, object: 7, fault: QueueFault::Closed },
            Answer::Confirmed { lost: 2 },
            Answer::Pending,
        ] {
            let bytes = postcard::to_allocvec(&answer).unwrap();
            assert_eq!(postcard::from_bytes::<Answer>(&bytes).unwrap(), answer);
        }
    }

    #[test]
    fn a_confirmation_counts_what_never_arrived_per_worker() {
        let mut a = Arrivals::default();
        (0..3).for_each(|_| a.arrived(1));
        a.arrived(2);
        assert_eq!(a.confirm(1, 5), 2, "two of worker 1's five never arrived");
        assert_eq!(a.confirm(2, 1), 0);
        assert_eq!(a.confirm(1, 0), 0, "counting starts afresh");
        a.arrived(1);
        assert_eq!(a.confirm(1, 1), 0);
        assert_eq!(a.confirm(3, 4), 4, "a worker none of whose sends arrived");
    }
}
