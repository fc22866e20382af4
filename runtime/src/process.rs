//! `Process`: Python's `multiprocessing.Process` for one task call in its own worker process.
//!
//! A monitor thread per started process sends the call, reads its outcome, tells the worker to
//! exit with the matching status, and reaps it. Invariant: the process is only ever signalled
//! (`terminate`, `kill`) while the state says `Running`; the monitor switches to `Exited` under
//! the lock after `waitid(WNOWAIT)` saw the exit but before reaping, so a signal can never reach a
//! reused pid.

use crate::broker::{BrokerReply, Peer, Served};
use crate::context::{Context, ContextInner, Settings};
use crate::engine::Flavor;
use crate::error::{Error, FailureKind, Result, TaskFailure};
use crate::module::{ModuleInner, Task, TaskSignature};
use crate::outcomes::Outcomes;
use crate::protocol::{self, FromWorker, ToWorker, WireCodec, WorkerInit};
use crate::sandbox::Sandbox;
use crate::spawn::{self, Killer, Spawned, WorkerChild};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::io::{BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long `terminate` waits after SIGTERM before it sends SIGKILL.
const TERMINATE_GRACE: Duration = Duration::from_secs(1);

static PROCESS_COUNTER: AtomicUsize = AtomicUsize::new(1);

/// One task call in its own worker process: Python's `multiprocessing.Process(target=…, args=…)`.
///
/// `exit_code` follows Python: `None` while running, 0 when the task returned, 1 when it failed
/// (an `Err`, a panic or a trap — the failure is printed to stderr and kept in
/// [`Process::failure`]), and `-N` when the process was killed by signal N (`terminate` gives -15,
/// `kill` -9).
///
/// Dropping a started process joins it, or kills it if it is a daemon — Python joins non-daemon
/// children at exit and kills daemonic ones.
///
/// ```no_run
/// # fn main() -> wasmproc::Result<()> {
/// let ctx = wasmproc::Context::new()?;
/// let worker = ctx.load("tasks.wasm")?.task::<String, ()>("worker")?;
/// let p = wasmproc::Process::builder(&ctx, &worker, "A".to_string())?.name("worker-A").start()?;
/// p.join();
/// assert_eq!(p.exit_code(), Some(0));
/// # Ok(()) }
/// ```
pub struct Process {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    daemon: bool,
    call: Call,
    settings: Arc<Settings>,
    init: WorkerInit,
    state: Mutex<State>,
    changed: Condvar,
    ctx: Arc<ContextInner>,
}

/// The task call a process makes.
struct Call {
    module: Arc<ModuleInner>,
    task: Arc<TaskSignature>,
    codec: WireCodec,
    args: Vec<u8>,
    /// Queues and pipe ends the arguments refer to, alive until the process exits (then a pipe
    /// end it held alone is closed, and its peer sees end of file).
    keep: Mutex<crate::queue::KeepAlive>,
}

enum Phase {
    Created,
    Running { pid: u32, killer: Killer },
    Exited { pid: u32, code: i32 },
}

struct State {
    phase: Phase,
    failure: Option<TaskFailure>,
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.inner.name)
            .field("pid", &self.pid())
            .field("exit_code", &self.exit_code())
            .finish()
    }
}

/// Configures a [`Process`]; from [`Process::builder`].
pub struct ProcessBuilder {
    ctx: Context,
    call: Call,
    name: Option<String>,
    daemon: bool,
    sandbox: Sandbox,
    timeout: Option<Duration>,
    max_memory: Option<usize>,
}

impl fmt::Debug for ProcessBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessBuilder").field("task", &self.call.task.name()).field("name", &self.name).finish()
    }
}

impl ProcessBuilder {
    /// The process's name (Python's `name=`); the guest sees it through `current_process()` and it
    /// prefixes the guest's output lines. Default: `Process-N`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A daemon process is killed when its handle is dropped; a non-daemon one is waited for.
    pub fn daemon(mut self, daemon: bool) -> Self {
        self.daemon = daemon;
        self
    }

    /// What the guest may touch. Default: nothing.
    pub fn sandbox(mut self, sandbox: Sandbox) -> Self {
        self.sandbox = sandbox;
        self
    }

    /// Interrupt the task after this long (it then fails, and the exit code is 1).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The most linear memory the task may use, in bytes.
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = Some(bytes);
        self
    }

    /// The process, not yet started (Python's `Process(...)`).
    pub fn build(self) -> Result<Process> {
        self.sandbox.validate()?;
        let name = self.name.unwrap_or_else(|| format!("Process-{}", PROCESS_COUNTER.fetch_add(1, Ordering::Relaxed)));
        let init = WorkerInit {
            name: name.clone(),
            worker_id: 0,
            // Thread workers need epochs to be stoppable.
            flavor: if self.timeout.is_some() || self.ctx.inner.settings.start_method == spawn::StartMethod::Thread {
                Flavor::Interruptible
            } else {
                Flavor::Fast
            },
            fuel: None,
            timeout: self.timeout,
            max_memory: self.max_memory,
            sandbox: self.sandbox,
        };
        Ok(Process {
            inner: Arc::new(Inner {
                name,
                daemon: self.daemon,
                call: self.call,
                settings: self.ctx.inner.settings.clone(),
                init,
                state: Mutex::new(State { phase: Phase::Created, failure: None }),
                changed: Condvar::new(),
                ctx: self.ctx.inner.clone(),
            }),
        })
    }

    /// Builds and starts the process.
    pub fn start(self) -> Result<Process> {
        let p = self.build()?;
        p.start()?;
        Ok(p)
    }
}

