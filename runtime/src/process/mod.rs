//! `Process`: Python's `multiprocessing.Process` for one task call in its own worker.
//!
//! A monitor thread per started process (see `monitor`) sends the call over the worker's link,
//! reads its outcome, tells the worker to exit with the matching status, and reaps it.
//!
//! Invariant: the process is only ever signalled (`terminate`, `kill`) while its phase is
//! `Running`; the monitor switches to `Exited` under the lock after `waitid(WNOWAIT)` saw the exit
//! but before reaping, so a signal can never reach a reused pid.

mod monitor;

use crate::config::{Sandbox, StartMethod};
use crate::context::{Context, ContextInner};
use crate::engine::Flavor;
use crate::error::{Error, FailureKind, Result, TaskFailure};
use crate::ipc::protocol::WorkerInit;
use crate::keep::KeepAlive;
use crate::module::{Decoder, ModuleInner, Task, TaskSignature};
use crate::spawn::{self, Killer, SIGKILL, SIGTERM, Spawned};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use wasmproc_wire::Codec;

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
/// Unlike Python's, a `Process` also hands back its task's value: [`Process::result`] waits for it
/// and returns it typed (`R` is the task's result type; `()` for a task that returns nothing).
///
/// Dropping a started process joins it, or kills it if it is a daemon — Python joins non-daemon
/// children at exit and kills daemonic ones.
///
/// ```no_run
/// # fn main() -> wasmproc::Result<()> {
/// let ctx = wasmproc::Context::new()?;
/// let module = ctx.load("tasks.wasm")?;
/// let worker = module.task::<String, ()>("worker")?;
/// let p = wasmproc::Process::builder(&ctx, &worker, "A".to_string())?.name("worker-A").start()?;
/// p.join();
/// assert_eq!(p.exit_code(), Some(0));
///
/// let square = module.task::<u64, u64>("square")?;
/// let p = wasmproc::Process::builder(&ctx, &square, 7)?.start()?;
/// assert_eq!(p.result()?, 49);
/// # Ok(()) }
/// ```
pub struct Process<R = ()> {
    inner: Arc<Inner>,
    decoder: Decoder<R>,
}

struct Inner {
    name: String,
    daemon: bool,
    call: Call,
    ctx: Arc<ContextInner>,
    init: WorkerInit,
    state: Mutex<State>,
    changed: Condvar,
}

/// The task call a process makes.
struct Call {
    module: Arc<ModuleInner>,
    task: Arc<TaskSignature>,
    codec: Codec,
    args: Arc<Vec<u8>>,
    /// What the arguments refer to, alive until the process exits (then a pipe end it held alone
    /// is closed, and its peer sees end of file).
    keep: Mutex<KeepAlive>,
}

enum Phase {
    Created,
    Running { pid: u32, killer: Killer },
    Exited { pid: u32, code: i32 },
}

struct State {
    phase: Phase,
    /// The task's encoded result, once it returned, until `result` takes it.
    value: Option<Vec<u8>>,
    taken: bool,
    failure: Option<TaskFailure>,
}

impl<R> fmt::Debug for Process<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.inner.name)
            .field("pid", &self.pid())
            .field("exit_code", &self.exit_code())
            .finish()
    }
}

/// Configures a [`Process`]; from [`Process::builder`].
pub struct ProcessBuilder<R = ()> {
    ctx: Context,
    call: Call,
    decoder: Decoder<R>,
    name: Option<String>,
    daemon: bool,
    sandbox: Sandbox,
    timeout: Option<Duration>,
    max_memory: Option<usize>,
}

impl<R> fmt::Debug for ProcessBuilder<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessBuilder").field("task", &self.call.task.name()).field("name", &self.name).finish()
    }
}

impl<R: DeserializeOwned> ProcessBuilder<R> {
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
    pub fn build(self) -> Result<Process<R>> {
        self.sandbox.validate()?;
        let name = self.name.unwrap_or_else(|| format!("Process-{}", PROCESS_COUNTER.fetch_add(1, Ordering::Relaxed)));
        // Thread workers need epochs to be stoppable.
        let threads = self.ctx.inner.settings.start_method == StartMethod::Thread;
        let init = WorkerInit {
            name: name.clone(),
            worker_id: 0,
            flavor: if self.timeout.is_some() || threads { Flavor::Interruptible } else { Flavor::Fast },
            fuel: None,
            timeout: self.timeout,
            max_memory: self.max_memory,
            sandbox: self.sandbox,
            parent_pid: std::process::id(),
            confirm_sends: false,
        };
        // Compiled for its engine now (once per module and engine), not as the worker starts.
        self.ctx.inner.ensure_compiled(&self.call.module, init.flavor)?;
        let state = State { phase: Phase::Created, value: None, taken: false, failure: None };
        Ok(Process {
            inner: Arc::new(Inner {
                name,
                daemon: self.daemon,
                call: self.call,
                ctx: self.ctx.inner.clone(),
                init,
                state: Mutex::new(state),
                changed: Condvar::new(),
            }),
            decoder: self.decoder,
        })
    }

    /// Builds and starts the process.
    pub fn start(self) -> Result<Process<R>> {
        let p = self.build()?;
        p.start()?;
        Ok(p)
    }
}

