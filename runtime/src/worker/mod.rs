//! The worker: runs task components for a host, over one byte stream.
//!
//! A worker process is entered before `main` when `sys::channel::WORKER_VAR` is set (the host
//! re-executed its own program), or, on Linux, forked by a fork server ([`forkserver`], entered
//! when `FORKSERVER_FD_VAR` is set); a thread worker is a host thread running [`serve_stream`]. Either way it reads
//! frames (`ipc::protocol`) until the host says `Exit` or goes away.
//!
//! Layering: the worker knows nothing of the host's broker, context or schedulers. It sees the
//! protocol, the engine, the sandbox and shared memory, and reaches the broker only through
//! requests on its stream.
//!
//! Pieces:
//! - [`forkserver`]: the process that forks ready workers for a host, and [`prepared`]: the
//!   engines it builds for them before it forks;
//! - [`serve`]: the main loop (load modules, run chunks, answer in order);
//! - [`line`]: the socket, read by the executing thread itself (work for the main loop, answers
//!   for a guest in a broker call), buffered writes and their flusher, and the watcher that ends
//!   the worker when the host goes away;
//! - [`instance`]: a loaded module and its warm instance; running one chunk;
//! - [`listing`]: reading a module's task listing (the host uses it when it loads a module);
//! - [`host`]: the host side of each WIT interface, one file each; [`state`], [`wasi`],
//!   [`output`], [`attachments`]: what a guest's store holds, its WASI grants, its forwarded
//!   output, the shared regions its worker has mapped.

mod attachments;
#[cfg(target_os = "linux")]
mod forkserver;
mod host;
mod instance;
mod line;
mod listing;
mod output;
mod prepared;
mod serve;
mod state;
mod wasi;

pub(crate) use host::new_linker;
pub(crate) use listing::{TaskInfo, list_tasks};
pub(crate) use state::GuestState;

use crate::ipc::stream::Stream;
use crate::sys::channel::{self, WORKER_VAR};
use crate::sys::process::quick_exit;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The variable that turns a process linking wasmproc into a fork server; its value is the fd of
/// its control line (a `SOCK_SEQPACKET` socket).
#[cfg(target_os = "linux")]
pub(crate) const FORKSERVER_FD_VAR: &str = "WASMPROC_FORKSERVER_FD";

/// A thread worker's stop switch: the signal it is "killed" with, seen by its guest at every epoch
/// tick.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    flag: AtomicBool,
    signal: AtomicI32,
}

impl Stop {
    /// Stops the worker as if by `signal` (the first signal sticks).
    pub(crate) fn stop(&self, signal: i32) {
        let _ = self.signal.compare_exchange(0, signal, Ordering::AcqRel, Ordering::Acquire);
        self.flag.store(true, Ordering::Release);
    }

    /// Whether the worker was stopped.
    pub(crate) fn stopped(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// The signal it was stopped by (0: not stopped by one).
    pub(crate) fn signal(&self) -> i32 {
        self.signal.load(Ordering::Acquire)
    }

    /// Marks it stopped without a signal (its host went away).
    fn orphaned(&self) {
        self.flag.store(true, Ordering::Release);
    }
}

/// Runs at load time in every program that links wasmproc. Does nothing unless this process was
/// started as a worker or a fork server; then it serves and exits without returning to `main`.
#[ctor::ctor(unsafe)]
fn enter_worker_if_requested() {
    #[cfg(target_os = "linux")]
    if let Some(fd) = std::env::var_os(FORKSERVER_FD_VAR) {
        let Some(fd) = fd.to_str().and_then(|s| s.parse::<i32>().ok()) else {
            eprintln!("wasmproc fork server: {FORKSERVER_FD_VAR}={fd:?} is not a file descriptor number");
            std::process::exit(64);
        };
        // SAFETY: the host passed us this descriptor (our end of the control line) and nothing
        // else in this process owns it.
        let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        // Workers forked from here return too, and end here.
        quick_exit(forkserver::serve_forks(fd));
    }
    let Some(value) = std::env::var_os(WORKER_VAR) else { return };
    let stream = match channel::from_env(&value) {
        Ok(stream) => stream,
        Err(message) => {
            eprintln!("wasmproc worker: {message}");
            std::process::exit(64);
        }
    };
    // Ends without `exit`'s atexit handlers and thread-local destructors: nothing a worker holds
    // needs them (its socket is flushed before it returns, guest output is written unbuffered),
    // and in a forked worker they cost ~0.35 ms of its ~3 ms start → join (measured).
    quick_exit(match serve_stream(stream.into(), None, 1) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("wasmproc worker {}: {message}", std::process::id());
            70
        }
    })
}

/// Serves the host on `stream`; returns the exit code the host asked for. `stop` is set for a
/// thread worker (and then nothing here exits the process); `stdout_fd` is where guests' stdout
/// goes (1, or 2 when the host keeps its stdout for itself).
pub(crate) fn serve_stream(stream: Stream, stop: Option<Arc<Stop>>, stdout_fd: i32) -> Result<i32, String> {
    let end = stream.try_clone().map_err(|e| e.to_string())?;
    let thread = stop.is_some();
    let result = serve::serve(stream, stop, stdout_fd);
    // A thread worker is done: close the stream for both sides (its watcher thread is still
    // waiting on it, and the host waits for end of file). A process is about to exit with its
    // code (and its watcher would exit it with 0 if it saw the socket close first).
    if thread {
        end.shutdown();
    } else {
        end.finish();
    }
    result
}
