//! Queues, pipes and Manager objects across machines: a node's workers reach the client's broker
//! by message.
//!
//! A client serves its broker on its own subject (`wasmproc.broker.<id>`): each request is a
//! worker's broker request, answered — at once, or later when a parked get or put completes — on
//! the reply subject it came with. A node's pool for that client has a broker that forwards every
//! request there ([`Forwarder`]) and hands each answer to the worker that asked. The client
//! publishes its answers in the order it makes them.
//!
//! Requests a worker sends without waiting (puts to an unbounded queue, managed writes) travel the
//! same way, and nothing comes back for them unless one is refused: the refusal reaches the
//! worker's link ([`Peer::refused`]). Before answering a chunk that sent any, the worker asks for
//! a confirmation (`BrokerOp::Confirm`, with how many it sent); the client answers it after every
//! earlier request of that worker, saying how many never arrived ([`Peer::confirmed`]). So a chunk's
//! puts cost one round trip to the client in all instead of one each, and a refused one still
//! fails the chunk that sent it, as on one machine. An item answered to a worker that is gone is
//! put back on its queue.
//!
//! Core NATS delivers at most once, so a server restart can lose requests and answers. Nothing is
//! lost for that:
//! - A forwarder numbers its requests and keeps each until the client has served it; the client
//!   serves them once each, in that order, holding any that come after a gap and asking for the
//!   gap to be sent again ([`order`]).
//! - A forwarder sends again what may have been lost after it reconnects or after a silence
//!   ([`resend`]); the client answers a copy of a waited-for request from its memory of its
//!   answers instead of serving it twice ([`replies`]).
//!
//! When one of a node's workers is gone, its forwarder tells the client in turn
//! ([`Message::Forget`]), and the client drops the worker's parked requests: an item put later
//! is not answered to a worker that no longer exists (and, once the node's pool is gone too, to
//! nobody). It answers each dropped request with an error nobody reads, so that the forwarder
//! stops waiting for it and sending copies of it. When a node's pool ends, its forwarder says
//! [`Message::Goodbye`], and the client forgets its numbering and its answers.
//!
//! A message travels as its number (8 bytes, little-endian) and then the postcard of
//! [`Message`], so that even one that does not decode takes its turn (a send counted lost by its
//! `Confirm`, a waited-for one answered `Unknown`) instead of leaving a gap forever.

mod order;
mod replies;
mod resend;

use super::runtime;
use crate::broker::{Broker, Forward, Peer, PeerRef, Served};
use crate::ipc::protocol::{BrokerOp, BrokerReply, QueueOp};
use bytes::Bytes;
use futures_util::StreamExt;
use order::{Arrival, Order};
use replies::{Replies, Seen};
use resend::Sent;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use wasmproc_wire::QueueFault;

/// What a forwarder sends, after its number.
#[derive(Serialize, Deserialize)]
enum Message {
    /// A worker's broker request.
    Request(Request),
    /// Worker `peer` (salted, as in its requests) is gone: drop its parked requests.
    Forget { peer: u64 },
    /// The forwarder is gone (its node's pool ended): forget its numbering and answers.
    Goodbye,
}

/// A worker's broker request.
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
    /// Every request numbered below `upto` was served (to the refusal subject).
    Served { upto: u64 },
    /// Requests from number `from` on are missing: send them again (to the refusal subject).
    Resend { from: u64 },
}

/// The subject a client serves its broker on.
pub(crate) fn subject(client: &str) -> String {
    format!("wasmproc.broker.{client}")
}

/// The last token of a forwarder's subject on which refusals and other news come (answers to
/// waited-for requests come on their number).
const REFUSALS: &str = "refused";

/// A message as it travels: its number, then the rest.
fn frame(seq: u64, message: &Message) -> Bytes {
    let mut out = seq.to_le_bytes().to_vec();
    postcard::to_io(message, &mut out).expect("a message encodes");
    out.into()
}

