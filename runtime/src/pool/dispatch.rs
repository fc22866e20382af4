//! The dispatcher: which worker runs which chunk, and the threads that talk to the workers.
//!
//! One mutex guards all scheduling state. Around it:
//! - the thread that submits a job assigns it and, if the chosen worker's socket is free, writes it
//!   itself — no handoff to another host thread on the way out;
//! - one reader thread per worker blocks on the worker's socket, answers each finished job, refills
//!   the worker from the queue, and replaces the worker when its socket closes.
//!
//! A round trip therefore costs four wakeups (worker reader, worker main, host reader, caller).
//!
//! Rules:
//! - **Idle first.** A job goes to an idle worker when there is one. Only when every worker is busy
//!   may a worker queue more than one chunk — up to 2, or up to 16 while its chunks take under
//!   [`SHORT_CHUNK`] each (tiny tasks need a deep pipeline; long ones need balance).
//! - **FIFO per worker.** A worker answers chunks in the order it received them, so each worker's
//!   in-flight jobs are a queue. Frames reach a worker in assignment order because all of a worker's
//!   bytes go through its `outbox`, written by one thread at a time (the `writing` token).
//! - **Every job answered once.** See `job.rs`. When a worker dies, the chunk it was running fails
//!   with `WorkerDied` (or is retried); the chunks queued behind it never started and go back to
//!   the front of the queue. A terminated pool answers everything `Terminated`.
//! - **Limits.** Timeouts and fuel are enforced inside the worker; a worker stuck past its timeout
//!   plus a second (blocked in a host call) is killed by the pool's watchdog thread.

use super::job::Job;
use crate::broker::{BrokerReply, Peer, PeerRef, QueueFault, Served};
use crate::context::Settings;
use crate::engine::Flavor;
use crate::error::{Error, FailureKind};
use crate::outcomes;
use crate::protocol::{self, FromWorker, InitCall, ToWorker, WorkerInit};
use crate::spawn::{self, Killer, Spawned, WorkerChild};
use std::collections::{HashSet, VecDeque};
use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// Chunks faster than this (as measured by the worker) earn a deep pipeline.
const SHORT_CHUNK: Duration = Duration::from_micros(300);
const DEEP: usize = 16;
const SHALLOW: usize = 2;
/// Payloads up to this size are copied into the outbox next to their header (one write for many
/// small frames); larger ones are written from their own buffer.
const COALESCE: usize = 16 << 10;

pub(crate) struct Dispatcher {
    state: Mutex<State>,
    ctx: Arc<crate::context::ContextInner>,
    settings: Arc<Settings>,
    options: PoolOptions,
    pool_name: String,
}

struct State {
    queue: VecDeque<Job>,
    open: bool,
    terminated: bool,
    /// Set when no worker can be started any more: why.
    broken: Option<String>,
    slots: Vec<Slot>,
}

#[derive(Default)]
struct Slot {
    pid: u32,
    /// Has a worker that takes work.
    live: bool,
    /// Was sent `Exit`; its closing socket is expected.
    exiting: bool,
    /// Gave up on starting a worker here.
    dead: bool,
    in_flight: VecDeque<Job>,
    loaded: HashSet<u64>,
    outbox: VecDeque<Segment>,
    /// A thread is writing the outbox; others only append.
    writing: bool,
    writer: Option<Arc<UnixStream>>,
    /// Stops the worker (a signal, or a thread worker's switch); set while it is unreaped.
    killer: Option<Killer>,
    /// Smoothed time the worker spends per chunk; `None` until the first one.
    chunk_time: Option<Duration>,
    /// Chunks given to the current worker.
    chunks_given: u64,
    /// Was told to exit to be replaced (`max_tasks_per_child`), not because the pool is done.
    recycle: bool,
    /// When the first in-flight chunk started (about: when its predecessor was answered).
    started: Option<Instant>,
    /// Was killed by the watchdog for overrunning the timeout.
    timed_out: bool,
}

impl Slot {
    fn accepts_work(&self) -> bool {
        self.live && !self.exiting
    }

    fn depth(&self) -> usize {
        match self.chunk_time {
            Some(t) if t < SHORT_CHUNK => DEEP,
            _ => SHALLOW,
        }
    }

    fn push_frame(&mut self, mut head: Vec<u8>, payload: Option<&Arc<Vec<u8>>>) {
        match payload {
            Some(p) if p.len() > COALESCE => {
                self.push_bytes(head);
                self.outbox.push_back(Segment::Shared(p.clone()));
            }
            Some(p) => {
                head.extend_from_slice(p);
                self.push_bytes(head);
            }
            None => self.push_bytes(head),
        }
    }

