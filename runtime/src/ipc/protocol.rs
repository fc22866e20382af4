//! The messages between the host and a worker, one per frame (see `ipc::frame`).
//!
//! Host → worker ([`ToWorker`]): `Init` first, then `Load`, `Run` and `Exit`; answers to the
//! worker's broker requests, and refusals of requests it sent without waiting.
//! Worker → host ([`FromWorker`]): `Ready` once, `Done` per `Run` in order (after any `Progress`
//! for it), and broker requests ([`BrokerOp`]) for the guest's queue and managed-object calls.

use crate::config::Sandbox;
use crate::engine::Flavor;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use wasmproc_wire::{Codec, QueueFault};

/// A task call that prepares each instance of a module (Python's `initializer`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct InitCall {
    pub(crate) task: String,
    pub(crate) codec: Codec,
    pub(crate) args: Vec<u8>,
}

/// Settings a worker needs before it can run anything; sent in the first frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WorkerInit {
    /// The worker's process name (`process.current`, output prefix).
    pub(crate) name: String,
    /// The worker's slot in its pool.
    pub(crate) worker_id: u32,
    /// Which engine to build.
    pub(crate) flavor: Flavor,
    /// The fuel each input gets (metered engines only).
    pub(crate) fuel: Option<u64>,
    /// Interrupt an input after this long.
    pub(crate) timeout: Option<Duration>,
    /// Most linear memory an instance may have, in bytes.
    pub(crate) max_memory: Option<usize>,
    /// What guests may touch.
    pub(crate) sandbox: Sandbox,
    /// The host's pid (`current_process().parent_pid`): a forked worker's parent is its fork
    /// server, not the host.
    pub(crate) parent_pid: u32,
    /// The broker is elsewhere (a cluster node's pool, whose broker forwards to the client): it
    /// learns late whether a request sent without waiting was accepted. Before answering a chunk
    /// that sent any, confirm them (`BrokerOp::Confirm`), so a refusal fails that chunk.
    pub(crate) confirm_sends: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToWorker {
    Init(WorkerInit),
    /// Load the precompiled artifact at `artifact` as module `module`.
    Load {
        module: u64,
        artifact: PathBuf,
        /// Run on every fresh instance of this module before anything else (`initializer`).
        init: Option<InitCall>,
    },
    /// Run `task` of `module` once per input. The payload holds the encoded inputs back to back;
    /// `lens` gives their sizes.
    Run {
        module: u64,
        task: String,
        codec: Codec,
        #[serde(with = "packed")]
        lens: Vec<u32>,
    },
    /// Finish and exit with this status.
    Exit {
        code: i32,
    },
    /// Exit once everything sent before is answered: with 1 if an input failed, else 0 (Python's
    /// exit code for a `Process` whose target raised). Sent right behind a `Process`'s one `Run`,
    /// it saves a round trip.
    ExitWhenDone,
    /// The answer to the worker's pending broker request; an item rides in the payload.
    BrokerReply(BrokerReply),
    /// A request the worker sent without waiting was refused (its queue was closed, or its object
    /// dropped): use round trips for this object from now on, so the guest sees why.
    Refused {
        object: u64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum FromWorker {
    Ready {
        pid: u32,
    },
    /// The outcomes of the oldest unanswered `Run`, framed in the payload (see
    /// `wasmproc_wire::outcome`); `busy_ns` is how long the worker spent on it. `count` outcomes
    /// ride in this frame: those not already sent as `Progress`.
    Done {
        count: u32,
        busy_ns: u64,
    },
    /// Outcomes of the oldest unanswered `Run` so far (the next `count` in input order), sent
    /// while it runs by a worker its pool stops at a timeout by killing it (no epochs): the pool
    /// learns when each input started, and which ones a kill must not lose. Each input's report
    /// is written within the worker's flush delay (500 µs) of its end. `count` 0 (sent after a
    /// `Load`): the module is loaded.
    Progress {
        count: u32,
    },
    /// A request to the host's broker: a queue or managed-object operation (the guest waits for
    /// the reply, except to the ones sent without waiting); an item rides in the payload.
    Broker(BrokerOp),
}

/// A request from a worker to the broker; an item rides in the frame's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum BrokerOp {
    /// An operation on queue `queue`.
    Queue { queue: u64, op: QueueOp },
    /// An operation on managed dict or list `object`.
    Managed { object: u64, op: ManagedOp },
    /// The worker sent `sent` requests without waiting since its last `Confirm`: answer `Ok` once
    /// they are all served (any refused among them is told as `ToWorker::Refused` before the
    /// answer). Sent only to a broker that confirms sends (`WorkerInit::confirm_sends`).
    Confirm { sent: u64 },
}

impl BrokerOp {
    /// The queue or managed object the request is about (0 for a `Confirm`).
    pub(crate) fn object(self) -> u64 {
        match self {
            BrokerOp::Queue { queue, .. } => queue,
            BrokerOp::Managed { object, .. } => object,
            BrokerOp::Confirm { .. } => 0,
        }
    }

    /// Whether the worker sends this without waiting for an answer (then only a refusal is sent
    /// back, as `ToWorker::Refused`).
    pub(crate) fn is_sent(self) -> bool {
        match self {
            BrokerOp::Queue { op, .. } => op == QueueOp::Send,
            BrokerOp::Managed { op, .. } => op.is_sent(),
            BrokerOp::Confirm { .. } => false,
        }
    }
}

/// An operation on a queue; `Put` and `Send` carry the item as the frame's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum QueueOp {
    /// Append, waiting up to `timeout_ms` (`None`: forever) while the queue is full.
    Put {
        timeout_ms: Option<u64>,
    },
    /// Append to an unbounded queue; no answer unless it is refused.
    Send,
    /// Remove the oldest item, waiting up to `timeout_ms` while the queue is empty.
    Get {
        timeout_ms: Option<u64>,
    },
    Len,
    Close,
    IsClosed,
    TaskDone,
    Unfinished,
}

