//! A worker's byte stream to its host: a socket for a worker process (`sys::channel`), an
//! in-process pipe for a thread worker ([`memory`](super::memory)).
//!
//! Both ends of both kinds offer the same few operations, so the framing, the host's link and the
//! worker's line never ask which one they have.

use super::memory;
use crate::sys::channel::{self, Channel};
use std::io::{self, IoSlice, Read, Write};
use std::time::Duration;

/// One end of a worker's stream.
#[derive(Debug)]
pub(crate) enum Stream {
    /// A worker process's socket.
    Socket(Channel),
    /// A thread worker's in-process pipe.
    Memory(memory::End),
}

impl From<Channel> for Stream {
    fn from(channel: Channel) -> Stream {
        Stream::Socket(channel)
    }
}

impl Stream {
    /// Two connected ends of an in-process pipe (for a thread worker).
    pub(crate) fn memory_pair() -> (Stream, Stream) {
        let (a, b) = memory::pair();
        (Stream::Memory(a), Stream::Memory(b))
    }

    /// Another handle of this end.
    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Socket(s) => Stream::Socket(s.try_clone()?),
            Stream::Memory(m) => Stream::Memory(m.clone()),
        })
    }

    /// Closes the stream for both sides: reads on either end see the end after what was sent.
    pub(crate) fn shutdown(&self) {
        match self {
            Stream::Socket(s) => {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            Stream::Memory(m) => m.shutdown(),
        }
    }

    /// Reads what has arrived without blocking: `None` if nothing has.
    pub(crate) fn try_read(&self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        match self {
            Stream::Socket(s) => channel::try_read(s, buf),
            Stream::Memory(m) => m.try_read(buf),
        }
    }

    /// Reads into `buf`, blocking until bytes arrive or the stream ends (`Ok(0)`).
    pub(crate) fn read_blocking(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Socket(s) => channel::read(s, buf),
            Stream::Memory(m) => m.read(buf),
        }
    }

    /// Whether bytes (or the end of the stream) are waiting to be read.
    pub(crate) fn readable(&self) -> bool {
        match self {
            Stream::Socket(s) => channel::readable(s),
            Stream::Memory(m) => m.readable(),
        }
    }

    /// Blocks until the other end has closed. Wakes for nothing else.
    pub(crate) fn wait_closed(&self) {
        match self {
            Stream::Socket(s) => channel::wait_closed(s),
            Stream::Memory(m) => m.wait_closed(),
        }
    }

    /// Ends a worker process's use of its stream so that nothing it sent is lost (see
    /// `channel::finish`); a thread worker's pipe keeps what was written anyway.
    pub(crate) fn finish(&self) {
        if let Stream::Socket(s) = self {
            channel::finish(s);
        }
    }

    /// How long a blocking read through `Read` waits (`None`: for ever).
    pub(crate) fn read_timeout(&self) -> io::Result<Option<Duration>> {
        match self {
            Stream::Socket(s) => s.read_timeout(),
            Stream::Memory(m) => Ok(m.read_timeout()),
        }
    }

    /// Sets how long a blocking read through `Read` waits; running out is `WouldBlock` or
    /// `TimedOut`.
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Socket(s) => s.set_read_timeout(timeout),
            Stream::Memory(m) => {
                m.set_read_timeout(timeout);
                Ok(())
            }
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Socket(s) => (&*s).read(buf),
            Stream::Memory(m) => m.read(buf),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Socket(s) => (&*s).write_vectored(bufs),
            Stream::Memory(m) => m.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