    fn push_bytes(&mut self, bytes: Vec<u8>) {
        match self.outbox.back_mut() {
            Some(Segment::Owned(last)) if last.len() + bytes.len() <= 4 * COALESCE => last.extend_from_slice(&bytes),
            _ => self.outbox.push_back(Segment::Owned(bytes)),
        }
    }
}

/// Bytes waiting to be written to a worker: small frames coalesced into owned buffers, large
/// payloads shared with their job (kept for a resend if the worker dies).
enum Segment {
    Owned(Vec<u8>),
    Shared(Arc<Vec<u8>>),
}

impl Segment {
    fn bytes(&self) -> &[u8] {
        match self {
            Segment::Owned(v) => v,
            Segment::Shared(v) => v,
        }
    }
}

/// What a pool was asked to do beyond running tasks (see `PoolBuilder`).
#[derive(Clone, Default)]
pub(crate) struct PoolOptions {
    /// Resend a job whose worker died this many times before failing it.
    pub(crate) retries: u32,
    /// Replace a worker after it has run this many chunks (Python's `maxtasksperchild`).
    pub(crate) max_tasks_per_child: Option<u64>,
    /// Interrupt an input after this long.
    pub(crate) timeout: Option<Duration>,
    /// Most linear memory an instance may have, in bytes.
    pub(crate) max_memory: Option<usize>,
    /// Fuel each input gets (instructions, roughly).
    pub(crate) fuel: Option<u64>,
    /// What guests may touch.
    pub(crate) sandbox: crate::sandbox::Sandbox,
    /// Queues the initializer's arguments refer to.
    pub(crate) keep: crate::queue::KeepAlive,
    /// Run on every fresh instance of this module in each worker (Python's `initializer`).
    pub(crate) initializer: Option<(Arc<crate::module::ModuleInner>, InitCall)>,
    /// Workers are threads (they need the interruptible engine to be stoppable).
    pub(crate) threads: bool,
}

impl std::fmt::Debug for PoolOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolOptions")
            .field("retries", &self.retries)
            .field("max_tasks_per_child", &self.max_tasks_per_child)
            .field("timeout", &self.timeout)
            .field("max_memory", &self.max_memory)
            .field("fuel", &self.fuel)
            .field("sandbox", &self.sandbox)
            .finish_non_exhaustive()
    }
}

impl PoolOptions {
    /// Which engine this pool's workers run.
    pub(crate) fn flavor(&self) -> Flavor {
        match (self.fuel, self.timeout) {
            (Some(_), _) => Flavor::Metered,
            (None, Some(_)) => Flavor::Interruptible,
            (None, None) if self.threads => Flavor::Interruptible,
            (None, None) => Flavor::Fast,
        }
    }

    /// The artifact of `module` for this pool's engine. A metered one must have been compiled
    /// (`Dispatcher::submit` does that before assigning the job).
    fn artifact(&self, module: &crate::module::ModuleInner) -> std::path::PathBuf {
        module.artifact_for(self.flavor()).unwrap_or_else(|| module.artifact.clone())
    }

    /// The `Load` frame for `module`, with the initializer if it is the initializer's module.
    fn load(&self, module: &crate::module::ModuleInner) -> ToWorker {
        let init = self.initializer.as_ref().filter(|(m, _)| m.id == module.id).map(|(_, call)| call.clone());
        ToWorker::Load { module: module.id, artifact: self.artifact(module), init }
    }
}

impl PoolOptions {
    /// What a worker of this pool is told at start.
    pub(crate) fn worker_init(&self, name: String, worker_id: usize) -> WorkerInit {
        WorkerInit {
            name,
            worker_id: worker_id as u32,
            flavor: self.flavor(),
            fuel: self.fuel,
            timeout: self.timeout,
            max_memory: self.max_memory,
            sandbox: self.sandbox.clone(),
        }
    }
}

/// A worker as its reader thread holds it.
struct Conn {
    pid: u32,
    child: WorkerChild,
    reader: BufReader<UnixStream>,
}

