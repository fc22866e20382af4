//! Starting workers: a socketpair, then the child end is served by one of
//! - a process forked by the worker program's fork server ([`StartMethod::Process`], see
//!   [`forkserver`]);
//! - our own executable re-executed with the child end and an environment variable that the
//!   library's constructor recognizes ([`StartMethod::Spawn`], and `Process` when its fork server
//!   cannot fork);
//! - a thread of the host ([`StartMethod::Thread`]).
//!
//! All speak the same protocol; [`WorkerChild`] and [`Killer`] hide the difference from the pool
//! and `Process`.
//!
//! A worker process is never a bare fork of the threaded host: it is a fork of the single-threaded
//! fork server, or a new program. For an exec'd worker the child end is its fd 0 and nothing runs
//! between fork and exec, so std uses `posix_spawn`. Measured (Process start → join): 5.0–5.6 ms
//! with fork + `pre_exec`, 4.2–4.8 ms with `posix_spawn`, see the benchmark for the fork server.
//! A thread worker cannot be killed by a signal: it is stopped by a flag its guest checks at every
//! epoch tick (thread workers always run the interruptible engine) and by closing its socket.

#[cfg(target_os = "linux")]
mod forkserver;

use crate::config::{Settings, StartMethod};
#[cfg(target_os = "linux")]
use crate::engine::Flavor;
use crate::error::{Error, Result};
use crate::ipc::frame;
use crate::ipc::protocol::{FromWorker, ToWorker, WorkerInit};
use crate::ipc::stream::Stream;
use crate::sys::channel;
use crate::sys::process;
use crate::worker::{self, Stop};
#[cfg(target_os = "linux")]
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// SIGTERM: what `terminate` sends.
pub(crate) const SIGTERM: i32 = 15;
/// SIGKILL: what `kill`, the watchdog and a terminated pool send.
pub(crate) const SIGKILL: i32 = 9;

/// Stops a worker, from any thread.
#[derive(Debug, Clone)]
pub(crate) enum Killer {
    Pid(u32),
    /// A forked worker (its pid belongs to the fork server to reap).
    #[cfg(target_os = "linux")]
    Pidfd(Arc<OwnedFd>),
    Thread {
        stop: Arc<Stop>,
        stream: Arc<Stream>,
    },
}

impl Killer {
    /// Sends `signal` (a process), or stops the thread as if by `signal`.
    pub(crate) fn kill(&self, signal: i32) {
        match self {
            // Callers only signal workers they have not reaped (see the pool's and `Process`'s
            // invariants), so the pid cannot have been reused.
            Killer::Pid(pid) => process::kill(*pid, signal),
            #[cfg(target_os = "linux")]
            Killer::Pidfd(pidfd) => {
                if let Some(sig) = rustix::process::Signal::from_named_raw(signal) {
                    let _ = rustix::process::pidfd_send_signal(pidfd.as_fd(), sig);
                }
            }
            Killer::Thread { stop, stream } => {
                stop.stop(signal);
                // Wakes a guest waiting for the host (its reader sees end of file).
                stream.shutdown();
            }
        }
    }
}

/// A started worker's handle for waiting on it.
pub(crate) enum WorkerChild {
    /// Started by exec: our child.
    Process(Child),
    /// Forked by a fork server: its child, which reports the exit status.
    #[cfg(target_os = "linux")]
    Forked(forkserver::Forked),
    Thread {
        join: Option<JoinHandle<i32>>,
        status: Option<ExitStatus>,
        killer: Killer,
    },
}

impl WorkerChild {
    /// Kills it (SIGKILL, or the thread equivalent).
    pub(crate) fn kill(&mut self) -> std::io::Result<()> {
        match self {
            WorkerChild::Process(c) => c.kill(),
            #[cfg(target_os = "linux")]
            WorkerChild::Forked(f) => {
                Killer::Pidfd(f.pidfd.clone()).kill(SIGKILL);
                Ok(())
            }
            WorkerChild::Thread { killer, .. } => {
                killer.kill(SIGKILL);
                Ok(())
            }
        }
    }

