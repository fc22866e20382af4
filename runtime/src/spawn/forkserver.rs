//! The host's side of a fork server (see `worker::forkserver`): one per worker program, started
//! on the first worker it is asked for and kept for the life of the host.
//!
//! A request sends the worker socket's child end and the fd for guests' stdout; the reply carries a
//! pidfd of the new worker. Its exit status comes later, from the server (its parent), and is kept
//! in an [`Exit`] cell that the worker's handle waits on. A reader thread takes every reply: fork
//! answers go to the oldest request in flight (the server answers in the order it was asked, so a
//! pool's workers are asked for at once and forked back to back), exit statuses to their cells.
//!
//! If the server dies, requests fail (the caller starts the worker by exec instead) and the next
//! request starts a new server; its workers live on, but their exit statuses are lost, and
//! waiting for one reports that once the worker has ended.

use crate::engine::Flavor;
use crate::ipc::forkserver::{self, Reply, Request};
use crate::worker::FORKSERVER_FD_VAR;
use rustix::event::{PollFd, PollFlags};
use rustix::net::{AddressFamily, SocketFlags, SocketType};
use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A worker forked by a server.
pub(crate) struct Forked {
    pub(crate) pid: u32,
    /// Refers to this worker whatever happens to its pid: signals go through it.
    pub(crate) pidfd: Arc<OwnedFd>,
    pub(crate) exit: Arc<Exit>,
}

/// Where a forked worker's exit status arrives.
#[derive(Default)]
pub(crate) struct Exit {
    state: Mutex<ExitState>,
    changed: Condvar,
}

#[derive(Default, Clone, Copy)]
enum ExitState {
    #[default]
    Running,
    Exited(ExitStatus),
    /// Its server died first: the status will never come.
    Lost,
}

impl Exit {
    fn set(&self, state: ExitState) {
        *lock(&self.state) = state;
        self.changed.notify_all();
    }

    /// Its status if it has ended, without waiting.
    pub(crate) fn try_wait(&self, pidfd: &OwnedFd) -> std::io::Result<Option<ExitStatus>> {
        match *lock(&self.state) {
            ExitState::Running => Ok(None),
            ExitState::Exited(status) => Ok(Some(status)),
            ExitState::Lost if ended(pidfd.as_fd(), Some(Duration::ZERO)) => Err(lost()),
            ExitState::Lost => Ok(None),
        }
    }

    /// Waits for it to end; its status.
    pub(crate) fn wait(&self, pidfd: &OwnedFd) -> std::io::Result<ExitStatus> {
        let mut state = lock(&self.state);
        loop {
            match *state {
                ExitState::Running => state = self.changed.wait(state).unwrap_or_else(PoisonError::into_inner),
                ExitState::Exited(status) => return Ok(status),
                ExitState::Lost => {
                    drop(state);
                    ended(pidfd.as_fd(), None);
                    return Err(lost());
                }
            }
        }
    }
}

fn lost() -> std::io::Error {
    std::io::Error::other("its exit status was lost: the fork server that started it died first")
}

/// Whether the process behind `pidfd` has ended, waiting up to `timeout` (`None`: until it has).
fn ended(pidfd: BorrowedFd<'_>, timeout: Option<Duration>) -> bool {
    let timeout = timeout.map(|t| rustix::time::Timespec::try_from(t).unwrap_or_default());
    let mut fds = [PollFd::from_borrowed_fd(pidfd, PollFlags::IN)];
    loop {
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Err(rustix::io::Errno::INTR) => continue,
            Ok(n) => return n > 0,
            Err(_) => return true,
        }
    }
}

/// The server of one worker program, if one is running.
type Entry = Mutex<Option<Arc<Server>>>;

/// Where the answer to one fork request goes.
type Answer = flume::Sender<Result<Forked, String>>;

/// A running fork server.
struct Server {
    control: Arc<OwnedFd>,
    /// The requests in flight, oldest first. Requests are sent under this lock, so this is the
    /// order the server answers them in.
    waiting: Arc<Mutex<Waiting>>,
}

/// The requests in flight, and whether the server is gone (then nothing more is asked of it).
#[derive(Default)]
struct Waiting {
    answers: VecDeque<Answer>,
    gone: bool,
}

/// Forks a worker serving `socket` (its child end) whose guests print to `stdout`. `Ok(Err(_))`:
/// the server could not fork one (the caller may start it by exec); `Err(_)`: the worker program
/// cannot serve at all.
pub(super) fn fork(
    executable: &Path,
    request: Request,
    socket: OwnedFd,
    stdout: BorrowedFd<'_>,
    timeout: Duration,
) -> Result<Result<Forked, String>, String> {
    let server = server_for(executable, timeout)?;
    Ok(server.fork(request, socket, stdout, timeout))
}

/// A request for a worker of `flavor` that will likely load one of `preload`.
pub(super) fn request(flavor: Flavor, preload: &[PathBuf]) -> Request {
    let preload = preload.iter().map(|p| p.as_os_str().as_bytes().to_vec()).collect();
    Request::Fork { cwd: current_dir(), flavor, preload }
}

/// Where the host is now (as bytes of a path; empty if it cannot tell): workers start there, as
/// an exec'd one would.
fn current_dir() -> Vec<u8> {
    std::env::current_dir().map(|d| d.into_os_string().into_vec()).unwrap_or_default()
}

/// Starts the server for `executable` if none runs (errors are reported by the first fork).
pub(super) fn start(executable: &Path, timeout: Duration) {
    let _ = server_for(executable, timeout);
}