impl Dispatcher {
    /// Takes over started workers: installs them and starts one reader thread each. Each thread
    /// holds a clone of `done` until it ends.
    pub(crate) fn start(
        ctx: Arc<crate::context::ContextInner>,
        settings: Arc<Settings>,
        options: PoolOptions,
        pool_name: String,
        workers: Vec<Spawned>,
        done: flume::Sender<()>,
    ) -> Arc<Dispatcher> {
        let slots = workers.iter().map(|_| Slot::default()).collect();
        let dispatcher = Arc::new(Dispatcher {
            state: Mutex::new(State { queue: VecDeque::new(), open: true, terminated: false, broken: None, slots }),
            ctx,
            settings,
            options,
            pool_name,
        });
        if let Some(timeout) = dispatcher.options.timeout {
            let weak = Arc::downgrade(&dispatcher);
            std::thread::Builder::new()
                .name(format!("wasmproc-{}-watchdog", dispatcher.pool_name))
                .spawn(move || watchdog(weak, timeout))
                .expect("spawn a pool watchdog thread");
        }
        for (slot, spawned) in workers.into_iter().enumerate() {
            let conn = dispatcher.install(slot, spawned);
            let d = dispatcher.clone();
            let done = done.clone();
            std::thread::Builder::new()
                .name(format!("wasmproc-{}-{slot}", d.pool_name))
                .spawn(move || {
                    if let Some(conn) = conn {
                        d.read_loop(slot, conn);
                    }
                    drop(done);
                })
                .expect("spawn a pool reader thread");
        }
        dispatcher
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes `spawned` the worker of `slot`; `None` if the pool was terminated meanwhile.
    fn install(&self, slot: usize, spawned: Spawned) -> Option<Conn> {
        let Spawned { mut child, pid, stream, killer } = spawned;
        let parts = stream.try_clone().map(|r| (BufReader::with_capacity(64 << 10, r), Arc::new(stream)));
        let mut st = self.lock();
        let (reader, writer) = match parts {
            Ok(parts) if !st.terminated => parts,
            _ => {
                drop(st);
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        };
        let s = &mut st.slots[slot];
        *s = Slot { pid, live: true, writer: Some(writer), killer: Some(killer), ..Slot::default() };
        if let Some((module, _)) = &self.options.initializer {
            // Load the initializer's module first: the worker initializes it before any task.
            s.loaded.insert(module.id);
            let load = self.options.load(module);
            s.push_frame(protocol::frame_head(&load, 0).expect("encode Load"), None);
        }
        let mut touched = assign(&mut st, &self.options);
        // The pool may have been closed while this worker started (a replacement): then it has
        // nothing to do and is told to exit, or `join` would wait for it forever.
        touched.extend(exit_idle(&mut st));
        if self.options.initializer.is_some() && !touched.contains(&slot) {
            touched.push(slot);
        }
        self.flush(st, &touched);
        Some(Conn { pid, child, reader })
    }

    /// Queues a job and starts it if a worker can take it.
    pub(crate) fn submit(&self, job: Job) -> Result<(), Error> {
        if self.options.fuel.is_some() {
            // Compile for the metered engine before taking the lock (once per module).
            self.ctx.ensure_metered(&job.module)?;
        }
        let mut st = self.lock();
        if st.terminated {
            return Err(Error::Terminated);
        }
        if !st.open {
            return Err(Error::PoolClosed);
        }
        if let Some(reason) = &st.broken {
            return Err(Error::WorkerStart { reason: reason.clone() });
        }
        st.queue.push_back(job);
        let touched = assign(&mut st, &self.options);
        self.flush(st, &touched);
        Ok(())
    }

    /// Takes the queued (not started) jobs whose cancel flag matches out of the queue, marks them
    /// cancelled and drops them, which answers them `Terminated`; how many there were.
    pub(crate) fn withdraw(&self, matches: impl Fn(&Arc<std::sync::atomic::AtomicBool>) -> bool) -> usize {
        let mut st = self.lock();
        let (out, kept): (VecDeque<Job>, VecDeque<Job>) =
            st.queue.drain(..).partition(|j| j.cancel.as_ref().is_some_and(&matches));
        st.queue = kept;
        drop(st);
        for flag in out.iter().filter_map(|j| j.cancel.as_ref()) {
            flag.store(true, std::sync::atomic::Ordering::Release);
        }
        out.len()
    }

    /// Stops accepting jobs; workers exit once the queue and their in-flight work are done.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        st.open = false;
        let touched = exit_idle(&mut st);
        self.flush(st, &touched);
    }

    /// Stops everything now: queued and in-flight jobs answer `Terminated`, workers are killed.
    pub(crate) fn terminate(&self) {
        let mut st = self.lock();
        st.terminated = true;
        st.open = false;
        let queued: Vec<Job> = st.queue.drain(..).collect();
        let mut running = Vec::new();
        let mut killers = Vec::new();
        for s in &mut st.slots {
            running.extend(s.in_flight.drain(..));
            s.outbox.clear();
            killers.extend(s.killer.clone());
            s.live = false;
        }
        drop(st);
        // Each killer belongs to a worker this pool has not reaped yet (a reader thread clears the
        // slot's killer under the lock before reaping), so a pid cannot have been reused.
        for k in killers {
            k.kill(libc::SIGKILL);
        }
        drop(queued);
        drop(running);
    }

    pub(crate) fn pids(&self) -> Vec<u32> {
        self.lock().slots.iter().map(|s| s.pid).collect()
    }

    /// Writes the outboxes of `slots`, unless another thread is already writing one (it will pick
    /// up what was appended). Consumes the guard: the lock is not held while writing.
    fn flush<'a>(&'a self, mut st: MutexGuard<'a, State>, slots: &[usize]) {
        for &i in slots {
            if st.slots[i].writing || st.slots[i].outbox.is_empty() {
                continue;
            }
            st.slots[i].writing = true;
            loop {
                let s = &mut st.slots[i];
                let (Some(writer), false) = (s.writer.clone(), s.outbox.is_empty()) else {
                    s.writing = false;
                    break;
                };
                let segments: Vec<Segment> = s.outbox.drain(..).collect();
                drop(st);
                // A failed write means the worker is gone; its reader thread sees the socket close
                // and deals with the in-flight jobs, these included.
                let _ = segments.iter().try_for_each(|seg| (&*writer).write_all(seg.bytes()));
                st = self.lock();
            }
        }
    }

