//! The `wasmproc:task/queue` interface in a worker: each call is a request to the host's broker
//! over the worker's socket. Blocking calls poll with backoff (20 µs doubling to 2 ms) until they
//! succeed or their deadline passes — the earlier of their own timeout and the input's timeout —
//! so a guest waiting on a queue still honours the pool's per-task timeout.

use super::GuestState;
use super::bindings::wasmproc::task::queue::{self, QueueError};
use crate::broker::{QueueFault, QueueOp, QueueReply};
use crate::protocol::{self, FromWorker};
use std::io::{BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A worker's line to the host's broker.
pub(crate) struct BrokerClient {
    writer: Arc<Mutex<BufWriter<UnixStream>>>,
    replies: Mutex<Receiver<(QueueReply, Vec<u8>)>>,
}

impl BrokerClient {
    pub(crate) fn new(writer: Arc<Mutex<BufWriter<UnixStream>>>, replies: Receiver<(QueueReply, Vec<u8>)>) -> Self {
        BrokerClient { writer, replies: Mutex::new(replies) }
    }

    /// One request and its reply. A lost host is `Unknown` (the worker exits soon anyway).
    fn call(&self, op: QueueOp, payload: &[u8]) -> (QueueReply, Vec<u8>) {
        let sent = {
            let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            protocol::write_frame(&mut *w, &FromWorker::Queue(op), &[payload]).and_then(|()| w.flush())
        };
        let reply = sent.ok().and_then(|()| self.replies.lock().unwrap_or_else(|p| p.into_inner()).recv().ok());
        reply.unwrap_or((QueueReply::Err(QueueFault::Unknown), Vec::new()))
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

impl GuestState {
    /// Repeats `attempt` while it fails with `again`, until the deadline.
    fn poll<T>(
        &mut self,
        timeout_ms: Option<u64>,
        again: QueueFault,
        mut attempt: impl FnMut(&BrokerClient) -> Result<T, QueueFault>,
    ) -> wasmtime::Result<Result<T, QueueError>> {
        let Some(broker) = self.broker.clone() else { return Ok(Err(QueueError::Unknown)) };
        let own = timeout_ms.map(|ms| Instant::now() + Duration::from_millis(ms));
        let task = self.deadline;
        let deadline = match (own, task) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut backoff = Duration::from_micros(20);
        loop {
            match attempt(&broker) {
                Err(fault) if fault == again => {
                    let now = Instant::now();
                    let wait = match deadline {
                        // The task's own time is up: it times out, as if interrupted.
                        Some(d) if now >= d && task.is_some_and(|t| now >= t) => {
                            return Err(wasmtime::Trap::Interrupt.into());
                        }
                        Some(d) if now >= d => return Ok(Err(to_wit(fault))),
                        Some(d) => backoff.min(d - now),
                        None => backoff,
                    };
                    std::thread::sleep(wait);
                    backoff = (backoff * 2).min(Duration::from_millis(2));
                }
                other => return Ok(other.map_err(to_wit)),
            }
        }
    }
}

impl queue::Host for GuestState {
    fn put(&mut self, queue: u64, item: Vec<u8>, timeout_ms: Option<u64>) -> wasmtime::Result<Result<(), QueueError>> {
        self.poll(timeout_ms, QueueFault::Full, |b| match b.call(QueueOp::Put { queue }, &item) {
            (QueueReply::Ok, _) => Ok(()),
            (QueueReply::Err(f), _) => Err(f),
            (QueueReply::Len(_), _) => Err(QueueFault::Unknown),
        })
    }

    fn get(&mut self, queue: u64, timeout_ms: Option<u64>) -> wasmtime::Result<Result<Vec<u8>, QueueError>> {
        self.poll(timeout_ms, QueueFault::Empty, |b| match b.call(QueueOp::Get { queue }, &[]) {
            (QueueReply::Ok, item) => Ok(item),
            (QueueReply::Err(f), _) => Err(f),
            (QueueReply::Len(_), _) => Err(QueueFault::Unknown),
        })
    }

    fn len(&mut self, queue: u64) -> wasmtime::Result<Result<u64, QueueError>> {
        self.poll(Some(0), QueueFault::Unknown, |b| match b.call(QueueOp::Len { queue }, &[]) {
            (QueueReply::Len(n), _) => Ok(n),
            (QueueReply::Err(f), _) => Err(f),
            (QueueReply::Ok, _) => Err(QueueFault::Unknown),
        })
    }

    fn is_closed(&mut self, queue: u64) -> wasmtime::Result<Result<bool, QueueError>> {
        self.poll(Some(0), QueueFault::Unknown, |b| match b.call(QueueOp::IsClosed { queue }, &[]) {
            (QueueReply::Len(flag), _) => Ok(flag != 0),
            (QueueReply::Err(f), _) => Err(f),
            (QueueReply::Ok, _) => Err(QueueFault::Unknown),
        })
    }

    fn task_done(&mut self, queue: u64) -> wasmtime::Result<Result<(), QueueError>> {
        self.poll(Some(0), QueueFault::Unknown, |b| match b.call(QueueOp::TaskDone { queue }, &[]) {
            (QueueReply::Ok, _) => Ok(()),
            (QueueReply::Err(f), _) => Err(f),
            (QueueReply::Len(_), _) => Err(QueueFault::Unknown),
        })
    }

    fn unfinished(&mut self, queue: u64) -> wasmtime::Result<Result<u64, QueueError>> {
        self.poll(Some(0), QueueFault::Unknown, |b| match b.call(QueueOp::Unfinished { queue }, &[]) {
            (QueueReply::Len(n), _) => Ok(n),
            (QueueReply::Err(f), _) => Err(f),
            (QueueReply::Ok, _) => Err(QueueFault::Unknown),
        })
    }

    fn close(&mut self, queue: u64) -> wasmtime::Result<Result<(), QueueError>> {
        self.poll(Some(0), QueueFault::Unknown, |b| match b.call(QueueOp::Close { queue }, &[]) {
            (QueueReply::Ok, _) => Ok(()),
            (QueueReply::Err(f), _) => Err(f),
            (QueueReply::Len(_), _) => Err(QueueFault::Unknown),
        })
    }
}
