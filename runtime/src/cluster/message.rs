//! What travels through the cluster: a chunk of one task's inputs (client → node), its answer
//! (node → client), a node's heartbeat, and the names of the streams, subjects and buckets.
//!
//! Chunks and answers are postcard; heartbeats are JSON (humans read them with `nats kv get`).

use crate::error::FailureKind;
use crate::ipc::protocol::InitCall;
use serde::{Deserialize, Serialize};
use wasmproc_wire::Codec;

/// The work-queue stream of chunks; one subject per pool.
pub(crate) const CHUNKS: &str = "WASMPROC_CHUNKS";
/// The stream of answers; one subject per pool.
pub(crate) const RESULTS: &str = "WASMPROC_RESULTS";
/// The object store of modules, keyed by the sha256 of their bytes.
pub(crate) const MODULES: &str = "wasmproc-modules";
/// The key-value bucket of node heartbeats, keyed by node name.
pub(crate) const NODES: &str = "wasmproc-nodes";

/// The subject a pool's chunks are published on.
pub(crate) fn chunk_subject(pool: &str) -> String {
    format!("wasmproc.chunks.{pool}")
}

/// The name of the durable consumer through which a pool reads its answers (its chunk consumer
/// is named after the pool).
pub(crate) fn results_consumer(pool: &str) -> String {
    format!("{pool}-results")
}

/// The subject a pool's answers are published on.
pub(crate) fn result_subject(pool: &str) -> String {
    format!("wasmproc.results.{pool}")
}

/// What a task may use on a node, as the client asks for it (the node caps it, see `policy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Limits {
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) max_memory: Option<u64>,
    pub(crate) fuel: Option<u64>,
    /// Resend an input whose worker died this many times (on the node).
    pub(crate) retries: u32,
    /// Replace a node's worker after it has run this many chunks of the pool.
    pub(crate) max_tasks_per_child: Option<u64>,
    /// Directories by guest path, and whether only reading is asked for. A client's host paths
    /// mean nothing on another machine: the node maps each guest path to a directory it grants.
    pub(crate) dirs: Vec<(String, bool)>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) args: Vec<String>,
}

/// A pool's initializer (Python's `initializer`/`initargs`): a node's workers run it on every
/// fresh instance of its module, before any task of that module.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Init {
    /// The initializer's module's sha256 (hex): its key in the object store.
    pub(crate) module: String,
    /// The module's name, for messages.
    pub(crate) module_name: String,
    /// The task and its encoded arguments.
    pub(crate) call: InitCall,
}

/// One chunk of a pool's work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Chunk {
    pub(crate) pool: String,
    /// Unique within the pool; the client takes the first answer for it and drops the others.
    pub(crate) id: u64,
    /// The module's sha256 (hex): its key in the object store.
    pub(crate) module: String,
    /// The module's name, for messages.
    pub(crate) module_name: String,
    pub(crate) task: String,
    pub(crate) codec: Codec,
    pub(crate) limits: Limits,
    /// The pool's initializer, the same in each of its chunks.
    pub(crate) init: Option<Init>,
    /// How long a node may go without a progress ack before the chunk is delivered again (ms).
    pub(crate) ack_wait_ms: u64,
    /// Deliveries after which a chunk whose nodes all died is answered as lost.
    pub(crate) max_deliveries: u32,
    /// The subject the client serves its queues and Manager objects on (see `bridge`).
    pub(crate) broker: String,
    /// The sizes of the inputs in `input`.
    pub(crate) lens: Vec<u32>,
    #[serde(with = "serde_bytes")]
    pub(crate) input: Vec<u8>,
}

/// How a chunk ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Answer {
    /// One framed outcome per input (`wasmproc_wire::outcome`).
    Done(#[serde(with = "serde_bytes")] Vec<u8>),
    /// Every input failed the same way.
    Failed { kind: FailureKind, message: String },
}

/// A node's answer to one chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Reply {
    pub(crate) id: u64,
    pub(crate) node: String,
    pub(crate) answer: Answer,
}

/// What a node says about itself every few seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Its name (`--name`).
    pub name: String,
    /// How many chunks it runs at once.
    pub slots: u32,
    /// How many it is running now.
    pub busy: u32,
    /// The machine it runs on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// Whether it is draining (stopping after what it runs).
    pub draining: bool,
}

/// Encodes a message.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("cluster messages always encode")
}

/// Decodes a message; the error says what did not fit.
pub(crate) fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_and_replies_round_trip() {
        let chunk = Chunk {
            pool: "p1".into(),
            id: 7,
            module: "ab".repeat(32),
            module_name: "tasks.wasm".into(),
            task: "square".into(),
            codec: Codec::Json,
            limits: Limits { timeout_ms: Some(5), dirs: vec![("/data".into(), true)], ..Limits::default() },
            init: Some(Init {
                module: "cd".repeat(32),
                module_name: "init.wasm".into(),
                call: InitCall { task: "set_greeting".into(), codec: Codec::Postcard, args: vec![2, b'H', b'i'] },
            }),
            ack_wait_ms: 3000,
            max_deliveries: 3,
            broker: "wasmproc.broker.x".into(),
            lens: vec![1, 2],
            input: b"1 2".to_vec(),
        };
        assert_eq!(decode::<Chunk>(&encode(&chunk)).unwrap(), chunk);
        let reply = Reply {
            id: 7,
            node: "a".into(),
            answer: Answer::Failed { kind: FailureKind::NodeLost { deliveries: 3 }, message: "x".into() },
        };
        assert_eq!(decode::<Reply>(&encode(&reply)).unwrap(), reply);
        assert!(decode::<Reply>(&[0xff; 3]).is_err());
        assert_eq!(chunk_subject("p1"), "wasmproc.chunks.p1");
    }
}