    /// The reader thread of `slot`: answers jobs as their results arrive; serves the worker's
    /// queue requests; replaces the worker when it dies; returns when the pool no longer needs a
    /// worker here.
    fn read_loop(self: &Arc<Self>, slot: usize, mut conn: Conn) {
        let mut peer = self.peer(slot, conn.pid);
        // Puts this worker sent that the broker refused since its last answered chunk.
        let mut refused: Vec<(u64, QueueFault)> = Vec::new();
        loop {
            match protocol::read_frame::<FromWorker>(&mut conn.reader) {
                Ok(Some((FromWorker::Done { busy_ns, .. }, mut payload))) => {
                    if !refused.is_empty() {
                        payload = outcomes::fail_successes(payload, &refused_message(&refused));
                        refused.clear();
                    }
                    let mut st = self.lock();
                    let s = &mut st.slots[slot];
                    let Some(job) = s.in_flight.pop_front() else {
                        drop(st);
                        self.ctx.broker.forget_peer(peer.id);
                        match self.replace(slot, conn, "sent a result nobody asked for") {
                            Some(c) => {
                                conn = c;
                                peer = self.peer(slot, conn.pid);
                            }
                            None => return,
                        }
                        continue;
                    };
                    s.started = (!s.in_flight.is_empty()).then(Instant::now);
                    let busy = Duration::from_nanos(busy_ns);
                    s.chunk_time = Some(match s.chunk_time {
                        Some(t) => (t * 7 + busy) / 8,
                        None => busy,
                    });
                    let mut touched = assign(&mut st, &self.options);
                    touched.extend(exit_idle(&mut st));
                    self.flush(st, &touched);
                    job.complete(payload);
                }
                Ok(Some((FromWorker::Broker(op), payload))) => match self.ctx.broker.serve(op, payload, &peer) {
                    Served::Reply(reply, item) => {
                        let _ = peer.peer.answer(reply, item);
                    }
                    Served::Nothing => {}
                    Served::Refused { object, fault } => {
                        if !refused.iter().any(|(o, _)| *o == object) {
                            let _ = self.send(slot, conn.pid, &ToWorker::Refused { object }, Vec::new());
                        }
                        refused.push((object, fault));
                    }
                },
                other => {
                    let what = match other {
                        Ok(Some((frame, _))) => format!("sent {frame:?} unexpectedly"),
                        Ok(None) => "closed its connection".to_string(),
                        Err(e) => format!("connection failed: {e}"),
                    };
                    self.ctx.broker.forget_peer(peer.id);
                    refused.clear();
                    match self.replace(slot, conn, &what) {
                        Some(c) => {
                            conn = c;
                            peer = self.peer(slot, conn.pid);
                        }
                        None => return,
                    }
                }
            }
        }
    }