/// The live server for `executable`, started if there is none.
fn server_for(executable: &Path, timeout: Duration) -> Result<Arc<Server>, String> {
    /// One entry per worker program, each with its own lock: a program that is slow to start
    /// (or never reports ready) holds up only its own requests.
    static SERVERS: Mutex<Vec<(PathBuf, Arc<Entry>)>> = Mutex::new(Vec::new());
    let entry = {
        let mut servers = lock(&SERVERS);
        match servers.iter().find(|(exe, _)| exe == executable) {
            Some((_, entry)) => entry.clone(),
            None => {
                let entry = Arc::default();
                servers.push((executable.to_path_buf(), Arc::clone(&entry)));
                entry
            }
        }
    };
    // Held while a server starts: concurrent first requests share one server.
    let mut server = lock(&entry);
    if let Some(s) = server.as_ref().filter(|s| !lock(&s.waiting).gone) {
        return Ok(s.clone());
    }
    let started = Arc::new(launch(executable, timeout)?);
    *server = Some(started.clone());
    Ok(started)
}

fn launch(executable: &Path, timeout: Duration) -> Result<Server, String> {
    let exe = executable.display();
    let (host, child_end) =
        rustix::net::socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)
            .map_err(|e| format!("socketpair: {e}"))?;
    // The control line is the server's fd 0; its stdout is nobody's (workers get theirs with each
    // request), so it never holds the host's stdout open.
    let mut child = Command::new(executable)
        .env(FORKSERVER_FD_VAR, "0")
        .stdin(Stdio::from(child_end))
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {exe}: {e}"))?;
    let ready = if ended(host.as_fd(), Some(timeout)) {
        forkserver::recv::<Reply>(&host).ok().flatten()
    } else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("{exe} did not report ready within {timeout:?}"));
    };
    if !matches!(ready, Some((Reply::Ready { .. }, _))) {
        let _ = child.kill();
        let status = child.wait().map_or_else(|e| e.to_string(), |s| s.to_string());
        return Err(format!(
            "{exe} exited ({status}) before it was ready; a worker program must link the wasmproc library"
        ));
    }
    let control = Arc::new(host);
    let waiting = Arc::new(Mutex::new(Waiting::default()));
    let (reader_control, reader_waiting) = (control.clone(), waiting.clone());
    std::thread::Builder::new()
        .name("wasmproc-forkserver".into())
        .spawn(move || read_replies(&reader_control, &reader_waiting, child))
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    Ok(Server { control, waiting })
}

impl Server {
    fn fork(
        &self,
        request: Request,
        socket: OwnedFd,
        stdout: BorrowedFd<'_>,
        timeout: Duration,
    ) -> Result<Forked, String> {
        let (answer, reply) = flume::bounded(1);
        {
            let mut waiting = lock(&self.waiting);
            if waiting.gone {
                return Err("the fork server has exited".into());
            }
            forkserver::send(self.control.as_fd(), &request, &[socket.as_fd(), stdout])
                .map_err(|e| format!("the fork server did not take the request: {e}"))?;
            waiting.answers.push_back(answer);
        }
        drop(socket);
        match reply.recv_timeout(timeout) {
            Ok(reply) => reply,
            Err(flume::RecvTimeoutError::Disconnected) => Err("the fork server exited".into()),
            Err(flume::RecvTimeoutError::Timeout) => {
                // Its answers would no longer match the requests: retire it.
                lock(&self.waiting).gone = true;
                let _ = rustix::net::shutdown(&*self.control, rustix::net::Shutdown::Both);
                Err(format!("the fork server did not answer within {timeout:?}"))
            }
        }
    }
}

/// The server's reader: hands fork answers to the oldest request in flight and exit statuses to
/// their cells, until the server goes away; then reaps it.
fn read_replies(control: &OwnedFd, waiting: &Mutex<Waiting>, mut server: Child) {
    let mut exits: HashMap<u32, Arc<Exit>> = HashMap::new();
    let answer = |a: Result<Forked, String>| {
        let oldest = lock(waiting).answers.pop_front();
        debug_assert!(oldest.is_some(), "the fork server answers only what it was asked");
        if let Some(oldest) = oldest {
            let _ = oldest.send(a);
        }
    };
    loop {
        match forkserver::recv::<Reply>(control) {
            Ok(Some((Reply::Forked { pid }, fds))) => match fds.into_iter().next() {
                Some(pidfd) => {
                    let exit = Arc::new(Exit::default());
                    exits.insert(pid, exit.clone());
                    answer(Ok(Forked { pid, pidfd: Arc::new(pidfd), exit }));
                }
                None => answer(Err("the fork server sent no pidfd".into())),
            },
            Ok(Some((Reply::Refused { reason }, _))) => answer(Err(reason)),
            Ok(Some((Reply::Exited { pid, status }, _))) => {
                if let Some(exit) = exits.remove(&pid) {
                    exit.set(ExitState::Exited(ExitStatus::from_raw(status)));
                }
            }
            Ok(Some((Reply::Ready { .. }, _))) => {}
            Ok(None) | Err(_) => break,
        }
    }
    {
        // Requests still in flight are told the server exited (their senders drop).
        let mut waiting = lock(waiting);
        waiting.gone = true;
        waiting.answers.clear();
    }
    for exit in exits.into_values() {
        exit.set(ExitState::Lost);
    }
    let _ = server.kill();
    let _ = server.wait();
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