/// A message's number, and the rest if it decodes.
fn unframe(bytes: &[u8]) -> Option<(u64, Option<Message>)> {
    let (seq, rest) = bytes.split_first_chunk::<8>()?;
    Some((u64::from_le_bytes(*seq), postcard::from_bytes(rest).ok()))
}

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
    let server =
        Server { out, broker, replies: Arc::new(Mutex::new(Replies::default())), arrivals: Arrivals::default() };
    runtime::handle().spawn(async move {
        let mut server = server;
        let mut orders: HashMap<String, Order<(Option<Message>, async_nats::Subject)>> = HashMap::new();
        while let Some(msg) = sub.next().await {
            let (Some((seq, request)), Some(reply)) = (unframe(&msg.payload), msg.reply) else { continue };
            let Some((inbox, _)) = reply.rsplit_once('.') else { continue };
            let order = match orders.get_mut(inbox) {
                Some(order) => order,
                None => orders.entry(inbox.to_string()).or_default(),
            };
            let mut copy = false;
            match order.arrived(seq, (request, reply.clone()), Instant::now()) {
                Arrival::Serve(requests) => {
                    let mut gone = false;
                    for (request, reply) in requests {
                        gone |= matches!(request, Some(Message::Goodbye));
                        server.serve(request, reply);
                    }
                    if gone {
                        // Its last message: nothing of this forwarder's will come again.
                        orders.remove(inbox);
                        continue;
                    }
                }
                Arrival::Copy((_, reply)) => {
                    server.copy(&reply);
                    copy = true;
                }
                Arrival::Early { ask_from: None } => {}
                Arrival::Early { ask_from: Some(from) } => server.tell(&reply, &Answer::Resend { from }),
            }
            if let Some(upto) = order.ack_due(copy) {
                server.tell(&reply, &Answer::Served { upto });
            }
        }
    });
    Ok(())
}

/// The client's side: serves requests in their turn.
struct Server {
    out: UnboundedSender<(async_nats::Subject, Bytes)>,
    broker: Arc<Broker>,
    replies: Arc<Mutex<Replies>>,
    arrivals: Arrivals,
}

impl Server {
    /// Serves one message in its turn (`None`: it did not decode).
    fn serve(&mut self, message: Option<Message>, reply: async_nats::Subject) {
        let waited = waited_for(&reply);
        let request = match message {
            Some(Message::Forget { peer }) => {
                // The forwarder still waits for an answer to each request the worker parked: one
                // ends the wait (nobody reads it), so that it does not keep sending copies.
                for parked in self.broker.forget_peer(peer) {
                    let _ = parked.peer.answer(BrokerReply::Err(QueueFault::Closed), Vec::new());
                }
                self.arrivals.forget(peer);
                return;
            }
            Some(Message::Goodbye) => {
                if let Some((inbox, _)) = reply.rsplit_once('.') {
                    lock(&self.replies).close(inbox);
                }
                return;
            }
            Some(Message::Request(req)) => Some(req),
            None => None,
        };
        let Some(req) = request else {
            // A send that did not decode did not arrive: the worker's `Confirm` counts it lost. A
            // waited-for request is answered, so that its worker does not wait forever.
            if waited.is_some() {
                let answer = Answer::Reply { reply: BrokerReply::Err(QueueFault::Unknown), item: Vec::new() };
                let _ = self.out.send((reply, encode(&answer)));
            }
            return;
        };
        if let Some((inbox, n)) = &waited {
            let seen = lock(&self.replies).served(inbox, *n, &req.received);
            debug_assert_eq!(seen, Seen::New, "a request is served once, in its turn");
        }
        let replier = Arc::new(Replier {
            out: self.out.clone(),
            to: Some(reply),
            peer: req.peer,
            waited,
            replies: self.replies.clone(),
        });
        if let BrokerOp::Confirm { sent } = req.op {
            replier.confirmed(self.arrivals.confirm(req.peer, sent));
            return;
        }
        if req.op.is_sent() {
            self.arrivals.arrived(req.peer);
        }
        let peer = PeerRef { id: req.peer, peer: replier.clone() };
        match self.broker.serve(req.op, req.payload, &peer) {
            Served::Reply(reply, item) => {
                let _ = replier.answer(reply, item);
            }
            Served::Nothing => {}
            Served::Refused { object, fault } => replier.refused(object, fault),
        }
    }

