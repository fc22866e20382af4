//! The fork server (Python's `forkserver`): a copy of the worker program, started once per host
//! and program, that forks ready worker processes on request.
//!
//! A worker process started by exec pays for loading a ~110 MB program each time (exec, the
//! dynamic loader's relocations, page faults); a fork of this small process inherits all of that
//! already done. The server never returns to `main` and never starts a thread, so a fork copies
//! one consistent thread (checked with `debug_assert!` before each fork). It is its workers'
//! parent: it reaps them and reports each exit status to the host, which holds a pidfd of each
//! worker to signal it (a pidfd never reaches a reused pid).
//!
//! It ends when the host closes the control line (the host exited or dropped it); its workers
//! live on until their own sockets close.

use super::{prepared, serve_stream};
use crate::ipc::forkserver::{self, Reply, Request};
use rustix::event::{PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions};
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// A forked worker not yet reaped.
struct Child {
    pid: u32,
    pidfd: OwnedFd,
}

/// What a new worker process runs: its socket, its stdout and its working directory.
struct Job {
    socket: OwnedFd,
    stdout: OwnedFd,
    cwd: Vec<u8>,
}

/// Serves fork requests on `control` until the host closes it; returns the exit code. In a forked
/// worker it returns the worker's exit code instead.
pub(super) fn serve_forks(control: OwnedFd) -> i32 {
    let pid = std::process::id();
    if let Err(e) = prepared::prepare() {
        // Workers then build their own (and report the same error if it persists).
        eprintln!("wasmproc fork server {pid}: {e}");
    }
    // The random generator WASI gives guests is set up once here (its CPU feature detection, which
    // a VM answers slowly, cost each new worker about 50 µs of CPU, by profile); each worker
    // reseeds its copy (`run`).
    rand::Rng::next_u64(&mut rand::rng());
    if forkserver::send(control.as_fd(), &Reply::Ready { pid }, &[]).is_err() {
        return 0;
    }
    let mut children: Vec<Child> = Vec::new();
    loop {
        let (control_ready, ended) = match wait(&control, &children) {
            Ok(ready) => ready,
            Err(e) => {
                eprintln!("wasmproc fork server {pid}: poll: {e}");
                return 70;
            }
        };
        // Highest index first, so that `swap_remove` leaves the lower ones in place.
        for i in ended.into_iter().rev() {
            let child = children.swap_remove(i);
            let status = reap(&child);
            if forkserver::send(control.as_fd(), &Reply::Exited { pid: child.pid, status }, &[]).is_err() {
                return 0;
            }
        }
        if !control_ready {
            continue;
        }
        let job = match forkserver::recv::<Request>(&control) {
            Ok(Some((Request::Fork { cwd, flavor, preload }, fds))) => match <[OwnedFd; 2]>::try_from(fds) {
                Ok([socket, stdout]) => {
                    for artifact in preload.iter().rev() {
                        prepared::preload(flavor, Path::new(OsStr::from_bytes(artifact)));
                    }
                    Job { socket, stdout, cwd }
                }
                Err(_) => {
                    let reason = "a fork request must carry two descriptors".to_string();
                    let _ = forkserver::send(control.as_fd(), &Reply::Refused { reason }, &[]);
                    continue;
                }
            },
            Ok(None) | Err(_) => return 0,
        };
        match fork(job) {
            Forked::Worker(job) => {
                // This is the new worker: the server's descriptors are not its own.
                drop(control);
                drop(children);
                return run(job);
            }
            Forked::Server(Ok(child)) => {
                let sent = forkserver::send(control.as_fd(), &Reply::Forked { pid: child.pid }, &[child.pidfd.as_fd()]);
                children.push(child);
                if sent.is_err() {
                    return 0;
                }
            }
            Forked::Server(Err(reason)) => {
                if forkserver::send(control.as_fd(), &Reply::Refused { reason }, &[]).is_err() {
                    return 0;
                }
            }
        }
    }
}