impl Process {
    /// A process that will call `task` with `args` — `ctx.Process(target=task, args=args)`. For a
    /// task of no parameters, `args` is `()`.
    pub fn builder<A: Serialize, R: DeserializeOwned>(
        ctx: &Context,
        task: &Task<A, R>,
        args: A,
    ) -> Result<ProcessBuilder<R>> {
        let mut bytes = Vec::new();
        let (_, keep) = task.encode_into(&args, &mut bytes)?;
        Ok(ProcessBuilder {
            ctx: ctx.clone(),
            call: Call {
                module: task.module.inner.clone(),
                task: task.sig.clone(),
                codec: task.codec,
                args: Arc::new(bytes),
                keep: Mutex::new(keep),
            },
            decoder: task.decoder(),
            name: None,
            daemon: false,
            sandbox: Sandbox::default(),
            timeout: None,
            max_memory: None,
        })
    }
}

impl<R> Process<R> {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.lock()
    }

    /// Starts the worker process and the call — `p.start()`. A process starts at most once.
    ///
    /// Returns once the worker process exists. A worker forked by the fork server (the default
    /// on Linux) is not waited for until it is ready: should it then fail to start, the process
    /// ends with exit code 70 and the worker says why on stderr. A worker started otherwise is
    /// waited for, and its failure to start is this call's `Error::WorkerStart`.
    pub fn start(&self) -> Result<()> {
        if !matches!(self.lock().phase, Phase::Created) {
            return Err(Error::AlreadyStarted { name: self.inner.name.clone() });
        }
        let spawned =
            spawn::spawn_worker_unconfirmed(&self.inner.ctx.settings, &self.inner.init, &[self.inner.artifact()])?;
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
        // The call is on its way before the monitor thread starts (and, for a forked worker,
        // before the worker has said it is ready): it finds it waiting.
        let Spawned { child, pid, stream, ready_due, .. } = spawned;
        let connection = monitor::call(&self.inner, stream, ready_due);
        let inner = self.inner.clone();
        std::thread::Builder::new()
            .name(format!("wasmproc-process-{pid}"))
            .spawn(move || monitor::run(&inner, child, pid, connection))
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
    /// later. Returns without waiting; `join` to wait. On Windows the process is ended with
    /// `TerminateProcess` and exit code `0x10000 + 15`, which `exit_code` reports as -15 too.
    pub fn terminate(&self) {
        if self.inner.signal(SIGTERM) {
            let inner = self.inner.clone();
            let _ = std::thread::Builder::new().name("wasmproc-terminate".into()).spawn(move || {
                if !inner.join_timeout(TERMINATE_GRACE) {
                    inner.signal(SIGKILL);
                }
            });
        }
    }

    /// Kills the process — `p.kill()` (SIGKILL; `exit_code` becomes -9; on Windows
    /// `TerminateProcess` with exit code `0x10000 + 9`, reported as -9).
    pub fn kill(&self) {
        self.inner.signal(SIGKILL);
    }
}

impl<R: DeserializeOwned> Process<R> {
    /// Waits for the process and returns its task's value. A task that failed returns its
    /// [`TaskFailure`]; a process killed before its task answered, a
    /// [`FailureKind::WorkerDied`] failure; one never started, [`Error::NotStarted`]. The value is
    /// moved out: a second call returns [`Error::AlreadyTaken`].
    pub fn result(&self) -> Result<R> {
        self.join();
        let mut st = self.lock();
        if let Some(f) = &st.failure {
            return Err(Error::Task(f.clone()));
        }
        if st.taken {
            return Err(Error::AlreadyTaken);
        }
        let value = st.value.take();
        match (&st.phase, value) {
            (_, Some(bytes)) => {
                st.taken = true;
                drop(st);
                self.decoder.decode(&bytes)
            }
            (Phase::Created, None) => Err(Error::NotStarted { name: self.inner.name.clone() }),
            (Phase::Exited { pid, code }, None) => Err(Error::Task(self.died(*pid, *code))),
            (Phase::Running { .. }, None) => Err(Error::Internal("joined a running process".into())),
        }
    }

    /// Why there is no value from a process that exited with `code` without answering.
    fn died(&self, pid: u32, code: i32) -> TaskFailure {
        let signal = (code < 0).then_some(-code);
        let name = &self.inner.name;
        let thread = self.inner.ctx.settings.start_method == StartMethod::Thread;
        let message = match (signal, thread) {
            (Some(sig), false) => format!("process {name} (pid {pid}) was killed by signal {sig}"),
            (Some(sig), true) => format!("process {name} (a thread worker) was stopped, as by signal {sig}"),
            (None, false) => format!("process {name} (pid {pid}) exited with code {code} before its task answered"),
            (None, true) => format!("process {name} (a thread worker) ended with code {code} before its task answered"),
        };
        TaskFailure {
            task: self.inner.call.task.name().to_string(),
            index: 0,
            kind: FailureKind::WorkerDied { pid, signal },
            message,
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The compiled module its worker loads (for its engine's flavour).
    fn artifact(&self) -> std::path::PathBuf {
        let module = &self.call.module;
        let artifact = module.artifact_for(self.init.flavor);
        debug_assert!(artifact.is_some(), "compiled when the process was built");
        artifact.unwrap_or_default()
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

    /// Sends `sig` if the process is running; returns whether it was.
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

impl<R> Drop for Process<R> {
    fn drop(&mut self) {
        let running = matches!(self.inner.lock().phase, Phase::Running { .. });
        if running {
            if self.inner.daemon {
                self.inner.signal(SIGKILL);
            }
            let mut st = self.inner.lock();
            while matches!(st.phase, Phase::Running { .. }) {
                st = self.inner.changed.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        }
    }
}