    /// A copy of a request served already: a waited-for one is answered again (or `Pending`); a
    /// sent one needs nothing.
    fn copy(&self, reply: &async_nats::Subject) {
        let Some((inbox, n)) = waited_for(reply) else { return };
        let answer = match lock(&self.replies).copy(&inbox, n) {
            Some(Seen::Answered(answer)) => answer,
            Some(_) => encode(&Answer::Pending),
            None => return,
        };
        let _ = self.out.send((reply.clone(), answer));
    }

    /// Tells the forwarder whose request came on `reply` something on its refusal subject.
    fn tell(&self, reply: &str, answer: &Answer) {
        if let Some((inbox, _)) = reply.rsplit_once('.') {
            let _ = self.out.send((format!("{inbox}.{REFUSALS}").into(), encode(answer)));
        }
    }
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

    /// Worker `peer` is gone.
    fn forget(&mut self, peer: u64) {
        self.0.remove(&peer);
    }
}

/// The forwarder's inbox and the request's number, if `reply` is a waited-for request's reply
/// subject (`<inbox>.<n>`, not `<inbox>.refused`).
fn waited_for(reply: &str) -> Option<(String, u64)> {
    let (inbox, n) = reply.rsplit_once('.')?;
    // The number first: a sent request (most of them) allocates nothing here.
    let n = n.parse().ok()?;
    Some((inbox.to_string(), n))
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
    out: UnboundedSender<(Bytes, String)>,
    /// This forwarder's inbox prefix; answers come to `<inbox>.<n>`.
    inbox: String,
    /// Where refusals come: `<inbox>.refused`.
    refusals: String,
    /// Requests not yet known served, and waited-for ones not yet answered.
    outbox: Mutex<Outbox>,
    /// The connection's statistics: its count of connects tells a reconnect.
    stats: Arc<async_nats::Statistics>,
    /// Workers that sent requests, by id, until they are gone: a refusal may come for one sent
    /// without waiting, and the client is told when they go.
    senders: Mutex<HashMap<u64, PeerRef>>,
    /// Distinguishes this node's workers from other nodes' at the client.
    salt: u64,
}

/// A forwarder's requests on their way.
#[derive(Default)]
struct Outbox {
    /// The next request's number.
    next: u64,
    /// Every request the client has not said it served, oldest first: `(number, request, reply
    /// subject)`.
    unserved: VecDeque<(u64, Bytes, String)>,
    /// Waited-for requests, by number, until answered.
    waiting: BTreeMap<u64, Waiting>,
    /// The numbers of the answers received since the last waited-for request.
    received: Vec<u64>,
    /// The connection's count of connects when everything unserved was last sent.
    connects: u64,
}

impl Outbox {
    /// The client served every request numbered below `upto`.
    fn served_below(&mut self, upto: u64) {
        while self.unserved.front().is_some_and(|(seq, _, _)| *seq < upto) {
            self.unserved.pop_front();
        }
    }
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
        let (out, mut requests) = unbounded_channel::<(Bytes, String)>();
        let publisher = client.clone();
        runtime::handle().spawn(async move {
            while let Some((request, reply)) = requests.recv().await {
                let _ = publisher.publish_with_reply(subject.clone(), reply, request).await;
            }
        });
        let stats = client.statistics();
        let outbox = Outbox { connects: stats.connects.load(Ordering::Relaxed), ..Outbox::default() };
        let f = Arc::new(Forwarder {
            out,
            inbox: inbox.clone(),
            refusals: format!("{inbox}.{REFUSALS}"),
            outbox: Mutex::new(outbox),
            stats,
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
            let mut outbox = lock(&self.outbox);
            if let Answer::Pending = answer {
                if let Some(w) = outbox.waiting.get_mut(&n) {
                    w.sent.heard();
                }
                // Parked, so served, and every request before it too.
                outbox.served_below(n + 1);
                return;
            }
            // A second answer (to a copy sent again) finds nothing.
            let Some(w) = outbox.waiting.remove(&n) else { return };
            outbox.received.push(n);
            // Answered, so served, and every request before it too.
            outbox.served_below(n + 1);
            w
        };
        let (reply, item) = match answer {
            Answer::Reply { reply, item } => (reply, item),
            Answer::Confirmed { lost } => return w.peer.peer.confirmed(lost),
            _ => return,
        };
        if let Err(item) = w.peer.answer(reply, item)
            && let BrokerOp::Queue { queue, op: QueueOp::Get { .. } } = w.op
            && !item.is_empty()
        {
            // The worker that asked is gone: the item goes back on its queue, not lost.
            self.queue(self.salt, BrokerOp::Queue { queue, op: QueueOp::Send }, item, None);
        }
    }