/// Blocks until the host sends something or a child ends; returns whether the control line is
/// readable (or closed) and the indices of the ended children.
fn wait(control: &OwnedFd, children: &[Child]) -> std::io::Result<(bool, Vec<usize>)> {
    let mut fds: Vec<PollFd<'_>> = std::iter::once(control.as_fd())
        .chain(children.iter().map(|c| c.pidfd.as_fd()))
        .map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN))
        .collect();
    loop {
        match rustix::event::poll(&mut fds, None) {
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => break,
        }
    }
    let ready = |fd: &PollFd<'_>| !fd.revents().is_empty();
    let ended = fds[1..].iter().enumerate().filter(|(_, fd)| ready(fd)).map(|(i, _)| i).collect();
    Ok((ready(&fds[0]), ended))
}

/// Reaps an ended child; its raw wait status.
fn reap(child: &Child) -> i32 {
    loop {
        match rustix::process::waitid(WaitId::PidFd(child.pidfd.as_fd()), WaitIdOptions::EXITED) {
            Err(rustix::io::Errno::INTR) => continue,
            Ok(Some(status)) => {
                return match (status.exit_status(), status.terminating_signal()) {
                    (Some(code), _) => (code & 0xff) << 8,
                    (None, Some(signal)) => signal | if status.dumped() { 0x80 } else { 0 },
                    (None, None) => 0,
                };
            }
            // Not ours to reap after all (cannot happen: the pidfd is of our child).
            Ok(None) | Err(_) => return 0,
        }
    }
}

enum Forked {
    /// In the new worker process.
    Worker(Job),
    /// In the server: the new worker, or why there is none.
    Server(Result<Child, String>),
}

fn fork(job: Job) -> Forked {
    debug_assert_eq!(threads(), Some(1), "the fork server must stay single-threaded");
    // SAFETY: this process has one thread (the server never starts one, see above), so the child
    // is a complete copy: no lock is held by a thread that does not exist in it.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        return Forked::Worker(job);
    }
    // The child has its copies; the server keeps none (the host must see end of file when the
    // worker's socket closes).
    drop(job);
    if pid < 0 {
        return Forked::Server(Err(format!("fork: {}", std::io::Error::last_os_error())));
    }
    let raw = Pid::from_raw(pid).expect("fork returned a positive pid");
    match rustix::process::pidfd_open(raw, PidfdFlags::empty()) {
        Ok(pidfd) => Forked::Server(Ok(Child { pid: pid as u32, pidfd })),
        Err(e) => {
            // Without a pidfd the host could not signal it safely: undo the fork.
            let _ = rustix::process::kill_process(raw, rustix::process::Signal::KILL);
            let _ = rustix::process::waitpid(Some(raw), rustix::process::WaitOptions::empty());
            Forked::Server(Err(format!("pidfd_open: {e} (Linux 5.3 or later is needed)")))
        }
    }
}

/// Runs the worker in a forked child; its exit code.
fn run(job: Job) -> i32 {
    let Job { socket, stdout, cwd } = job;
    // A fork copies the server's random generator state: without a new seed, every worker would
    // give its guests the same "random" bytes (rand's `ThreadRng` is not reseeded on fork).
    if let Err(e) = rand::rng().reseed() {
        eprintln!("wasmproc worker {}: cannot seed its random generator: {e}", std::process::id());
        return 70;
    }
    // Empty when the host's own directory was gone: stay where the server is.
    if !cwd.is_empty() {
        let cwd = std::path::PathBuf::from(std::ffi::OsString::from_vec(cwd));
        if let Err(e) = rustix::process::chdir(&cwd) {
            let pid = std::process::id();
            eprintln!("wasmproc worker {pid}: cannot enter the host's directory {}: {e}", cwd.display());
            return 70;
        }
    }
    // The host's stdout (or stderr) becomes this worker's stdout, where guests' stdout goes.
    if let Err(e) = rustix::stdio::dup2_stdout(&stdout) {
        eprintln!("wasmproc worker {}: cannot take the host's stdout: {e}", std::process::id());
        return 70;
    }
    drop(stdout);
    match serve_stream(crate::sys::channel::Channel::from(socket).into(), None, 1) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("wasmproc worker {}: {message}", std::process::id());
            70
        }
    }
}

/// The number of threads of this process, from `/proc/self/stat` (for the invariant check).
fn threads() -> Option<usize> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesized command: state is field 3; num_threads is field 20.
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(17)?.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_the_threads_of_this_process() {
        let before = super::threads().expect("/proc/self/stat");
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || rx.recv());
        assert_eq!(super::threads(), Some(before + 1));
        drop(tx);
        let _ = t.join();
    }
}