/// The broker's answer; `Ok` to a `Get` (or a managed read) carries the bytes as the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum BrokerReply {
    Ok,
    /// A put succeeded and the queue is unbounded: later puts may be sent without waiting.
    OkUnbounded,
    Len(u64),
    Err(QueueFault),
}

/// An operation on a managed object; byte arguments ride in the frame's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ManagedOp {
    /// Payload: one part (the key) then the value. Sent without waiting.
    DictSet,
    DictGet,
    DictRemove,
    DictContains,
    DictLen,
    /// Answer: key and value parts per entry, in insertion order.
    DictItems,
    DictClear,
    /// Sent without waiting.
    ListAppend,
    ListGet {
        index: u64,
    },
    ListSet {
        index: u64,
    },
    ListPop,
    ListLen,
    /// Answer: one part per item.
    ListItems,
}

impl ManagedOp {
    /// Whether a worker sends this without waiting for an answer.
    pub(crate) fn is_sent(self) -> bool {
        matches!(self, ManagedOp::DictSet | ManagedOp::ListAppend)
    }
}

/// Appends `bytes` as one part: `[u32 length][bytes]`.
pub(crate) fn push_part(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Splits one part off the front of `buf`: `(part, rest)`; `None` if `buf` does not start with a
/// whole part.
pub(crate) fn split_part(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_le_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    let end = 4usize.checked_add(len)?;
    Some((buf.get(4..end)?, &buf[end..]))
}

/// All the parts of `buf`, which must be nothing but whole parts.
pub(crate) fn parts(mut buf: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (part, rest) = split_part(buf)?;
        out.push(part);
        buf = rest;
    }
    Some(out)
}

/// A chunk's input lengths as one byte string of little-endian `u32`s: a copy each way, where a
/// sequence costs a varint per input to write and to read.
mod packed {
    use serde::de::Error as _;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(lens: &[u32], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = lens.iter().flat_map(|l| l.to_le_bytes()).collect();
        s.serialize_bytes(&bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
        let bytes: serde_bytes::ByteBuf = serde::Deserialize::deserialize(d)?;
        if !bytes.len().is_multiple_of(4) {
            return Err(D::Error::custom(format!("input lengths of {} bytes, not a multiple of 4", bytes.len())));
        }
        Ok(bytes.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_round_trip_and_a_cut_one_is_refused() {
        let mut buf = Vec::new();
        push_part(&mut buf, b"key");
        push_part(&mut buf, b"");
        assert_eq!(parts(&buf), Some(vec![&b"key"[..], &b""[..]]));
        assert_eq!(split_part(&buf).map(|(p, _)| p), Some(&b"key"[..]));
        buf.pop();
        assert_eq!(parts(&buf[..buf.len() - 1]), None);
        assert_eq!(split_part(&[255, 255, 255, 255, 1]), None);
    }

    #[test]
    fn input_lengths_travel_packed_and_a_cut_list_is_refused() {
        let lens = vec![0, 1, 300, u32::MAX];
        let run = ToWorker::Run { module: 1, task: "t".into(), codec: Codec::Postcard, lens: lens.clone() };
        let bytes = postcard::to_stdvec(&run).unwrap();
        match postcard::from_bytes::<ToWorker>(&bytes).unwrap() {
            ToWorker::Run { lens: back, .. } => assert_eq!(back, lens),
            other => panic!("unexpected {other:?}"),
        }
        // The same frame with a length list of 15 bytes: the last byte string shortened by one.
        let mut cut = bytes.clone();
        let at = cut.len() - 17;
        assert_eq!(cut[at], 16, "the byte string's length prefix");
        cut[at] = 15;
        cut.pop();
        // (postcard keeps a custom error's kind, not its text.)
        let err = postcard::from_bytes::<ToWorker>(&cut).unwrap_err();
        assert_eq!(err, postcard::Error::SerdeDeCustom);
    }
}