    /// News on the refusal subject: a refused send, how far the client has served, or a gap.
    fn told(&self, answer: Answer) {
        match answer {
            Answer::Refused { peer, object, fault } => {
                // Not under the lock: telling the worker may wait for it to read, and it may be
                // waiting for its node to read its puts, which takes this lock (`forward`).
                let sender = lock(&self.senders).get(&(peer ^ self.salt)).cloned();
                if let Some(sender) = sender {
                    sender.peer.refused(object, fault);
                }
            }
            Answer::Served { upto } => lock(&self.outbox).served_below(upto),
            Answer::Resend { from } => {
                let outbox = lock(&self.outbox);
                let from = outbox.unserved.iter().filter(|(seq, _, _)| *seq >= from);
                for (_, request, reply) in from.take(resend::RESEND_BURST) {
                    let _ = self.out.send((request.clone(), reply.clone()));
                }
            }
            _ => {}
        }
    }

    /// Queues a request for the client: a waited-for one with the worker that waits (`Some`), a
    /// sent one with `None`.
    fn queue(&self, peer: u64, op: BrokerOp, payload: Vec<u8>, waiter: Option<&PeerRef>) {
        let mut outbox = lock(&self.outbox);
        let received = if waiter.is_some() { std::mem::take(&mut outbox.received) } else { Vec::new() };
        self.push(&mut outbox, &Message::Request(Request { peer, op, payload, received }), waiter.map(|w| (w, op)));
    }

    /// Numbers a message and queues it for the client, with the worker that waits for its answer
    /// and its request, if any. Under the outbox's lock, so messages go out in the order of their
    /// numbers.
    fn push(&self, outbox: &mut Outbox, message: &Message, waiter: Option<(&PeerRef, BrokerOp)>) {
        let seq = outbox.next;
        outbox.next += 1;
        let request = frame(seq, message);
        let reply = match waiter {
            Some(_) => format!("{}.{seq}", self.inbox),
            None => self.refusals.clone(),
        };
        let _ = self.out.send((request.clone(), reply.clone()));
        if let Some((waiter, op)) = waiter {
            let sent = Sent::new(Instant::now(), self.stats.connects.load(Ordering::Relaxed));
            let w = Waiting { peer: waiter.clone(), op, request: request.clone(), reply: reply.clone(), sent };
            outbox.waiting.insert(seq, w);
        }
        outbox.unserved.push_back((seq, request, reply));
    }

    /// Sends again what may have been lost (see `resend`): after a reconnect or a silence,
    /// everything unserved, oldest first, then copies of the waited-for requests served but whose
    /// answers may be lost.
    fn resend_due(&self) {
        let (now, connects) = (Instant::now(), self.stats.connects.load(Ordering::Relaxed));
        let mut outbox = lock(&self.outbox);
        let reconnected = connects != outbox.connects;
        if !reconnected && !outbox.waiting.values().any(|w| w.sent.due(now, connects)) {
            return;
        }
        outbox.connects = connects;
        let first_unserved = outbox.unserved.front().map_or(u64::MAX, |(seq, _, _)| *seq);
        for (seq, w) in outbox.waiting.iter_mut() {
            // Below the first unserved, it was served: send a copy only if its answer may be lost.
            let copy = *seq < first_unserved;
            if !copy || w.sent.due(now, connects) {
                if copy {
                    let _ = self.out.send((w.request.clone(), w.reply.clone()));
                }
                w.sent.resent(now, connects);
            }
        }
        for (_, request, reply) in outbox.unserved.iter().take(resend::RESEND_BURST) {
            let _ = self.out.send((request.clone(), reply.clone()));
        }
    }
}