impl Process {
    /// A process that will call `task` with `args` — `Process(target=task, args=args)`.
    pub fn builder<A: Serialize, R: DeserializeOwned>(
        ctx: &Context,
        task: &Task<A, R>,
        args: A,
    ) -> Result<ProcessBuilder> {
        let mut bytes = Vec::new();
        let (_, keep) = task.encode_into(&args, &mut bytes)?;
        Ok(ProcessBuilder {
            ctx: ctx.clone(),
            call: Call {
                module: task.module.inner.clone(),
                task: task.sig.clone(),
                codec: task.codec,
                args: bytes,
                keep: Mutex::new(keep),
            },
            name: None,
            daemon: false,
            sandbox: Sandbox::default(),
            timeout: None,
            max_memory: None,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the worker process and the call — `p.start()`. A process starts at most once.
    pub fn start(&self) -> Result<()> {
        if !matches!(self.lock().phase, Phase::Created) {
            return Err(Error::AlreadyStarted { name: self.inner.name.clone() });
        }
        let spawned = spawn::spawn_worker(&self.inner.settings, &self.inner.init)?;
        {
            let mut st = self.lock();
            if !matches!(st.phase, Phase::Created) {
                drop(st);
                let mut child = spawned.child;
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::AlreadyStarted { name: self.inner.name.clone() });
            }
            st.phase = Phase::Running { pid: spawned.pid, killer: spawned.killer.clone() };
        }
        let inner = self.inner.clone();
        std::thread::Builder::new()
            .name(format!("wasmproc-process-{}", spawned.pid))
            .spawn(move || monitor(inner, spawned))
            .map_err(|e| Error::Internal(format!("process monitor thread: {e}")))?;
        Ok(())
    }

    /// Waits until the process has exited — `p.join()`. Returns at once if it never started.
    pub fn join(&self) {
        let mut st = self.lock();
        while matches!(st.phase, Phase::Running { .. }) {
            st = self.inner.changed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Waits at most `timeout` — `p.join(timeout)`; returns whether the process has exited (or
    /// never started).
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.inner.join_timeout(timeout)
    }

    /// Whether the process has started and not yet exited — `p.is_alive()`.
    pub fn is_alive(&self) -> bool {
        matches!(self.lock().phase, Phase::Running { .. })
    }

    /// `None` before the process has exited; then 0 (the task returned), 1 (it failed), or `-N`
    /// (killed by signal N) — `p.exitcode`.
    pub fn exit_code(&self) -> Option<i32> {
        match self.lock().phase {
            Phase::Exited { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The operating-system process id, once started — `p.pid`.
    pub fn pid(&self) -> Option<u32> {
        match self.lock().phase {
            Phase::Created => None,
            Phase::Running { pid, .. } | Phase::Exited { pid, .. } => Some(pid),
        }
    }

    /// The process's name — `p.name`.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Whether the process is a daemon — `p.daemon`.
    pub fn daemon(&self) -> bool {
        self.inner.daemon
    }

    /// Why the task failed, if it did (exit code 1).
    pub fn failure(&self) -> Option<TaskFailure> {
        self.lock().failure.clone()
    }

    /// Asks the process to stop — `p.terminate()`: SIGTERM (the worker does not catch it, so it
    /// stops at once and `exit_code` becomes -15), then SIGKILL if it is still running a second
    /// later. Returns without waiting; `join` to wait.
    pub fn terminate(&self) {
        if self.signal(libc::SIGTERM) {
            let inner = self.inner.clone();
            let _ = std::thread::Builder::new().name("wasmproc-terminate".into()).spawn(move || {
                if !inner.join_timeout(TERMINATE_GRACE) {
                    inner.signal(libc::SIGKILL);
                }
            });
        }
    }

    /// Kills the process — `p.kill()` (SIGKILL; `exit_code` becomes -9).
    pub fn kill(&self) {
        self.signal(libc::SIGKILL);
    }

    /// Sends `sig` if the process is running; returns whether it was.
    fn signal(&self, sig: i32) -> bool {
        self.inner.signal(sig)
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn join_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.lock();
        while matches!(st.phase, Phase::Running { .. }) {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self.changed.wait_timeout(st, deadline - now).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }

    fn signal(&self, sig: i32) -> bool {
        let st = self.lock();
        match &st.phase {
            Phase::Running { killer, .. } => {
                // The worker is unreaped while the phase is `Running` (see the module docs).
                killer.kill(sig);
                true
            }
            _ => false,
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.is_alive() {
            if self.inner.daemon {
                self.kill();
            }
            self.join();
        }
    }
}

/// Runs one started process: sends the call, reads its outcome, lets the worker exit with the
/// matching status, records how it ended.
fn monitor(inner: Arc<Inner>, spawned: Spawned) {
    let Spawned { mut child, pid, stream, .. } = spawned;
    let call = &inner.call;
    let failure = |kind: FailureKind, message: String| TaskFailure {
        task: call.task.name().to_string(),
        index: 0,
        kind,
        message,
    };
    let artifact = call.module.artifact_for(inner.init.flavor).unwrap_or_else(|| call.module.artifact.clone());
    let link = Arc::new(StreamPeer(Mutex::new(stream)));
    let send = || -> std::io::Result<()> {
        let w = link.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut w = &*w;
        protocol::write_frame(&mut w, &ToWorker::Load { module: call.module.id, artifact, init: None }, &[])?;
        let run = ToWorker::Run {
            module: call.module.id,
            task: call.task.name().to_string(),
            codec: call.codec,
            lens: vec![call.args.len() as u32],
        };
        protocol::write_frame(&mut w, &run, &[&call.args])?;
        w.flush()
    };
    let reader = link.0.lock().unwrap_or_else(|p| p.into_inner()).try_clone().map(BufReader::new);
    let peer = inner.ctx.broker.peer(link.clone());
    // Puts the task sent that the broker refused.
    let mut refused = 0usize;
    let outcome = match (send(), reader) {
        (Ok(()), Ok(mut r)) => loop {
            match protocol::read_frame::<FromWorker>(&mut r) {
                Ok(Some((FromWorker::Done { .. }, payload))) => {
                    let payload = if refused > 0 {
                        let message = format!(
                            "{refused} item(s) the task put were not delivered: their queue was closed \
                             or dropped before they arrived"
                        );
                        crate::outcomes::fail_successes(payload, &message)
                    } else {
                        payload
                    };
                    break Some(match Outcomes::parse(payload) {
                        Ok(o) if o.len() == 1 => o.get(0).map(|_| ()).map_err(|(kind, message)| failure(kind, message)),
                        Ok(_) | Err(_) => {
                            Err(failure(FailureKind::BadResult, "the worker answered malformed outcomes".into()))
                        }
                    });
                }
                // The task uses a queue: serve it from the context's broker.
                Ok(Some((FromWorker::Broker(op), payload))) => match inner.ctx.broker.serve(op, payload, &peer) {
                    Served::Reply(reply, item) => {
                        if link.answer(reply, item).is_err() {
                            break None;
                        }
                    }
                    Served::Nothing => {}
                    Served::Refused { object, .. } => {
                        refused += 1;
                        if refused == 1 {
                            let _ = link.write(&ToWorker::Refused { object }, &[]);
                        }
                    }
                },
                _ => break None,
            }
        },
        _ => None,
    };
    inner.ctx.broker.forget_peer(peer.id);
    // A task that ran: the worker exits 0 or 1. One that never answered was killed (or died):
    // its status tells how.
    if let Some(result) = &outcome {
        let code = i32::from(result.is_err());
        let _ = link.write(&ToWorker::Exit { code }, &[]);
    }
    if let WorkerChild::Process(_) = child {
        wait_no_reap(pid);
    } else {
        // A thread: waiting is joining it; nothing can be reused meanwhile.
        let _ = child.wait();
    }
    let mut st = inner.state.lock().unwrap_or_else(|p| p.into_inner());
    let status = child.wait().ok();
    let code = match status {
        Some(s) => s.code().unwrap_or_else(|| -s.signal().unwrap_or(0)),
        None => 1,
    };
    if let Some(Err(f)) = outcome {
        eprintln!("Process {}: {f}", inner.name);
        st.failure = Some(f);
    }
    st.phase = Phase::Exited { pid, code };
    drop(st);
    inner.changed.notify_all();
    // What the process held is released: pipe ends only it had are closed.
    let held = std::mem::take(&mut *call.keep.lock().unwrap_or_else(|p| p.into_inner()));
    drop(held);
}

/// A process's socket, shared by its monitor and whoever answers its parked queue requests.
struct StreamPeer(Mutex<std::os::unix::net::UnixStream>);

impl StreamPeer {
    fn write(&self, frame: &ToWorker, payload: &[u8]) -> std::io::Result<()> {
        let w = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut w = &*w;
        protocol::write_frame(&mut w, frame, &[payload]).and_then(|()| w.flush())
    }
}

impl Peer for StreamPeer {
    fn answer(&self, reply: BrokerReply, item: Vec<u8>) -> Result<(), Vec<u8>> {
        self.write(&ToWorker::BrokerReply(reply), &item).map_err(|_| item)
    }
}

/// Blocks until child `pid` has exited, leaving it unreaped (its pid stays reserved).
fn wait_no_reap(pid: u32) {
    loop {
        // SAFETY: `info` is a valid, zeroed siginfo_t for waitid to fill.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: plain syscall on our own child with a valid out-pointer.
        let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if r == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}