    /// Waits for it to end and returns how (a thread's "status" mimics a process's).
    pub(crate) fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match self {
            WorkerChild::Process(c) => c.wait(),
            #[cfg(target_os = "linux")]
            WorkerChild::Forked(f) => f.exit.wait(&f.pidfd),
            WorkerChild::Thread { join, status, killer } => {
                if let Some(s) = status {
                    return Ok(*s);
                }
                let signal = match killer {
                    Killer::Thread { stop, .. } => stop.signal(),
                    _ => 0,
                };
                let code = match join.take() {
                    None => 0,
                    Some(j) if signal != 0 => finish_or_abandon(j),
                    Some(j) => j.join().unwrap_or(70),
                };
                let s = process::status(signal, code);
                *status = Some(s);
                Ok(s)
            }
        }
    }

    /// Who it is, for messages: `worker process 1234` or `worker thread wasmproc-pool-0`.
    pub(crate) fn describe(&self, pid: u32) -> String {
        match self {
            WorkerChild::Thread { join, .. } => {
                let name = join.as_ref().and_then(|j| j.thread().name().map(str::to_owned));
                format!("worker thread {}", name.as_deref().unwrap_or("(unnamed)"))
            }
            _ => format!("worker process {pid}"),
        }
    }
    /// Its status if it has ended, without waiting.
    pub(crate) fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        match self {
            WorkerChild::Process(c) => c.try_wait(),
            #[cfg(target_os = "linux")]
            WorkerChild::Forked(f) => f.exit.try_wait(&f.pidfd),
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

/// How long a stopped thread worker gets to notice before it is abandoned.
const ABANDON_AFTER: Duration = Duration::from_secs(2);

/// Joins a stopped thread worker, or leaves it behind if it has not ended within
/// [`ABANDON_AFTER`]: a thread blocked in a system call that nothing interrupts (opening a FIFO
/// in a granted directory) cannot be stopped from outside, and must not hang the pool. It ends
/// by itself when the call returns (its guest then traps at the next epoch tick).
fn finish_or_abandon(join: JoinHandle<i32>) -> i32 {
    let start = std::time::Instant::now();
    while !join.is_finished() {
        if start.elapsed() >= ABANDON_AFTER {
            return 0;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    join.join().unwrap_or(70)
}

/// A started, handshaken worker.
pub(crate) struct Spawned {
    pub(crate) child: WorkerChild,
    /// The worker process's id (for a thread worker, the host's own).
    pub(crate) pid: u32,
    pub(crate) stream: Stream,
    pub(crate) killer: Killer,
    /// Its `Init` was written but its `Ready` not read: the caller's link takes it
    /// ([`LinkReader::expect_ready`](crate::link::LinkReader::expect_ready)).
    pub(crate) ready_due: bool,
}

/// Starts a worker and waits until it reports ready. `preload`: artifacts it will likely load
/// (a fork server loads them before forking the worker).
pub(crate) fn spawn_worker(settings: &Settings, init: &WorkerInit, preload: &[PathBuf]) -> Result<Spawned> {
    let spawned = spawn_worker_unconfirmed(settings, init, preload)?;
    match spawned.ready_due {
        true => await_ready(spawned, settings),
        false => Ok(spawned),
    }
}

/// Starts a worker without waiting for it where that is safe: a forked worker (a copy of a fork
/// server that has reported ready, so of a program known to serve) is sent its `Init` and
/// returned at once, its `Ready` due ([`Spawned::ready_due`]), so that the caller's first frames
/// follow the `Init` without a round trip. Other workers are waited for, as by [`spawn_worker`].
///
/// A forked worker that fails after the fork is then seen by the caller's link as the end of its
/// connection (with its exit status and its message on stderr), not as a start error.
pub(crate) fn spawn_worker_unconfirmed(settings: &Settings, init: &WorkerInit, preload: &[PathBuf]) -> Result<Spawned> {
    match settings.start_method {
        StartMethod::Thread => spawn_thread(settings, init),
        StartMethod::Spawn => spawn_exec(settings, init),
        #[cfg(target_os = "linux")]
        StartMethod::Process => match spawn_forked(settings, init.flavor, preload)? {
            Some(mut spawned) => {
                // A worker that is gone before it reads this is seen as the end of the connection.
                let _ = frame::write_frame(&mut spawned.stream, &ToWorker::Init(init.clone()), &[]);
                spawned.ready_due = true;
                Ok(spawned)
            }
            // The server could not fork (and said why on its stderr, or died): exec this one.
            None => spawn_exec(settings, init),
        },
        // Without a fork server (it needs pidfds), a process worker is started by exec.
        #[cfg(not(target_os = "linux"))]
        StartMethod::Process => {
            let _ = preload;
            spawn_exec(settings, init)
        }
    }
}

/// Starts the context's fork server in the background if its workers will be forked, so that it
/// is ready when the first worker is wanted. A server that cannot start is reported then.
pub(crate) fn start_early(settings: &Settings) {
    if cfg!(target_os = "linux") && settings.start_method == StartMethod::Process {
        let (exe, timeout) = (settings.worker_executable.clone(), settings.start_timeout);
        let _ = std::thread::Builder::new().name("wasmproc-forkserver-start".into()).spawn(move || {
            #[cfg(target_os = "linux")]
            forkserver::start(&exe, timeout);
            #[cfg(not(target_os = "linux"))]
            let _ = (exe, timeout);
        });
    }
}

/// A copy of the fd guests' stdout goes to.
#[cfg(target_os = "linux")]
fn guest_stdout(settings: &Settings) -> Result<OwnedFd> {
    let fd = if settings.stdout_to_stderr {
        std::io::stderr().as_fd().try_clone_to_owned()
    } else {
        std::io::stdout().as_fd().try_clone_to_owned()
    };
    fd.map_err(|e| start_err(format!("duplicating the host's stdout or stderr: {e}")))
}

/// A worker forked by the program's fork server; `None` if the server could not fork one.
#[cfg(target_os = "linux")]
fn spawn_forked(settings: &Settings, flavor: Flavor, preload: &[PathBuf]) -> Result<Option<Spawned>> {
    let (host, child_end) = channel::pair().map_err(|e| start_err(format!("socketpair: {e}")))?;
    let exe = &settings.worker_executable;
    let stdout = guest_stdout(settings)?;
    let request = forkserver::request(flavor, preload);
    match forkserver::fork(exe, request, OwnedFd::from(child_end), stdout.as_fd(), settings.start_timeout) {
        Err(reason) => Err(start_err(reason)),
        Ok(Err(_)) => Ok(None),
        Ok(Ok(forked)) => {
            let (pid, killer) = (forked.pid, Killer::Pidfd(forked.pidfd.clone()));
            let stream = host.into();
            Ok(Some(Spawned { child: WorkerChild::Forked(forked), pid, stream, killer, ready_due: false }))
        }
    }
}

/// A worker that is a new execution of the worker program.
fn spawn_exec(settings: &Settings, init: &WorkerInit) -> Result<Spawned> {
    let mut cmd = Command::new(&settings.worker_executable);
    // The worker's channel (on Unix its fd 0: a guest's stdin is WASI's, always empty, never the
    // process's). Nothing runs between fork and exec, so std starts the worker with posix_spawn
    // (no copy of the host's page tables).
    let pending = channel::for_child(&mut cmd).map_err(|e| start_err(format!("worker channel: {e}")))?;
    if settings.stdout_to_stderr {
        cmd.stdout(Stdio::from(std::io::stderr()));
    }
    let mut child = spawn_retrying(&mut cmd)
        .map_err(|e| start_err(format!("cannot run {}: {e}", settings.worker_executable.display())))?;
    drop(cmd); // closes our copy of the child end
    process::kill_with_host(&child);
    let pid = child.id();
    let host = match pending.connect(&mut child, settings.start_timeout) {
        Ok(host) => host,
        Err(e) => {
            let exe = settings.worker_executable.display();
            let reason = match child.try_wait() {
                Ok(Some(status)) => format!(
                    "{exe} exited ({status}) before it was ready; a worker program must link the wasmproc library"
                ),
                _ if e.kind() == std::io::ErrorKind::TimedOut => {
                    format!("{exe} did not report ready within {:?}", settings.start_timeout)
                }
                _ => format!("{exe} did not connect its worker channel: {e}"),
            };
            let _ = child.kill();
            let _ = child.wait();
            return Err(start_err(reason));
        }
    };
    if let Err(e) = channel::close_on_exit(&host, pid) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(start_err(format!("watching worker process {pid}: {e}")));
    }
    ready(
        Spawned {
            child: WorkerChild::Process(child),
            pid,
            stream: host.into(),
            killer: Killer::Pid(pid),
            ready_due: false,
        },
        settings,
        init,
    )
}

/// Starts `cmd`, trying again twice after a failure that may pass (not a missing or forbidden
/// program): process creation can fail for a moment under load (EAGAIN; under Wine, seen as
/// "Internal error", os error 1359).
fn spawn_retrying(cmd: &mut Command) -> std::io::Result<Child> {
    let mut attempt = 0;
    loop {
        match cmd.spawn() {
            Err(e)
                if attempt < 2
                    && !matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied) =>
            {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(10 * attempt));
            }
            result => return result,
        }
    }
}