impl Drop for Forwarder {
    /// Tells the client to forget this forwarder. If the message is lost (the server restarting
    /// just then), the client keeps its few bytes about it.
    fn drop(&mut self) {
        let mut outbox = lock(&self.outbox);
        self.push(&mut outbox, &Message::Goodbye, None);
    }
}

impl Forward for Forwarder {
    fn forward(&self, op: BrokerOp, payload: Vec<u8>, peer: &PeerRef) -> Served {
        lock(&self.senders).entry(peer.id).or_insert_with(|| peer.clone());
        if op.is_sent() {
            self.queue(self.salt ^ peer.id, op, payload, None);
        } else {
            self.queue(self.salt ^ peer.id, op, payload, Some(peer));
        }
        Served::Nothing
    }

    /// Forgets the worker as a sender, and tells the client to drop its parked requests. An
    /// answer still on its way to it is handled when it arrives (an item goes back on its queue).
    fn forget(&self, peer: u64) {
        // Only a worker that asked anything has something to forget, and only once.
        if lock(&self.senders).remove(&peer).is_some() {
            let mut outbox = lock(&self.outbox);
            self.push(&mut outbox, &Message::Forget { peer: self.salt ^ peer }, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_keeps_its_number_even_when_the_rest_does_not_decode() {
        let req = Request { peer: 3, op: BrokerOp::Confirm { sent: 2 }, payload: b"p".to_vec(), received: vec![1] };
        let framed = frame(7, &Message::Request(req));
        let (seq, back) = unframe(&framed).expect("a number");
        assert_eq!(seq, 7);
        let Some(Message::Request(back)) = back else { panic!("decodes") };
        assert_eq!(
            (back.peer, back.op, back.payload, back.received),
            (3, BrokerOp::Confirm { sent: 2 }, b"p".to_vec(), vec![1])
        );
        let mut garbled = framed[..8].to_vec();
        garbled.extend_from_slice(&[0xff; 4]);
        assert!(matches!(unframe(&garbled), Some((7, None))), "it still takes its turn");
        assert!(unframe(&framed[..5]).is_none(), "too short to have a number");
    }

    #[test]
    fn a_forgotten_workers_parked_get_takes_no_item() {
        let (out, mut answers) = unbounded_channel();
        let broker = Arc::new(Broker::default());
        let mut server = Server { out, broker: broker.clone(), replies: Arc::default(), arrivals: Arrivals::default() };
        let (queue, q) = broker.create(None);
        let get = |peer| Request {
            peer,
            op: BrokerOp::Queue { queue, op: QueueOp::Get { timeout_ms: None } },
            payload: vec![],
            received: vec![],
        };
        server.serve(Some(Message::Request(get(9))), "in.0".into());
        server.serve(Some(Message::Request(get(10))), "in.1".into());
        server.serve(Some(Message::Forget { peer: 9 }), "in.refused".into());
        let (to, answer) = answers.try_recv().expect("the forgotten worker's forwarder is answered");
        let ended = Answer::Reply { reply: BrokerReply::Err(QueueFault::Closed), item: vec![] };
        assert_eq!((to.as_str(), postcard::from_bytes::<Answer>(&answer).unwrap()), ("in.0", ended));
        q.put(b"x".to_vec(), None).unwrap();
        let (to, _) = answers.try_recv().expect("the live worker's get is answered");
        assert_eq!(to.as_str(), "in.1", "not the forgotten one's");
        q.put(b"y".to_vec(), None).unwrap();
        assert!(answers.try_recv().is_err(), "nothing for the forgotten worker");
        assert_eq!(q.len(), 1, "its item stays in the queue");
    }

    #[test]
    fn answers_round_trip() {
        for answer in [
            Answer::Reply { reply: BrokerReply::OkUnbounded, item: b"x".to_vec() },
            Answer::Refused { peer: 3, object: 7, fault: QueueFault::Closed },
            Answer::Confirmed { lost: 2 },
            Answer::Pending,
            Answer::Served { upto: 9 },
            Answer::Resend { from: 4 },
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
