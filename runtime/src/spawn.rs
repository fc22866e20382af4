//! Starting workers: a socketpair, then either our own executable re-executed with the child end
//! of the socket and an environment variable that the library's constructor recognizes
//! ([`StartMethod::Process`]), or a thread of the host serving the child end
//! ([`StartMethod::Thread`]). Both speak the same protocol; [`WorkerChild`] and [`Killer`] hide
//! the difference from the pool and `Process`.
//!
//! Worker processes are always new programs (fork + exec, never a bare fork of the threaded host).
//! A thread worker cannot be killed by a signal: it is stopped by a flag its guest checks at every
//! epoch tick (thread workers always run the interruptible engine) and by closing its socket.

use crate::context::Settings;
use crate::error::{Error, Result};
use crate::protocol::{self, FromWorker, ToWorker, WorkerInit};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How workers are started — Python's start methods, for wasm tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StartMethod {
    /// One OS process per worker (the default): full isolation; a worker that crashes or is
    /// killed takes nothing else with it.
    #[default]
    Process,
    /// Workers are threads of the host (`multiprocessing.dummy`): no process start, lower call
    /// latency, isolation by the wasm sandbox alone. Guests still get their own memory, limits and
    /// grants; `terminate`/`kill` stop a guest at its next epoch tick (10 ms) or when a blocking
    /// host call returns.
    Thread,
}

/// A thread worker's stop switch: the signal it is "killed" with, seen by its guest.
#[derive(Debug, Default)]
pub(crate) struct Stop {
    pub(crate) flag: AtomicBool,
    signal: AtomicI32,
}

/// Stops a worker, from any thread.
#[derive(Debug, Clone)]
pub(crate) enum Killer {
    Pid(u32),
    Thread { stop: Arc<Stop>, stream: Arc<UnixStream> },
}

