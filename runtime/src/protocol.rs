//! Host ↔ worker frames on one Unix socketpair per worker.
//!
//! A frame is `[u32 header length][u64 payload length][postcard header][raw payload]`, little
//! endian. Headers are small; payloads (argument and result bytes) are never postcard-encoded byte by
//! byte, and both sides read them straight into their final buffers.

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::path::PathBuf;

/// Frames larger than this are refused as corrupt rather than allocated.
const MAX_HEADER: u32 = 64 << 20;

/// The argument/result encoding of a call, mirrored from the WIT `codec` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WireCodec {
    Postcard,
    Json,
}

/// A task call that prepares each instance of a module (Python's `initializer`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct InitCall {
    pub(crate) task: String,
    pub(crate) codec: WireCodec,
    pub(crate) args: Vec<u8>,
}

/// Settings a worker needs before it can run anything; sent in the first frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WorkerInit {
    /// The worker's process name (`process.current`, output prefix).
    pub(crate) name: String,
    /// The worker's slot in its pool.
    pub(crate) worker_id: u32,
    /// Which engine to build (see `engine::Flavor`).
    pub(crate) flavor: crate::engine::Flavor,
    /// The fuel each input gets (metered engines only).
    pub(crate) fuel: Option<u64>,
    /// Interrupt an input after this long.
    pub(crate) timeout: Option<std::time::Duration>,
    /// Most linear memory an instance may have, in bytes.
    pub(crate) max_memory: Option<usize>,
    /// What guests may touch.
    pub(crate) sandbox: crate::sandbox::Sandbox,
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
        codec: WireCodec,
        lens: Vec<u32>,
    },
    /// Finish and exit with this status.
    Exit {
        code: i32,
    },
    /// The answer to the worker's pending `Broker` request; an item rides in the payload.
    BrokerReply(crate::broker::BrokerReply),
    /// A request the worker sent without waiting was refused (its queue was closed, or its object
    /// dropped): put to this object with a round trip from now on, so the guest sees why.
    Refused {
        object: u64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum FromWorker {
    Ready {
        pid: u32,
    },
    /// The outcomes of the oldest unanswered `Run`, framed in the payload (see `outcomes`);
    /// `busy_ns` is how long the worker spent on it.
    Done {
        count: u32,
        busy_ns: u64,
    },
    /// A request to the host's broker: a queue or managed-object operation (the guest waits for
    /// the reply, except to the ones sent without waiting); an item rides in the payload.
    Broker(crate::broker::BrokerOp),
}

/// The bytes that start a frame: prefix and header, for a payload of `payload_len` bytes.
pub(crate) fn frame_head<H: Serialize>(header: &H, payload_len: u64) -> io::Result<Vec<u8>> {
    let head = postcard::to_stdvec(header).map_err(io::Error::other)?;
    let mut out = Vec::with_capacity(12 + head.len());
    out.extend_from_slice(&(head.len() as u32).to_le_bytes());
    out.extend_from_slice(&payload_len.to_le_bytes());
    out.extend_from_slice(&head);
    Ok(out)
}

/// Writes one frame (without flushing). `payload` is a list of slices written back to back.
pub(crate) fn write_frame<H: Serialize>(w: &mut impl Write, header: &H, payload: &[&[u8]]) -> io::Result<()> {
    let payload_len: u64 = payload.iter().map(|p| p.len() as u64).sum();
    w.write_all(&frame_head(header, payload_len)?)?;
    for p in payload {
        w.write_all(p)?;
    }
    Ok(())
}

/// Reads one frame; `Ok(None)` on a clean end of stream before the frame started.
pub(crate) fn read_frame<H: for<'de> Deserialize<'de>>(r: &mut impl Read) -> io::Result<Option<(H, Vec<u8>)>> {
    let mut prefix = [0u8; 12];
    match r.read_exact(&mut prefix[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut prefix[1..])?;
    let (head_len, payload_len) = parse_prefix(&prefix)?;
    let mut head = vec![0u8; head_len];
    r.read_exact(&mut head)?;
    let header = postcard::from_bytes(&head).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut payload = Vec::new();
    payload.try_reserve_exact(payload_len).map_err(io::Error::other)?;
    payload.resize(payload_len, 0);
    r.read_exact(&mut payload)?;
    Ok(Some((header, payload)))
}

fn parse_prefix(prefix: &[u8; 12]) -> io::Result<(usize, usize)> {
    let head_len = u32::from_le_bytes(prefix[..4].try_into().expect("4 bytes"));
    let payload_len = u64::from_le_bytes(prefix[4..].try_into().expect("8 bytes"));
    if head_len > MAX_HEADER {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("frame header of {head_len} bytes")));
    }
    let payload_len = usize::try_from(payload_len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "frame payload larger than memory"))?;
    Ok((head_len as usize, payload_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_eof_is_clean() {
        let mut buf = Vec::new();
        let run = ToWorker::Run { module: 7, task: "square".into(), codec: WireCodec::Json, lens: vec![1, 2] };
        write_frame(&mut buf, &run, &[b"4", b"16"]).unwrap();
        write_frame(&mut buf, &ToWorker::Exit { code: 0 }, &[]).unwrap();
        let mut r = &buf[..];
        let (h, p): (ToWorker, Vec<u8>) = read_frame(&mut r).unwrap().unwrap();
        match h {
            ToWorker::Run { module, task, lens, .. } => {
                assert_eq!((module, task.as_str()), (7, "square"));
                assert_eq!((lens, p), (vec![1, 2], b"416".to_vec()));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(read_frame::<ToWorker>(&mut r).unwrap(), Some((ToWorker::Exit { code: 0 }, _))));
        assert!(read_frame::<ToWorker>(&mut r).unwrap().is_none());
    }

    #[test]
    fn truncated_frame_is_an_error_not_a_clean_eof() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &ToWorker::Exit { code: 0 }, &[b"payload"]).unwrap();
        buf.truncate(buf.len() - 3);
        assert!(read_frame::<ToWorker>(&mut &buf[..]).is_err());
    }
}