    /// The broker's way to answer the worker now in `slot` (and only that worker).
    fn peer(self: &Arc<Self>, slot: usize, pid: u32) -> PeerRef {
        self.ctx.broker.peer(Arc::new(SlotPeer { dispatcher: Arc::downgrade(self), slot, pid }))
    }

    /// Writes one frame to the worker `pid` in `slot`; hands the payload back if that worker is
    /// gone.
    fn send(&self, slot: usize, pid: u32, frame: &ToWorker, payload: Vec<u8>) -> Result<(), Vec<u8>> {
        let mut st = self.lock();
        let s = &mut st.slots[slot];
        if s.pid != pid || s.writer.is_none() {
            return Err(payload);
        }
        let head = protocol::frame_head(frame, payload.len() as u64).expect("encode a frame header");
        s.push_frame(head, Some(&Arc::new(payload)));
        self.flush(st, &[slot]);
        Ok(())
    }

    /// The worker of `slot` is gone or unusable: reap it, fail what it held, and start another if
    /// the pool still needs one.
    fn replace(&self, slot: usize, mut conn: Conn, what: &str) -> Option<Conn> {
        let mut st = self.lock();
        let s = &mut st.slots[slot];
        let recycle = s.recycle;
        let timed_out = s.timed_out;
        let expected = s.exiting || st.terminated;
        let s = &mut st.slots[slot];
        // Cleared before the child is reaped, so `terminate` only ever signals unreaped pids.
        s.pid = 0;
        s.killer = None;
        s.live = false;
        s.writer = None;
        s.outbox.clear();
        s.loaded.clear();
        // The worker answers in order, so the first unanswered job is the one it was running (or
        // about to run); the ones behind it never started and go back to the queue, in order.
        let mut unanswered = std::mem::take(&mut s.in_flight);
        let running = unanswered.pop_front();
        while let Some(job) = unanswered.pop_back() {
            st.queue.push_front(job);
        }
        drop(st);

        if !expected {
            let _ = conn.child.kill();
        }
        let status = reap(&mut conn.child);
        match running {
            Some(job) if timed_out => {
                let limit = self.options.timeout.unwrap_or_default();
                let message = format!(
                    "did not finish within the per-task timeout of {limit:?} plus 1 s of grace (it was \
                     blocked where it could not be interrupted); worker process {} was killed and replaced",
                    conn.pid
                );
                job.fail(FailureKind::Timeout, message);
            }
            Some(mut job) if job.attempts < self.options.retries && !self.lock().terminated => {
                job.attempts += 1;
                self.lock().queue.push_front(job);
            }
            Some(job) => {
                let signal = status.and_then(|s| s.signal());
                let message = match (signal, status) {
                    (Some(sig), _) => format!("worker process {} was killed by signal {sig} ({what})", conn.pid),
                    (None, Some(s)) => {
                        format!("worker process {} exited with {s} ({what})", conn.pid)
                    }
                    (None, None) => format!("worker process {} {what}", conn.pid),
                };
                job.fail(FailureKind::WorkerDied { pid: conn.pid, signal }, message);
            }
            None => {}
        }
        if expected && !recycle {
            return None;
        }
        self.respawn(slot)
    }

    fn respawn(&self, slot: usize) -> Option<Conn> {
        let mut last = String::new();
        for attempt in 0..3u32 {
            {
                let st = self.lock();
                if st.terminated || (!st.open && st.queue.is_empty()) {
                    return None;
                }
            }
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(100 << attempt));
            }
            let init = self.options.worker_init(format!("{}-{slot}", self.pool_name), slot);
            match spawn::spawn_worker(&self.settings, &init) {
                Ok(spawned) => return self.install(slot, spawned),
                Err(e) => last = e.to_string(),
            }
        }
        // This slot is lost. If it was the last, nothing will ever run the queue: fail it, and
        // refuse new work with the reason.
        let mut st = self.lock();
        st.slots[slot].dead = true;
        if st.slots.iter().all(|s| s.dead) {
            let reason = format!("no worker process could be started: {last}");
            st.broken = Some(reason.clone());
            let queued: Vec<Job> = st.queue.drain(..).collect();
            drop(st);
            for job in queued {
                job.fail(FailureKind::Load, reason.clone());
            }
        }
        None
    }
}

/// How the broker reaches the worker of one slot; answers for a worker that was replaced are
/// refused (the new worker in the slot did not ask).
struct SlotPeer {
    dispatcher: Weak<Dispatcher>,
    slot: usize,
    pid: u32,
}

