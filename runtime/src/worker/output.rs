//! Guest stdout and stderr, forwarded line by line with the process's name in front.
//!
//! Each complete line goes out in one `write(2)` (name, line and newline together), so lines of
//! different workers never interleave (for pipes, lines up to `PIPE_BUF` = 4096 bytes are atomic
//! by POSIX). A partial line waits for its newline, or is written when the stream is dropped (the
//! guest drops it, or its instance goes): the stream writes in the guest's own call, with no task
//! on the async runtime that could be aborted first.

use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::async_trait;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// Longest partial line held back before it is written anyway.
const MAX_PENDING: usize = 64 << 10;

/// A guest output stream writing to file descriptor `fd` of the worker.
#[derive(Debug, Clone)]
pub(super) struct PrefixedOutput {
    prefix: Arc<str>,
    fd: i32,
}

impl PrefixedOutput {
    /// Output to the worker's stdout (fd 1) or stderr (fd 2), each line as `[name] line`.
    pub(super) fn new(name: &str, fd: i32) -> PrefixedOutput {
        PrefixedOutput { prefix: Arc::from(format!("[{name}] ")), fd }
    }
}

/// Writes straight to the worker's stdout (1) or stderr (2), past std's buffers.
#[cfg(unix)]
fn write_fd(n: i32, bytes: &[u8]) -> io::Result<usize> {
    let written =
        if n == 2 { rustix::io::write(std::io::stderr(), bytes) } else { rustix::io::write(std::io::stdout(), bytes) };
    Ok(written?)
}

/// Writes to the worker's stdout (1) or stderr (2), flushed at once.
#[cfg(windows)]
fn write_fd(n: i32, bytes: &[u8]) -> io::Result<usize> {
    use std::io::Write;
    if n == 2 {
        std::io::stderr().write_all(bytes)?;
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()?;
    }
    Ok(bytes.len())
}

impl IsTerminal for PrefixedOutput {
    fn is_terminal(&self) -> bool {
        use std::io::IsTerminal as Tty;
        if self.fd == 2 { Tty::is_terminal(&std::io::stderr()) } else { Tty::is_terminal(&std::io::stdout()) }
    }
}

impl StdoutStream for PrefixedOutput {
    /// A stream that writes in the guest's own call, not through a task on the async runtime: a
    /// stream's pending partial line must be written when the guest drops it, and a task would
    /// be aborted with it (or outlived by the worker's exit), losing that line.
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.line_writer())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.line_writer())
    }
}

impl PrefixedOutput {
    fn line_writer(&self) -> LineWriter {
        LineWriter { prefix: self.prefix.clone(), fd: self.fd, pending: Vec::new() }
    }
}

struct LineWriter {
    prefix: Arc<str>,
    fd: i32,
    pending: Vec<u8>,
}

impl LineWriter {
    /// Writes every complete line held, and everything if `all`.
    fn emit(&mut self, all: bool) -> io::Result<()> {
        let mut start = 0;
        while let Some(nl) = self.pending[start..].iter().position(|b| *b == b'\n') {
            let end = start + nl + 1;
            write_line(self.fd, &self.prefix, &self.pending[start..end])?;
            start = end;
        }
        self.pending.drain(..start);
        if !self.pending.is_empty() && (all || self.pending.len() >= MAX_PENDING) {
            let mut rest = std::mem::take(&mut self.pending);
            rest.push(b'\n');
            write_line(self.fd, &self.prefix, &rest)?;
        }
        Ok(())
    }
}

fn write_line(n: i32, prefix: &str, line: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(prefix.len() + line.len());
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(line);
    let mut at = 0;
    while at < out.len() {
        match write_fd(n, &out[at..]) {
            Ok(written) => at += written,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl AsyncWrite for LineWriter {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.pending.extend_from_slice(data);
        Poll::Ready(this.emit(false).map(|()| data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A partial line stays until its newline: flushing it would split the line.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.get_mut().emit(true))
    }
}

impl OutputStream for LineWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.pending.extend_from_slice(&bytes);
        self.emit(false).map_err(stream_error)
    }

    fn flush(&mut self) -> StreamResult<()> {
        // As for `poll_flush`: a partial line stays until its newline.
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_PENDING)
    }
}

#[async_trait]
impl Pollable for LineWriter {
    /// Always ready: every write completes in its call.
    async fn ready(&mut self) {}
}

/// A broken pipe closes the stream; any other failure is the last operation's.
fn stream_error(e: io::Error) -> StreamError {
    if e.kind() == io::ErrorKind::BrokenPipe { StreamError::Closed } else { StreamError::LastOperationFailed(e.into()) }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let _ = self.emit(true);
    }
}
