//! The `wasmproc:task/queue` interface: each call is a request to the host's broker (see
//! `broker_client`). A blocking call sends one request and waits for its one answer: the host
//! parks it and answers when it can complete or when its deadline passes. The deadline sent is the
//! earlier of the call's own timeout and the input's, so a guest waiting on a queue still times
//! out with its task.

use super::super::GuestState;
use super::super::line::Line;
use super::wasmproc::task::queue::{self, QueueError};
use crate::ipc::protocol::{BrokerOp, BrokerReply, QueueOp};
use std::sync::Arc;
use std::time::Instant;
use wasmproc_wire::QueueFault;

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
    pub(super) fn client(&self) -> Result<Arc<Line>, QueueError> {
        self.line.clone().ok_or(QueueError::Unknown)
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

    /// A non-blocking request on `queue` that answers `Ok`, `Len` or an error.
    fn simple(&self, queue: u64, op: QueueOp) -> Result<BrokerReply, QueueError> {
        match self.client()?.call(BrokerOp::Queue { queue, op }, &[]).0 {
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
        match client.call(BrokerOp::Queue { queue, op: QueueOp::Get { timeout_ms: self.wait_ms(timeout_ms) } }, &[]) {
            (BrokerReply::Ok, item) => Ok(Ok(item)),
            (BrokerReply::Err(f @ QueueFault::Empty), _) => self.timed_out(f).map(Err),
            (BrokerReply::Err(f), _) => Ok(Err(to_wit(f))),
            (BrokerReply::OkUnbounded | BrokerReply::Len(_), _) => Ok(Err(QueueError::Unknown)),
        }
    }

    fn len(&mut self, queue: u64) -> wasmtime::Result<Result<u64, QueueError>> {
        Ok(self.simple(queue, QueueOp::Len).and_then(|r| match r {
            BrokerReply::Len(n) => Ok(n),
            _ => Err(QueueError::Unknown),
        }))
    }

    fn is_closed(&mut self, queue: u64) -> wasmtime::Result<Result<bool, QueueError>> {
        Ok(self.simple(queue, QueueOp::IsClosed).and_then(|r| match r {
            BrokerReply::Len(flag) => Ok(flag != 0),
            _ => Err(QueueError::Unknown),
        }))
    }

    fn task_done(&mut self, queue: u64) -> wasmtime::Result<Result<(), QueueError>> {
        Ok(self.simple(queue, QueueOp::TaskDone).map(|_| ()))
    }

    fn unfinished(&mut self, queue: u64) -> wasmtime::Result<Result<u64, QueueError>> {
        Ok(self.simple(queue, QueueOp::Unfinished).and_then(|r| match r {
            BrokerReply::Len(n) => Ok(n),
            _ => Err(QueueError::Unknown),
        }))
    }

    fn close(&mut self, queue: u64) -> wasmtime::Result<Result<(), QueueError>> {
        Ok(self.simple(queue, QueueOp::Close).map(|_| ()))
    }
}
