//! A link over a worker's stream (`ipc::stream`): the connection of a process or thread worker.

use super::{Link, LinkReader, Sink, Source};
use crate::broker::Broker;
use crate::ipc::frame::{Assembler, Polled};
use crate::ipc::protocol::FromWorker;
use crate::ipc::stream::Stream;
use crate::spin::SpinReader;
use std::io::{self, IoSlice, Read, Write};
use std::sync::Arc;

/// The write half: segments go out with vectored writes.
struct StreamSink(Stream);

impl Sink for StreamSink {
    fn write(&self, segments: &[&[u8]]) -> io::Result<()> {
        if let [one] = segments {
            return (&self.0).write_all(one);
        }
        let mut slices: Vec<IoSlice<'_>> = segments.iter().map(|s| IoSlice::new(s)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match (&self.0).write_vectored(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// The read half: frames put together from what arrives. A waiting read spins before it blocks
/// (see `crate::spin`).
struct StreamSource {
    stream: SpinReader,
    frames: Assembler<FromWorker>,
}

impl Source for StreamSource {
    fn next(&mut self) -> io::Result<Option<(FromWorker, Vec<u8>)>> {
        let stream = &mut self.stream;
        match self.frames.poll(|buf| Some(stream.read(buf)))? {
            Polled::Frame(header, payload) => Ok(Some((header, payload))),
            Polled::End => Ok(None),
            Polled::Pending => unreachable!("a read that waits is never pending"),
        }
    }

    fn try_next(&mut self) -> io::Result<Polled<FromWorker>> {
        let stream = &self.stream.0;
        self.frames.poll(|buf| stream.try_read(buf))
    }
}

/// A link over `stream` (the host's end of a worker's socketpair or in-process pipe).
pub(crate) fn link(stream: Stream, broker: Arc<Broker>) -> io::Result<(Arc<Link>, LinkReader)> {
    let source = StreamSource { stream: SpinReader(stream.try_clone()?), frames: Assembler::default() };
    Ok(Link::new(Box::new(StreamSink(stream)), Box::new(source), broker))
}
