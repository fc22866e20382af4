//! Starting worker processes: a socketpair, then our own executable re-executed with the child end
//! of the socket and an environment variable that the library's constructor recognizes.
//!
//! Workers are always new programs (fork + exec, never a bare fork of the threaded host).

use crate::context::Settings;
use crate::error::{Error, Result};
use crate::protocol::{self, FromWorker, ToWorker, WorkerInit};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The variable that turns a process linking wasmproc into a worker; its value is the socket's fd.
pub(crate) const WORKER_FD_VAR: &str = "WASMPROC_WORKER_FD";

/// A started, handshaken worker process.
pub(crate) struct Spawned {
    pub(crate) child: Child,
    pub(crate) pid: u32,
    pub(crate) stream: UnixStream,
}

/// Starts a worker and waits until it reports ready.
pub(crate) fn spawn_worker(settings: &Settings, init: &WorkerInit) -> Result<Spawned> {
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
    let mut spawned = Spawned { child, pid, stream: host };
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
