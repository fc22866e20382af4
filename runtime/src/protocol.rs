//! Host ↔ worker frames on one Unix socketpair per worker.
//!
//! A frame is `[u32 header length][u64 payload length][postcard header][raw payload]`, little
//! endian. Headers are small; payloads (argument and result bytes) are never postcard-encoded byte by
//! byte, and both sides read them straight into their final buffers.

use crate::error::FailureKind;
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

/// Settings a worker needs before it can run anything; sent in the first frame.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WorkerInit {
    /// Name shown in the worker's diagnostics.
    pub(crate) name: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum ToWorker {
    Init(WorkerInit),
    /// Load the precompiled artifact at `artifact` as module `module`.
    Load {
        module: u64,
        artifact: PathBuf,
    },
    /// Run `task` of `module` once per argument. The payload holds the arguments back to back;
    /// `lens` gives their sizes.
    Run {
        module: u64,
        task: String,
        codec: WireCodec,
        lens: Vec<u64>,
    },
    /// Finish and exit with status 0.
    Exit,
}

/// The outcome of one argument of a `Run`; `Ok(n)` means the next `n` payload bytes are its result.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum WireOutcome {
    Ok(u64),
    Err { kind: FailureKind, message: String },
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum FromWorker {
    Ready {
        pid: u32,
    },
    /// The outcomes of the oldest unanswered `Run`, one per argument, in order.
    Done {
        outcomes: Vec<WireOutcome>,
    },
}

/// Writes one frame. `payload` is a list of slices written back to back without copying them together.
pub(crate) fn write_frame<H: Serialize>(
    w: &mut impl Write,
    header: &H,
    payload: &[&[u8]],
) -> io::Result<()> {
    let head = postcard::to_stdvec(header).map_err(io::Error::other)?;
    let payload_len: u64 = payload.iter().map(|p| p.len() as u64).sum();
    let mut prefix = [0u8; 12];
    prefix[..4].copy_from_slice(&(head.len() as u32).to_le_bytes());
    prefix[4..].copy_from_slice(&payload_len.to_le_bytes());
    let mut small = Vec::with_capacity(12 + head.len());
    small.extend_from_slice(&prefix);
    small.extend_from_slice(&head);
    w.write_all(&small)?;
    for p in payload {
        w.write_all(p)?;
    }
    w.flush()
}

/// Reads one frame; `Ok(None)` on a clean end of stream before the frame started.
pub(crate) fn read_frame<H: for<'de> Deserialize<'de>>(
    r: &mut impl Read,
) -> io::Result<Option<(H, Vec<u8>)>> {
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
    let header =
        postcard::from_bytes(&head).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut payload = Vec::new();
    payload
        .try_reserve_exact(payload_len)
        .map_err(io::Error::other)?;
    payload.resize(payload_len, 0);
    r.read_exact(&mut payload)?;
    Ok(Some((header, payload)))
}

/// The async twin of [`read_frame`], for the host's per-worker reader tasks.
pub(crate) async fn read_frame_async<H, R>(r: &mut R) -> io::Result<Option<(H, Vec<u8>)>>
where
    H: for<'de> Deserialize<'de>,
    R: tokio::io::AsyncRead + Unpin,
{
    use tokio::io::AsyncReadExt;
    let mut prefix = [0u8; 12];
    match r.read_exact(&mut prefix[..1]).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut prefix[1..]).await?;
    let (head_len, payload_len) = parse_prefix(&prefix)?;
    let mut head = vec![0u8; head_len];
    r.read_exact(&mut head).await?;
    let header =
        postcard::from_bytes(&head).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut payload = Vec::new();
    payload
        .try_reserve_exact(payload_len)
        .map_err(io::Error::other)?;
    payload.resize(payload_len, 0);
    r.read_exact(&mut payload).await?;
    Ok(Some((header, payload)))
}

/// The async twin of [`write_frame`].
pub(crate) async fn write_frame_async<H, W>(
    w: &mut W,
    header: &H,
    payload: &[&[u8]],
) -> io::Result<()>
where
    H: Serialize,
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::AsyncWriteExt;
    let head = postcard::to_stdvec(header).map_err(io::Error::other)?;
    let payload_len: u64 = payload.iter().map(|p| p.len() as u64).sum();
    let mut small = Vec::with_capacity(12 + head.len());
    small.extend_from_slice(&(head.len() as u32).to_le_bytes());
    small.extend_from_slice(&payload_len.to_le_bytes());
    small.extend_from_slice(&head);
    w.write_all(&small).await?;
    for p in payload {
        w.write_all(p).await?;
    }
    w.flush().await
}

fn parse_prefix(prefix: &[u8; 12]) -> io::Result<(usize, usize)> {
    let head_len = u32::from_le_bytes(prefix[..4].try_into().expect("4 bytes"));
    let payload_len = u64::from_le_bytes(prefix[4..].try_into().expect("8 bytes"));
    if head_len > MAX_HEADER {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame header of {head_len} bytes"),
        ));
    }
    let payload_len = usize::try_from(payload_len).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "frame payload larger than memory",
        )
    })?;
    Ok((head_len as usize, payload_len))
}

/// Splits a payload into pieces of the given lengths (one copy per piece; none for a single piece).
pub(crate) fn split_payload(
    payload: Vec<u8>,
    lens: impl IntoIterator<Item = u64>,
) -> io::Result<Vec<Vec<u8>>> {
    let lens: Vec<u64> = lens.into_iter().collect();
    let total: u64 = lens.iter().sum();
    if total != payload.len() as u64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "payload length does not match its pieces",
        ));
    }
    if lens.len() == 1 {
        return Ok(vec![payload]);
    }
    let mut offset = 0usize;
    Ok(lens
        .into_iter()
        .map(|len| {
            let piece = payload[offset..offset + len as usize].to_vec();
            offset += len as usize;
            piece
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_eof_is_clean() {
        let mut buf = Vec::new();
        let run = ToWorker::Run {
            module: 7,
            task: "square".into(),
            codec: WireCodec::Json,
            lens: vec![1, 2],
        };
        write_frame(&mut buf, &run, &[b"4", b"16"]).unwrap();
        write_frame(&mut buf, &ToWorker::Exit, &[]).unwrap();
        let mut r = &buf[..];
        let (h, p): (ToWorker, Vec<u8>) = read_frame(&mut r).unwrap().unwrap();
        match h {
            ToWorker::Run {
                module, task, lens, ..
            } => {
                assert_eq!((module, task.as_str()), (7, "square"));
                assert_eq!(
                    split_payload(p, lens).unwrap(),
                    vec![b"4".to_vec(), b"16".to_vec()]
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            read_frame::<ToWorker>(&mut r).unwrap(),
            Some((ToWorker::Exit, _))
        ));
        assert!(read_frame::<ToWorker>(&mut r).unwrap().is_none());
    }

    #[test]
    fn truncated_frame_is_an_error_not_a_clean_eof() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &ToWorker::Exit, &[b"payload"]).unwrap();
        buf.truncate(buf.len() - 3);
        assert!(read_frame::<ToWorker>(&mut &buf[..]).is_err());
    }

    #[test]
    fn split_payload_checks_lengths() {
        assert!(split_payload(b"abc".to_vec(), [1, 1]).is_err());
        assert_eq!(
            split_payload(b"abc".to_vec(), [0, 3]).unwrap(),
            vec![b"".to_vec(), b"abc".to_vec()]
        );
    }
}