impl Peer for SlotPeer {
    fn answer(&self, reply: BrokerReply, item: Vec<u8>) -> Result<(), Vec<u8>> {
        match self.dispatcher.upgrade() {
            Some(d) => d.send(self.slot, self.pid, &ToWorker::BrokerReply(reply), item),
            None => Err(item),
        }
    }
}

/// Why a chunk's successes are turned into failures: the puts it sent that were refused.
fn refused_message(refused: &[(u64, QueueFault)]) -> String {
    let (object, fault) = refused[0];
    let why = match fault {
        QueueFault::Unknown => "no longer exists",
        _ => "was closed",
    };
    format!(
        "{} item(s) this chunk put were not delivered: queue or managed object {object} {why} before they arrived",
        refused.len()
    )
}

/// Assigns queued jobs to workers (see the module docs); returns the slots given work.
fn assign(st: &mut State, options: &PoolOptions) -> Vec<usize> {
    let mut touched = Vec::new();
    while !st.queue.is_empty() {
        let idle = st.slots.iter().position(|s| s.accepts_work() && s.in_flight.is_empty());
        let target = idle.or_else(|| {
            st.slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.accepts_work() && s.in_flight.len() < s.depth())
                .min_by_key(|(_, s)| s.in_flight.len())
                .map(|(i, _)| i)
        });
        let Some(i) = target else { break };
        let job = st.queue.pop_front().expect("not empty");
        if job.cancelled() {
            // Its caller gave up before it started: dropping it answers `Terminated`.
            drop(job);
            continue;
        }
        let recycle_after = options.max_tasks_per_child;
        let s = &mut st.slots[i];
        if s.loaded.insert(job.module.id) {
            let load = options.load(&job.module);
            s.push_frame(protocol::frame_head(&load, 0).expect("encode Load"), None);
        }
        let run = ToWorker::Run {
            module: job.module.id,
            task: job.task.name().to_string(),
            codec: job.codec,
            lens: job.lens.clone(),
        };
        s.push_frame(protocol::frame_head(&run, job.args.len() as u64).expect("encode Run"), Some(&job.args));
        if s.in_flight.is_empty() {
            s.started = Some(Instant::now());
        }
        s.in_flight.push_back(job);
        s.chunks_given += 1;
        if recycle_after.is_some_and(|n| s.chunks_given >= n) {
            // Python's maxtasksperchild: this worker exits after its last chunk and is replaced.
            s.exiting = true;
            s.recycle = true;
            s.push_frame(protocol::frame_head(&ToWorker::Exit { code: 0 }, 0).expect("encode Exit"), None);
        }
        if !touched.contains(&i) {
            touched.push(i);
        }
    }
    touched
}

/// When the pool is closed and the queue empty, tells every idle worker to exit.
fn exit_idle(st: &mut State) -> Vec<usize> {
    let mut touched = Vec::new();
    if st.open || !st.queue.is_empty() {
        return touched;
    }
    for (i, s) in st.slots.iter_mut().enumerate() {
        if s.accepts_work() && s.in_flight.is_empty() {
            s.exiting = true;
            s.push_frame(protocol::frame_head(&ToWorker::Exit { code: 0 }, 0).expect("encode Exit"), None);
            touched.push(i);
        }
    }
    touched
}

/// Kills workers whose current chunk overran `timeout` per input plus a second of grace: the
/// last resort for inputs stuck where epoch interruption cannot reach (inside a host call).
fn watchdog(dispatcher: std::sync::Weak<Dispatcher>, timeout: Duration) {
    const GRACE: Duration = Duration::from_secs(1);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let Some(d) = dispatcher.upgrade() else {
            return;
        };
        let mut st = d.lock();
        if st.terminated || (!st.open && st.slots.iter().all(|s| !s.live)) {
            return;
        }
        for s in &mut st.slots {
            let (Some(started), Some(head)) = (s.started, s.in_flight.front()) else {
                continue;
            };
            let limit = timeout * head.len() as u32 + GRACE;
            if s.live
                && !s.timed_out
                && started.elapsed() > limit
                && let Some(k) = &s.killer
            {
                s.timed_out = true;
                // An unreaped worker (see `terminate`).
                k.kill(libc::SIGKILL);
            }
        }
    }
}

/// Waits for a child to exit, killing it if it has not within 5 s.
fn reap(child: &mut WorkerChild) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Err(_) => return None,
        }
    }
    let _ = child.kill();
    child.wait().ok()
}
