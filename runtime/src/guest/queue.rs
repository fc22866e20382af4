//! The `wasmproc:task/queue` interface in a worker: each call is a request to the host's broker
//! over the worker's socket (see `broker.rs` for the host side).
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

use super::GuestState;
use super::bindings::wasmproc::task::queue::{self, QueueError};
use crate::broker::{BrokerOp, BrokerReply, QueueFault};
use crate::protocol::{self, FromWorker};
use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// How long a sent put may wait in the worker's buffer before the flusher writes it.
pub(crate) const FLUSH_DELAY: Duration = Duration::from_micros(500);

/// A worker's line to the host's broker.
pub(crate) struct BrokerClient {
    writer: Arc<Mutex<BufWriter<UnixStream>>>,
    replies: Mutex<Receiver<(BrokerReply, Vec<u8>)>>,
    /// Queues puts may be sent to without waiting.
    unbounded: Mutex<HashSet<u64>>,
    /// Sent puts are waiting in the writer's buffer.
    dirty: Mutex<bool>,
    wake_flusher: Condvar,
}

/// The reader thread's side of a [`BrokerClient`]: where answers and refusals go.
pub(crate) struct BrokerInbox {
    replies: Sender<(BrokerReply, Vec<u8>)>,
    client: Arc<BrokerClient>,
}

impl BrokerInbox {
    /// Delivers the answer to the pending request; false if nobody listens any more.
    pub(crate) fn answer(&self, reply: BrokerReply, item: Vec<u8>) -> bool {
        self.replies.send((reply, item)).is_ok()
    }

    /// The host refused a sent put to `queue`: wait for answers to puts there from now on.
    pub(crate) fn refused(&self, queue: u64) {
        lock(&self.client.unbounded).remove(&queue);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl BrokerClient {
    /// A client writing to `writer`, with the inbox its reader thread feeds and the flusher thread
    /// started.
    pub(crate) fn start(writer: Arc<Mutex<BufWriter<UnixStream>>>) -> std::io::Result<(Arc<Self>, BrokerInbox)> {
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
    pub(crate) fn call(&self, op: BrokerOp, payload: &[&[u8]]) -> (BrokerReply, Vec<u8>) {
        let sent = {
            let mut w = lock(&self.writer);
            protocol::write_frame(&mut *w, &FromWorker::Broker(op), payload).and_then(|()| w.flush())
        };
        let reply = sent.ok().and_then(|()| lock(&self.replies).recv().ok());
        reply.unwrap_or((BrokerReply::Err(QueueFault::Unknown), Vec::new()))
    }

    /// Sends a request without waiting for an answer (the flusher writes it out soon).
    pub(crate) fn send(&self, op: BrokerOp, payload: &[&[u8]]) -> Result<(), QueueFault> {
        protocol::write_frame(&mut *lock(&self.writer), &FromWorker::Broker(op), payload)
            .map_err(|_| QueueFault::Unknown)?;
        let mut dirty = lock(&self.dirty);
        if !*dirty {
            *dirty = true;
            self.wake_flusher.notify_one();
        }
        Ok(())
    }

    fn put(&self, queue: u64, item: &[u8], timeout_ms: Option<u64>) -> Result<(), QueueFault> {
        if lock(&self.unbounded).contains(&queue) {
            return self.send(BrokerOp::Send { queue }, &[item]);
        }
        match self.call(BrokerOp::Put { queue, timeout_ms }, &[item]).0 {
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

fn to_wit(fault: QueueFault) -> QueueError {
    match fault {
        QueueFault::Empty => QueueError::Empty,
        QueueFault::Full => QueueError::Full,
        QueueFault::Closed => QueueError::Closed,
        QueueFault::Unknown => QueueError::Unknown,
        QueueFault::TooManyTaskDone => QueueError::TooManyTaskDone,
    }
}

/// Milliseconds until `t`, rounded up (a deadline is never cut short).
fn millis_until(t: Instant, now: Instant) -> u64 {
    t.saturating_duration_since(now).as_micros().div_ceil(1000) as u64
}

impl GuestState {
    pub(crate) fn client(&self) -> Result<Arc<BrokerClient>, QueueError> {
        self.broker.clone().ok_or(QueueError::Unknown)
    }

    /// The timeout to send for a blocking call: the earlier of its own and the input's deadline.
    fn wait_ms(&self, timeout_ms: Option<u64>) -> Option<u64> {
        let task = self.deadline.map(|d| millis_until(d, Instant::now()));
        match (timeout_ms, task) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A blocking call came back `fault` (empty/full): if the input's own time is up, it times out
    /// as if interrupted.
    fn timed_out(&self, fault: QueueFault) -> wasmtime::Result<QueueError> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        Ok(to_wit(fault))
    }

    /// A non-blocking request that answers `Ok`, `Len` or an error.
    fn simple(&self, op: BrokerOp) -> Result<BrokerReply, QueueError> {
        match self.client()?.call(op, &[]).0 {
            BrokerReply::Err(f) => Err(to_wit(f)),
            other => Ok(other),
        }
    }
}

impl queue::Host for GuestState {
    fn put(&mut self, queue: u64, item: Vec<u8>, timeout_ms: Option<u64>) -> wasmtime::Result<Result<(), QueueError>> {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        match client.put(queue, &item, self.wait_ms(timeout_ms)) {
            Ok(()) => Ok(Ok(())),
            Err(f @ QueueFault::Full) => self.timed_out(f).map(Err),
            Err(f) => Ok(Err(to_wit(f))),
        }
    }

    fn get(&mut self, queue: u64, timeout_ms: Option<u64>) -> wasmtime::Result<Result<Vec<u8>, QueueError>> {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        match client.call(BrokerOp::Get { queue, timeout_ms: self.wait_ms(timeout_ms) }, &[]) {
            (BrokerReply::Ok, item) => Ok(Ok(item)),
            (BrokerReply::Err(f @ QueueFault::Empty), _) => self.timed_out(f).map(Err),
            (BrokerReply::Err(f), _) => Ok(Err(to_wit(f))),
            (BrokerReply::OkUnbounded | BrokerReply::Len(_), _) => Ok(Err(QueueError::Unknown)),
        }
    }

    fn len(&mut self, queue: u64) -> wasmtime::Result<Result<u64, QueueError>> {
        Ok(self.simple(BrokerOp::Len { queue }).and_then(|r| match r {
            BrokerReply::Len(n) => Ok(n),
            _ => Err(QueueError::Unknown),
        }))
    }

    fn is_closed(&mut self, queue: u64) -> wasmtime::Result<Result<bool, QueueError>> {
        Ok(self.simple(BrokerOp::IsClosed { queue }).and_then(|r| match r {
            BrokerReply::Len(flag) => Ok(flag != 0),
            _ => Err(QueueError::Unknown),
        }))
    }

    fn task_done(&mut self, queue: u64) -> wasmtime::Result<Result<(), QueueError>> {
        Ok(self.simple(BrokerOp::TaskDone { queue }).map(|_| ()))
    }

    fn unfinished(&mut self, queue: u64) -> wasmtime::Result<Result<u64, QueueError>> {
        Ok(self.simple(BrokerOp::Unfinished { queue }).and_then(|r| match r {
            BrokerReply::Len(n) => Ok(n),
            _ => Err(QueueError::Unknown),
        }))
    }

    fn close(&mut self, queue: u64) -> wasmtime::Result<Result<(), QueueError>> {
        Ok(self.simple(BrokerOp::Close { queue }).map(|_| ()))
    }
}
