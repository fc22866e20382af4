//! A worker's line to the host's broker: the guest's queue and managed-object calls become
//! requests on the worker's stream (the host side is the broker, reached through the link).
//!
//! - A blocking call sends one request and waits for its one answer: the host parks it and
//!   answers when it can complete or when its deadline passes. The deadline sent is the earlier of
//!   the call's own timeout and the input's timeout, so a guest waiting on a queue still times out
//!   with its task.
//! - A put to a queue the host said is unbounded is *sent* without waiting (it cannot be full).
//!   Sent puts sit in the worker's buffered writer, which a flusher thread writes out within
//!   [`FLUSH_DELAY`] (and any round trip, and the end of each chunk, writes them at once), so many
//!   small puts share one write. The host answers only a refusal, after which puts to that queue
//!   wait for answers again.

use super::serve::Writer;
use crate::ipc::frame;
use crate::ipc::protocol::{BrokerOp, BrokerReply, FromWorker, QueueOp};
use std::collections::HashSet;
use std::io::Write;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;
use wasmproc_wire::QueueFault;

/// How long a sent put may wait in the worker's buffer before the flusher writes it.
pub(super) const FLUSH_DELAY: Duration = Duration::from_micros(500);

/// A worker's line to the host's broker.
pub(super) struct BrokerClient {
    writer: Writer,
    replies: Mutex<Receiver<(BrokerReply, Vec<u8>)>>,
    /// Queues puts may be sent to without waiting.
    unbounded: Mutex<HashSet<u64>>,
    /// Sent puts are waiting in the writer's buffer.
    dirty: Mutex<bool>,
    wake_flusher: Condvar,
}

/// The reader thread's side of a [`BrokerClient`]: where answers and refusals go.
pub(super) struct BrokerInbox {
    replies: Sender<(BrokerReply, Vec<u8>)>,
    client: Arc<BrokerClient>,
}

impl BrokerInbox {
    /// Delivers the answer to the pending request; false if nobody listens any more.
    pub(super) fn answer(&self, reply: BrokerReply, item: Vec<u8>) -> bool {
        self.replies.send((reply, item)).is_ok()
    }

    /// The host refused a sent put to `queue`: wait for answers to puts there from now on.
    pub(super) fn refused(&self, queue: u64) {
        lock(&self.client.unbounded).remove(&queue);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl BrokerClient {
    /// A client writing to `writer`, with the inbox its reader thread feeds and the flusher thread
    /// started.
    pub(super) fn start(writer: Writer) -> std::io::Result<(Arc<Self>, BrokerInbox)> {
        let (tx, rx) = std::sync::mpsc::channel();
        let client = Arc::new(BrokerClient {
            writer,
            replies: Mutex::new(rx),
            unbounded: Mutex::default(),
            dirty: Mutex::new(false),
            wake_flusher: Condvar::new(),
        });
        let flusher = Arc::downgrade(&client);
        std::thread::Builder::new().name("wasmproc-flusher".into()).spawn(move || flush_loop(&flusher))?;
        Ok((client.clone(), BrokerInbox { replies: tx, client }))
    }

    /// One request and its answer. A lost host is `Unknown` (the worker exits soon anyway).
    pub(super) fn call(&self, op: BrokerOp, payload: &[&[u8]]) -> (BrokerReply, Vec<u8>) {
        let sent = {
            let mut w = lock(&self.writer);
            frame::write_frame(&mut *w, &FromWorker::Broker(op), payload).and_then(|()| w.flush())
        };
        let reply = sent.ok().and_then(|()| lock(&self.replies).recv().ok());
        reply.unwrap_or((BrokerReply::Err(QueueFault::Unknown), Vec::new()))
    }

    /// Sends a request without waiting for an answer (the flusher writes it out soon).
    pub(super) fn send(&self, op: BrokerOp, payload: &[&[u8]]) -> Result<(), QueueFault> {
        frame::write_frame(&mut *lock(&self.writer), &FromWorker::Broker(op), payload)
            .map_err(|_| QueueFault::Unknown)?;
        let mut dirty = lock(&self.dirty);
        if !*dirty {
            *dirty = true;
            self.wake_flusher.notify_one();
        }
        Ok(())
    }

    /// Appends `item` to `queue`: sent without waiting if the queue is known to be unbounded, a
    /// round trip otherwise.
    pub(super) fn put(&self, queue: u64, item: &[u8], timeout_ms: Option<u64>) -> Result<(), QueueFault> {
        if lock(&self.unbounded).contains(&queue) {
            return self.send(BrokerOp::Queue { queue, op: QueueOp::Send }, &[item]);
        }
        match self.call(BrokerOp::Queue { queue, op: QueueOp::Put { timeout_ms } }, &[item]).0 {
            BrokerReply::Ok => Ok(()),
            BrokerReply::OkUnbounded => {
                lock(&self.unbounded).insert(queue);
                Ok(())
            }
            BrokerReply::Err(f) => Err(f),
            BrokerReply::Len(_) => Err(QueueFault::Unknown),
        }
    }
}

/// Writes sent puts out within [`FLUSH_DELAY`] of the first one; ends with its client (a thread
/// worker's client goes away with its worker, and must not leave its socket open).
fn flush_loop(client: &Weak<BrokerClient>) {
    loop {
        let Some(c) = client.upgrade() else { return };
        let mut dirty = lock(&c.dirty);
        while !*dirty {
            let (d, timed_out) =
                c.wake_flusher.wait_timeout(dirty, Duration::from_millis(200)).unwrap_or_else(|p| p.into_inner());
            dirty = d;
            if timed_out.timed_out() && !*dirty {
                break;
            }
        }
        if !*dirty {
            // Idle: let go of the client for a moment, so it can be dropped.
            drop(dirty);
            drop(c);
            continue;
        }
        drop(dirty);
        std::thread::sleep(FLUSH_DELAY);
        *lock(&c.dirty) = false;
        // A failed write means the host is gone; the reader thread ends the worker.
        let _ = lock(&c.writer).flush();
    }
}