/// Starts a thread worker serving the child end of an in-process pipe.
fn spawn_thread(settings: &Settings, init: &WorkerInit) -> Result<Spawned> {
    let (host, child_end) = Stream::memory_pair();
    let stop = Arc::new(Stop::default());
    let killer = Killer::Thread {
        stop: stop.clone(),
        stream: Arc::new(host.try_clone().map_err(|e| start_err(format!("worker stream: {e}")))?),
    };
    let stdout_fd = if settings.stdout_to_stderr { 2 } else { 1 };
    let join = std::thread::Builder::new()
        .name(format!("wasmproc-{}", init.name))
        .spawn(move || match worker::serve_stream(child_end, Some(stop), stdout_fd) {
            Ok(code) => code,
            Err(message) => {
                eprintln!("wasmproc thread worker: {message}");
                70
            }
        })
        .map_err(|e| start_err(format!("cannot start a worker thread: {e}")))?;
    let child = WorkerChild::Thread { join: Some(join), status: None, killer: killer.clone() };
    ready(Spawned { child, pid: std::process::id(), stream: host, killer, ready_due: false }, settings, init)
}

/// Sends `init` to a started worker and waits until it reports ready; a worker that does not is
/// stopped and reaped.
fn ready(mut spawned: Spawned, settings: &Settings, init: &WorkerInit) -> Result<Spawned> {
    // A worker that exits before reading surfaces in the wait as EOF, with its exit status.
    let _ = frame::write_frame(&mut spawned.stream, &ToWorker::Init(init.clone()), &[]);
    await_ready(spawned, settings)
}

/// Waits until a worker that was sent its `Init` reports ready; one that does not is stopped and
/// reaped.
fn await_ready(mut spawned: Spawned, settings: &Settings) -> Result<Spawned> {
    spawned.ready_due = false;
    match read_ready(&mut spawned, settings) {
        Ok(()) => Ok(spawned),
        Err(e) => {
            let _ = spawned.child.kill();
            let _ = spawned.child.wait();
            Err(e)
        }
    }
}

fn read_ready(spawned: &mut Spawned, settings: &Settings) -> Result<()> {
    let stream = &mut spawned.stream;
    // The wait for ready has its own timeout; the one the channel had (see
    // `channel::close_on_exit`) is put back after it.
    let kept = stream.read_timeout().map_err(|e| start_err(e.to_string()))?;
    stream.set_read_timeout(Some(settings.start_timeout)).map_err(|e| start_err(e.to_string()))?;
    let reply = frame::read_frame::<FromWorker>(stream);
    stream.set_read_timeout(kept).map_err(|e| start_err(e.to_string()))?;
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