impl Killer {
    /// Sends `signal` (a process), or stops the thread as if by `signal`.
    pub(crate) fn kill(&self, signal: i32) {
        match self {
            // SAFETY: kill has no memory-safety preconditions. Callers only signal workers they
            // have not reaped (see the pool's and `Process`'s invariants).
            Killer::Pid(pid) => unsafe {
                libc::kill(*pid as i32, signal);
            },
            Killer::Thread { stop, stream } => {
                let _ = stop.signal.compare_exchange(0, signal, Ordering::AcqRel, Ordering::Acquire);
                stop.flag.store(true, Ordering::Release);
                // Wakes a guest waiting for the host (its reader sees end of file).
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// A started worker's handle for waiting on it.
pub(crate) enum WorkerChild {
    Process(Child),
    Thread { join: Option<JoinHandle<i32>>, status: Option<ExitStatus>, killer: Killer },
}

impl WorkerChild {
    /// Kills it (SIGKILL, or the thread equivalent).
    pub(crate) fn kill(&mut self) -> std::io::Result<()> {
        match self {
            WorkerChild::Process(c) => c.kill(),
            WorkerChild::Thread { killer, .. } => {
                killer.kill(libc::SIGKILL);
                Ok(())
            }
        }
    }

    /// Waits for it to end and returns how (a thread's "status" mimics a process's).
    pub(crate) fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match self {
            WorkerChild::Process(c) => c.wait(),
            WorkerChild::Thread { join, status, killer } => {
                if let Some(s) = status {
                    return Ok(*s);
                }
                let code = join.take().map_or(0, |j| j.join().unwrap_or(70));
                let signal = match killer {
                    Killer::Thread { stop, .. } => stop.signal.load(Ordering::Acquire),
                    Killer::Pid(_) => 0,
                };
                let s =
                    if signal != 0 { ExitStatus::from_raw(signal) } else { ExitStatus::from_raw((code & 0xff) << 8) };
                *status = Some(s);
                Ok(s)
            }
        }
    }

    /// Its status if it has ended, without waiting.
    pub(crate) fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        match self {
            WorkerChild::Process(c) => c.try_wait(),
            WorkerChild::Thread { join, status, .. } => {
                if status.is_some() || join.as_ref().is_none_or(|j| j.is_finished()) {
                    self.wait().map(Some)
                } else {
                    Ok(None)
                }
            }
        }
    }
}

/// The variable that turns a process linking wasmproc into a worker; its value is the socket's fd.
pub(crate) const WORKER_FD_VAR: &str = "WASMPROC_WORKER_FD";

/// A started, handshaken worker.
pub(crate) struct Spawned {
    pub(crate) child: WorkerChild,
    /// The worker process's id (for a thread worker, the host's own).
    pub(crate) pid: u32,
    pub(crate) stream: UnixStream,
    pub(crate) killer: Killer,
}

/// Starts a worker and waits until it reports ready.
pub(crate) fn spawn_worker(settings: &Settings, init: &WorkerInit) -> Result<Spawned> {
    if settings.start_method == StartMethod::Thread {
        return spawn_thread(settings, init);
    }
    let (host, child_end) = UnixStream::pair().map_err(|e| start_err(format!("socketpair: {e}")))?;
    let child_fd = child_end.as_raw_fd();
    let mut cmd = Command::new(&settings.worker_executable);
    cmd.env(WORKER_FD_VAR, child_fd.to_string()).stdin(Stdio::null());
    if settings.stdout_to_stderr {
        let stderr: OwnedFd = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| start_err(format!("duplicating stderr: {e}")))?;
        cmd.stdout(Stdio::from(stderr));
    }
    // SAFETY: the closure only calls fcntl, which is async-signal-safe, on a descriptor that exists
    // in the child (it was inherited from the parent across fork).
    unsafe {
        cmd.pre_exec(move || {
            // Let the child end survive exec; std opened it close-on-exec.
            if libc::fcntl(child_fd, libc::F_SETFD, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child =
        cmd.spawn().map_err(|e| start_err(format!("cannot run {}: {e}", settings.worker_executable.display())))?;
    drop(child_end);
    let pid = child.id();
    ready(Spawned { child: WorkerChild::Process(child), pid, stream: host, killer: Killer::Pid(pid) }, settings, init)
}

/// Starts a thread worker serving the child end of a socketpair.
fn spawn_thread(settings: &Settings, init: &WorkerInit) -> Result<Spawned> {
    let (host, child_end) = UnixStream::pair().map_err(|e| start_err(format!("socketpair: {e}")))?;
    let stop = Arc::new(Stop::default());
    let killer = Killer::Thread {
        stop: stop.clone(),
        stream: Arc::new(host.try_clone().map_err(|e| start_err(format!("socket: {e}")))?),
    };
    let stdout_fd = if settings.stdout_to_stderr { 2 } else { 1 };
    let join = std::thread::Builder::new()
        .name(format!("wasmproc-{}", init.name))
        .spawn(move || match crate::worker::serve_stream(child_end, Some(stop), stdout_fd) {
            Ok(code) => code,
            Err(message) => {
                eprintln!("wasmproc thread worker: {message}");
                70
            }
        })
        .map_err(|e| start_err(format!("cannot start a worker thread: {e}")))?;
    let child = WorkerChild::Thread { join: Some(join), status: None, killer: killer.clone() };
    ready(Spawned { child, pid: std::process::id(), stream: host, killer }, settings, init)
}

/// Sends `init` and waits for the worker to report ready; a worker that does not is stopped and
/// reaped.
fn ready(mut spawned: Spawned, settings: &Settings, init: &WorkerInit) -> Result<Spawned> {
    match handshake(&mut spawned, settings, init) {
        Ok(()) => Ok(spawned),
        Err(e) => {
            let _ = spawned.child.kill();
            let _ = spawned.child.wait();
            Err(e)
        }
    }
}

fn handshake(spawned: &mut Spawned, settings: &Settings, init: &WorkerInit) -> Result<()> {
    let stream = &mut spawned.stream;
    stream.set_read_timeout(Some(settings.start_timeout)).map_err(|e| start_err(e.to_string()))?;
    let init = ToWorker::Init(init.clone());
    // A worker that exits before reading surfaces below as EOF, with its exit status.
    let _ = protocol::write_frame(stream, &init, &[]);
    let reply = protocol::read_frame::<FromWorker>(stream);
    stream.set_read_timeout(None).map_err(|e| start_err(e.to_string()))?;
    let exe = settings.worker_executable.display();
    match reply {
        Ok(Some((FromWorker::Ready { .. }, _))) => Ok(()),
        Ok(Some((other, _))) => Err(start_err(format!("{exe} answered {other:?} instead of reporting ready"))),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
            Err(start_err(format!("{exe} did not report ready within {:?}", settings.start_timeout)))
        }
        Ok(None) | Err(_) => match exited(spawned) {
            Some(status) => Err(start_err(format!(
                "{exe} exited ({status}) before it was ready; a worker program must link the wasmproc library"
            ))),
            None => Err(start_err(format!("{exe} closed its socket before it was ready"))),
        },
    }
}

/// The exit status of a child that has exited or is about to (waits up to a second).
fn exited(spawned: &mut Spawned) -> Option<String> {
    for _ in 0..100 {
        if let Ok(Some(status)) = spawned.child.try_wait() {
            return Some(status.to_string());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn start_err(reason: String) -> Error {
    Error::WorkerStart { reason }
}
