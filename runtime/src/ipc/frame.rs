//! Reading and writing frames (`wasmproc_wire::frame`'s layout) on a byte stream.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{self, Read, Write};
use wasmproc_wire::frame::{self as layout, PREFIX};

fn invalid(e: layout::FrameError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// The bytes that start a frame: prefix and header, for a payload of `payload_len` bytes.
pub(crate) fn head<H: Serialize>(header: &H, payload_len: u64) -> io::Result<Vec<u8>> {
    layout::head(header, payload_len).map_err(invalid)
}

/// Writes one frame (without flushing). `payload` is a list of slices written back to back.
pub(crate) fn write_frame<H: Serialize>(w: &mut impl Write, header: &H, payload: &[&[u8]]) -> io::Result<()> {
    let payload_len: u64 = payload.iter().map(|p| p.len() as u64).sum();
    w.write_all(&head(header, payload_len)?)?;
    for p in payload {
        w.write_all(p)?;
    }
    Ok(())
}

/// Reads one frame; `Ok(None)` on a clean end of stream before the frame started.
pub(crate) fn read_frame<H: DeserializeOwned>(r: &mut impl Read) -> io::Result<Option<(H, Vec<u8>)>> {
    let mut prefix = [0u8; PREFIX];
    match r.read_exact(&mut prefix[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut prefix[1..])?;
    let (head_len, payload_len) = layout::parse_prefix(&prefix).map_err(invalid)?;
    let mut head = vec![0u8; head_len];
    r.read_exact(&mut head)?;
    let header = layout::decode_header(&head).map_err(invalid)?;
    let mut payload = Vec::new();
    payload.try_reserve_exact(payload_len).map_err(io::Error::other)?;
    payload.resize(payload_len, 0);
    r.read_exact(&mut payload)?;
    Ok(Some((header, payload)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::protocol::ToWorker;
    use wasmproc_wire::Codec;

    #[test]
    fn frames_round_trip_and_eof_is_clean() {
        let mut buf = Vec::new();
        let run = ToWorker::Run { module: 7, task: "square".into(), codec: Codec::Json, lens: vec![1, 2] };
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
