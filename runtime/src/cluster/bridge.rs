//! Queues, pipes and Manager objects across machines: a node's workers reach the client's broker
//! by message.
//!
//! A client serves its broker on its own subject (`wasmproc.broker.<id>`): each request is a
//! worker's broker request, answered — at once, or later when a parked get or put completes — on
//! the reply subject it came with. A node's pool for that client has a broker that forwards every
//! request there ([`Forwarder`]) and hands each answer to the worker that asked. Requests of one
//! worker travel on one connection to one subscriber, so they are served in the order sent.
//!
//! What differs from a local broker: puts always wait for their answer (a worker is never told a
//! queue is unbounded, so it never sends without waiting), and a managed write that the client
//! refuses (its object was dropped) is reported on the node's stderr, since its chunk may have
//! been answered by then. An item answered to a worker that is gone is put back on its queue.

use super::runtime;
use crate::broker::{Broker, Forward, Peer, PeerRef, Served};
use crate::ipc::protocol::{BrokerOp, BrokerReply, QueueOp};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A worker's request, as it travels.
#[derive(Serialize, Deserialize)]
struct Request {
    /// The worker, unique across nodes (the forwarder's id and the worker's).
    peer: u64,
    op: BrokerOp,
    #[serde(with = "serde_bytes")]
    payload: Vec<u8>,
}

/// The answer to one request.
#[derive(Serialize, Deserialize)]
struct Answer {
    reply: BrokerReply,
    #[serde(with = "serde_bytes")]
    item: Vec<u8>,
}

/// The subject a client serves its broker on.
pub(crate) fn subject(client: &str) -> String {
    format!("wasmproc.broker.{client}")
}

/// Serves `broker` to nodes on `subject` until the process ends.
pub(crate) fn serve(client: async_nats::Client, subject: String, broker: Arc<Broker>) -> Result<(), String> {
    let sub_client = client.clone();
    let mut sub = runtime::wait(async move { sub_client.subscribe(subject).await }).map_err(|e| e.to_string())?;
    runtime::handle().spawn(async move {
        while let Some(msg) = sub.next().await {
            let Ok(req) = postcard::from_bytes::<Request>(&msg.payload) else { continue };
            let peer = PeerRef { id: req.peer, peer: Arc::new(Replier { client: client.clone(), to: msg.reply }) };
            match broker.serve(req.op, req.payload, &peer) {
                Served::Reply(reply, item) => {
                    let _ = peer.answer(reply, item);
                }
                Served::Nothing => {}
                Served::Refused { fault, .. } => {
                    let _ = peer.answer(BrokerReply::Err(fault), Vec::new());
                }
            }
        }
    });
    Ok(())
}

/// Answers one forwarded request on its reply subject.
struct Replier {
    client: async_nats::Client,
    to: Option<async_nats::Subject>,
}

impl Peer for Replier {
    fn answer(&self, reply: BrokerReply, item: Vec<u8>) -> Result<(), Vec<u8>> {
        let Some(to) = self.to.clone() else { return Ok(()) };
        let payload = postcard::to_allocvec(&Answer { reply, item }).expect("an answer encodes");
        let client = self.client.clone();
        runtime::handle().spawn(async move {
            let _ = client.publish(to, payload.into()).await;
        });
        Ok(())
    }
}

/// A node's stand-in for one client's broker.
pub(crate) struct Forwarder {
    /// Requests, published in this order by one task: `(request, reply subject)`.
    out: tokio::sync::mpsc::UnboundedSender<(Vec<u8>, Option<String>)>,
    /// This forwarder's inbox prefix; answers come to `<inbox>.<n>`.
    inbox: String,
    next: AtomicU64,
    /// Who asked, by request number, until answered.
    waiting: Mutex<HashMap<u64, Waiting>>,
    /// Distinguishes this node's workers from other nodes' at the client.
    salt: u64,
}

struct Waiting {
    peer: PeerRef,
    /// The request, to put an answered item back if its worker is gone.
    op: BrokerOp,
}

impl Forwarder {
    /// A forwarder to the client serving its broker on `subject`.
    pub(crate) fn start(client: async_nats::Client, subject: String) -> Result<Arc<Forwarder>, String> {
        let inbox = client.new_inbox();
        let digest = <sha2::Sha256 as sha2::Digest>::digest(inbox.as_bytes());
        let salt = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
        let (out, mut requests) = tokio::sync::mpsc::unbounded_channel::<(Vec<u8>, Option<String>)>();
        let publisher = client.clone();
        runtime::handle().spawn(async move {
            while let Some((request, reply)) = requests.recv().await {
                let subject = subject.clone();
                let _ = match reply {
                    Some(reply) => publisher.publish_with_reply(subject, reply, request.into()).await,
                    None => publisher.publish(subject, request.into()).await,
                };
            }
        });
        let f =
            Arc::new(Forwarder { out, inbox: inbox.clone(), next: AtomicU64::new(0), waiting: Mutex::default(), salt });
        let mut sub =
            runtime::wait(async move { client.subscribe(format!("{inbox}.*")).await }).map_err(|e| e.to_string())?;
        let weak = Arc::downgrade(&f);
        runtime::handle().spawn(async move {
            while let Some(msg) = sub.next().await {
                let Some(f) = weak.upgrade() else { return };
                let Some(n) = msg.subject.rsplit('.').next().and_then(|n| n.parse::<u64>().ok()) else { continue };
                let Ok(answer) = postcard::from_bytes::<Answer>(&msg.payload) else { continue };
                f.answered(n, answer);
            }
        });
        Ok(f)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Waiting>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn answered(&self, n: u64, answer: Answer) {
        let Some(w) = self.lock().remove(&n) else { return };
        if let BrokerOp::Managed { object, op } = w.op
            && op.is_sent()
        {
            if let BrokerReply::Err(fault) = answer.reply {
                eprintln!("wasmproc node: a write to managed object {object} was refused by its host: {fault:?}");
            }
            return;
        }
        // A worker is never told a queue is unbounded: it waits for every put's answer.
        let reply = match answer.reply {
            BrokerReply::OkUnbounded => BrokerReply::Ok,
            other => other,
        };
        if let Err(item) = w.peer.answer(reply, answer.item)
            && let BrokerOp::Queue { queue, op: QueueOp::Get { .. } } = w.op
            && !item.is_empty()
        {
            // The worker that asked is gone: the item goes back on its queue, not lost.
            self.send(self.salt, BrokerOp::Queue { queue, op: QueueOp::Send }, item, None);
        }
    }

    /// Queues a request for the client, with the subject its answer should come to.
    fn send(&self, peer: u64, op: BrokerOp, payload: Vec<u8>, reply: Option<String>) {
        let request = postcard::to_allocvec(&Request { peer, op, payload }).expect("a request encodes");
        let _ = self.out.send((request, reply));
    }
}

impl Forward for Forwarder {
    fn forward(&self, op: BrokerOp, payload: Vec<u8>, peer: &PeerRef) -> Served {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(n, Waiting { peer: peer.clone(), op });
        self.send(self.salt ^ peer.id, op, payload, Some(format!("{}.{n}", self.inbox)));
        Served::Nothing
    }

    /// Nothing to drop: an answer still on its way to a worker that is gone is handled when it
    /// arrives (an item goes back on its queue).
    fn forget(&self, _peer: u64) {}
}
