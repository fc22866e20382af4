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

/// What [`Assembler::poll`] found.
#[derive(Debug)]
pub(crate) enum Polled<H> {
    /// A whole frame.
    Frame(H, Vec<u8>),
    /// Not a whole frame yet: the read had nothing more for now.
    Pending,
    /// The stream ended cleanly, between frames.
    End,
}

/// Frames put together from a byte stream however its reads split them, without ever blocking
/// unless the read does: the same rules as [`read_frame`], for a reader that must stop when the
/// bytes stop (a host thread taking what a thread worker wrote, on the worker's own thread).
///
/// Small reads fill a buffer; a frame's payload is read straight into its own allocation once its
/// header is known, so a large payload is copied once, as with `read_frame`.
#[derive(Debug)]
pub(crate) struct Assembler<H> {
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// A frame whose header is in and whose payload is not yet whole.
    open: Option<Open<H>>,
}

#[derive(Debug)]
struct Open<H> {
    header: H,
    payload: Vec<u8>,
    filled: usize,
}

/// How many bytes a read into the buffer asks for at least.
const READ_SIZE: usize = 64 << 10;

impl<H: DeserializeOwned> Default for Assembler<H> {
    fn default() -> Self {
        Assembler { buf: Vec::new(), start: 0, end: 0, open: None }
    }
}

impl<H: DeserializeOwned> Assembler<H> {
    /// The next frame, reading with `read` (a `try_read`: `None` when nothing has arrived) as long
    /// as it has bytes. A stream that ends inside a frame is an `UnexpectedEof` error.
    pub(crate) fn poll(
        &mut self,
        mut read: impl FnMut(&mut [u8]) -> Option<io::Result<usize>>,
    ) -> io::Result<Polled<H>> {
        loop {
            if let Some(open) = &mut self.open {
                let n = (self.end - self.start).min(open.payload.len() - open.filled);
                open.payload[open.filled..open.filled + n].copy_from_slice(&self.buf[self.start..self.start + n]);
                (open.filled, self.start) = (open.filled + n, self.start + n);
                if open.filled == open.payload.len() {
                    let Open { header, payload, .. } = self.open.take().expect("an open frame");
                    return Ok(Polled::Frame(header, payload));
                }
                match read(&mut open.payload[open.filled..]) {
                    None => return Ok(Polled::Pending),
                    Some(Ok(0)) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Some(Ok(n)) => open.filled += n,
                    Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                    Some(Err(e)) => return Err(e),
                }
                continue;
            }
            let need = self.header_end()?;
            if let Some(need) = need.filter(|&n| self.end - self.start >= n) {
                let header =
                    layout::decode_header(&self.buf[self.start + PREFIX..self.start + need]).map_err(invalid)?;
                let prefix: [u8; PREFIX] = self.buf[self.start..self.start + PREFIX].try_into().expect("a prefix");
                let (_, payload_len) = layout::parse_prefix(&prefix).map_err(invalid)?;
                self.start += need;
                let mut payload = Vec::new();
                payload.try_reserve_exact(payload_len).map_err(io::Error::other)?;
                payload.resize(payload_len, 0);
                self.open = Some(Open { header, payload, filled: 0 });
                continue;
            }
            let want = need.unwrap_or(PREFIX).max(READ_SIZE);
            self.make_room(want);
            match read(&mut self.buf[self.end..]) {
                None => return Ok(Polled::Pending),
                Some(Ok(0)) if self.start == self.end => return Ok(Polled::End),
                Some(Ok(0)) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Some(Ok(n)) => self.end += n,
                Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Some(Err(e)) => return Err(e),
            }
        }
    }

    /// Where the buffered frame's header ends (prefix included), once its prefix is in.
    fn header_end(&self) -> io::Result<Option<usize>> {
        let Some(prefix) = self.buf.get(self.start..self.start + PREFIX).filter(|_| self.end - self.start >= PREFIX)
        else {
            return Ok(None);
        };
        let (head_len, _) = layout::parse_prefix(prefix.try_into().expect("a prefix")).map_err(invalid)?;
        Ok(Some(PREFIX + head_len))
    }

    /// Moves the unconsumed bytes to the front and leaves room for `want` bytes in all.
    fn make_room(&mut self, want: usize) {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
    }
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

    /// Frames of `sizes`-byte payloads, back to back.
    fn stream_of(sizes: &[usize]) -> (Vec<u8>, Vec<(ToWorker, Vec<u8>)>) {
        let mut bytes = Vec::new();
        let mut frames = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            let header = ToWorker::Exit { code: i as i32 };
            let payload: Vec<u8> = (0..n).map(|b| (b * 7 + i) as u8).collect();
            write_frame(&mut bytes, &header, &[&payload]).unwrap();
            frames.push((header, payload));
        }
        (bytes, frames)
    }

    /// Feeds `bytes` to an assembler in pieces of the given sizes (each read returns at most one
    /// piece, and `None` between pieces), as a non-blocking reader sees them.
    fn assemble(bytes: &[u8], pieces: &[usize]) -> io::Result<Vec<(ToWorker, Vec<u8>)>> {
        let mut asm = Assembler::<ToWorker>::default();
        let mut out = Vec::new();
        let mut at = 0;
        let mut pieces = pieces.iter().copied().cycle();
        let mut arrived = 0;
        loop {
            let mut read = |buf: &mut [u8]| {
                if at == arrived {
                    return None;
                }
                let n = buf.len().min(arrived - at);
                buf[..n].copy_from_slice(&bytes[at..at + n]);
                at += n;
                Some(Ok(n))
            };
            match asm.poll(&mut read)? {
                Polled::Frame(h, p) => out.push((h, p)),
                Polled::Pending if arrived == bytes.len() => {
                    // Everything arrived: now the stream ends.
                    match asm.poll(|_| Some(Ok(0)))? {
                        Polled::Frame(h, p) => out.push((h, p)),
                        Polled::End => return Ok(out),
                        Polled::Pending => unreachable!("an ended stream is never pending"),
                    }
                }
                Polled::Pending => arrived = (arrived + pieces.next().unwrap_or(1).max(1)).min(bytes.len()),
                Polled::End => return Ok(out),
            }
        }
    }

    #[test]
    fn an_assembler_stops_when_the_bytes_stop_and_resumes_where_it_was() {
        let (bytes, frames) = stream_of(&[0, 3, 200_000, 5]);
        assert_eq!(assemble(&bytes, &[1]).unwrap().len(), 4);
        let got = assemble(&bytes, &[5, 13, 70_000]).unwrap();
        assert_eq!(got.len(), frames.len());
        for ((h, p), (eh, ep)) in got.iter().zip(&frames) {
            assert_eq!((format!("{h:?}"), p), (format!("{eh:?}"), ep));
        }
        let mut cut = bytes.clone();
        cut.truncate(bytes.len() - 2);
        assert_eq!(assemble(&cut, &[4096]).unwrap_err().kind(), io::ErrorKind::UnexpectedEof, "ended inside a frame");
        assert!(assemble(&[], &[1]).unwrap().is_empty(), "ended before any frame: a clean end");
    }

    proptest::proptest! {
        #[test]
        fn any_split_of_a_stream_gives_the_same_frames(
            sizes in proptest::collection::vec(0usize..3000, 0..6),
            pieces in proptest::collection::vec(1usize..5000, 1..8),
        ) {
            let (bytes, frames) = stream_of(&sizes);
            let got = assemble(&bytes, &pieces).unwrap();
            proptest::prop_assert_eq!(format!("{got:?}"), format!("{frames:?}"));
        }
    }
}
