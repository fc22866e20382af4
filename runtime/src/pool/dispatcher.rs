//! The dispatcher: a pool's shared state — its queue of chunks and its slots — and the operations
//! callers make on it.
//!
//! One mutex guards all of it. Around it:
//! - the thread that submits a job assigns it (see `assign`) and, if it finds nobody writing to the
//!   chosen worker's link, writes the frame itself: no handoff to another host thread on the way
//!   out;
//! - one reader thread per slot (see `reader`) answers each finished chunk, refills its worker
//!   from the queue, and replaces the worker when its connection ends (see `respawn`);
//! - with a timeout, a watchdog (see `watchdog`) kills workers stuck past it.
//!
//! Frames reach a worker in assignment order: they are appended to its link under this lock, and
//! the link writes them in append order. Every job is answered exactly once (see `job.rs`): when a
//! worker dies, the chunk it was running fails with `WorkerDied` (or is retried); the chunks
//! queued behind it never started and go back to the front of the queue; a terminated pool answers
//! everything `Terminated`.

use super::assign;
use super::options::PoolOptions;
use super::pump::{Pump, Wait};
use super::slot::{After, Phase, Slot};
use crate::config::Settings;
use crate::context::ContextInner;
use crate::error::Error;
use crate::job::{Job, Lead};
use crate::link::stream;
use crate::spawn::{SIGKILL, Spawned, WorkerChild};
use std::collections::VecDeque;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Where the pool is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lifecycle {
    /// Taking work.
    Open,
    /// `close`d: queued work runs, nothing new is taken.
    Closed,
    /// `terminate`d: nothing runs any more.
    Terminated,
}

pub(crate) struct Dispatcher {
    state: Mutex<State>,
    /// This dispatcher, for thread workers' doorbells (which must not keep it alive).
    me: Weak<Dispatcher>,
    pub(super) ctx: Arc<ContextInner>,
    pub(super) settings: Arc<Settings>,
    pub(super) options: PoolOptions,
    pub(super) pool_name: String,
}

pub(super) struct State {
    pub(super) queue: VecDeque<Job>,
    pub(super) lifecycle: Lifecycle,
    /// Set when no worker can be started any more: why.
    pub(super) broken: Option<String>,
    pub(super) slots: Vec<Slot>,
}

/// A worker as its reader thread holds it.
pub(super) struct Conn {
    pub(super) pid: u32,
    pub(super) child: WorkerChild,
    /// Its connection's incoming side.
    pub(super) pump: Arc<Pump>,
}

impl Dispatcher {
    /// Takes over started workers: installs them and starts one reader thread each. Each thread
    /// holds a clone of `done` until it ends.
    pub(super) fn start(
        ctx: Arc<ContextInner>,
        options: PoolOptions,
        pool_name: String,
        workers: Vec<Spawned>,
        done: flume::Sender<()>,
    ) -> Arc<Dispatcher> {
        let slots = workers.iter().map(|_| Slot::vacant()).collect();
        let state = State { queue: VecDeque::new(), lifecycle: Lifecycle::Open, broken: None, slots };
        let settings = ctx.settings.clone();
        let dispatcher = Arc::new_cyclic(|me| Dispatcher {
            state: Mutex::new(state),
            me: me.clone(),
            ctx,
            settings,
            options,
            pool_name,
        });
        if let Some(timeout) = dispatcher.options.timeout {
            super::watchdog::start(&dispatcher, timeout);
        }
        for (slot, spawned) in workers.into_iter().enumerate() {
            let conn = dispatcher.install(slot, spawned);
            let d = dispatcher.clone();
            let done = done.clone();
            std::thread::Builder::new()
                .name(format!("wasmproc-{}-{slot}", d.pool_name))
                .spawn(move || {
                    if let Some(conn) = conn {
                        super::reader::run(&d, slot, conn);
                    }
                    drop(done);
                })
                .expect("spawn a pool reader thread");
        }
        dispatcher
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes `spawned` the worker of `slot`; `None` if the pool was terminated meanwhile.
    pub(super) fn install(&self, slot: usize, spawned: Spawned) -> Option<Conn> {
        let Spawned { mut child, pid, stream, killer, ready_due } = spawned;
        let broker = self.options.broker.clone().unwrap_or_else(|| self.ctx.broker.clone());
        let wait = Wait::of(&stream);
        let linked = stream::link(stream, broker);
        let mut st = self.lock();
        let (link, mut reader) = match linked {
            Ok(linked) if st.lifecycle != Lifecycle::Terminated => linked,
            _ => {
                drop(st);
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        };
        // A thread worker's frames are taken on its own thread from now on, a worker process's
        // by its callers too (see `pump`); the pump is made before the lock is released, so none
        // is written before its doorbell hangs.
        if ready_due {
            reader.expect_ready();
        }
        let pump = Pump::new(reader, wait, self.me.clone(), slot);
        st.slots[slot] = Slot::live(pid, link, killer);
        if pump.led() {
            st.slots[slot].lead = Some(Arc::downgrade(&pump) as Weak<dyn Lead>);
        }
        if let Some((module, _)) = &self.options.initializer {
            st.slots[slot].preload(module, &self.options);
        }
        let mut touched = self.dispatch(&mut st);
        // The pool may have been closed while this worker started (a replacement): then it has
        // nothing to do and is told to exit, or `join` would wait for it forever.
        touched.extend(exit_idle(&mut st));
        touched.push(slot);
        self.flush(st, &touched);
        Some(Conn { pid, child, pump })
    }

    /// Queues a job and starts it if a worker can take it.
    pub(crate) fn submit(&self, job: Job) -> Result<(), Error> {
        // Compile for this pool's engine before taking the lock (once per module and engine).
        self.ctx.ensure_compiled(&job.module, self.options.flavor())?;
        let mut st = self.lock();
        match st.lifecycle {
            Lifecycle::Terminated => return Err(Error::Terminated),
            Lifecycle::Closed => return Err(Error::PoolClosed),
            Lifecycle::Open => {}
        }
        if let Some(reason) = &st.broken {
            return Err(Error::WorkerStart { reason: reason.clone() });
        }
        st.queue.push_back(job);
        let touched = self.dispatch(&mut st);
        self.flush(st, &touched);
        Ok(())
    }

    /// Assigns queued jobs to workers that may take them (see `assign`); returns the slots given
    /// work.
    pub(super) fn dispatch(&self, st: &mut State) -> Vec<usize> {
        if st.queue.is_empty() {
            // (Every answer dispatches; most find nothing waiting.)
            return Vec::new();
        }
        let mut loads: Vec<assign::Load> = st.slots.iter().map(|s| s.load(&self.options)).collect();
        let given = assign::assign(&mut st.queue, &mut loads, Job::cancelled);
        let mut touched = Vec::new();
        for (i, job) in given {
            st.slots[i].give(job, &self.options);
            if !touched.contains(&i) {
                touched.push(i);
            }
        }
        touched
    }

    /// Takes the queued (not started) jobs whose cancel flag matches out of the queue, marks them
    /// cancelled and drops them, which answers them `Terminated`; how many there were.
    pub(crate) fn withdraw(&self, matches: impl Fn(&Arc<AtomicBool>) -> bool) -> usize {
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
        if st.lifecycle == Lifecycle::Open {
            st.lifecycle = Lifecycle::Closed;
        }
        let touched = exit_idle(&mut st);
        self.flush(st, &touched);
    }

    /// Stops everything now: queued and in-flight jobs answer `Terminated`, workers are killed.
    pub(crate) fn terminate(&self) {
        let mut st = self.lock();
        st.lifecycle = Lifecycle::Terminated;
        let queued: Vec<Job> = st.queue.drain(..).collect();
        let mut running = Vec::new();
        let mut killers = Vec::new();
        for s in &mut st.slots {
            running.extend(s.in_flight.drain(..));
            killers.extend(s.killer.clone());
            if let Phase::Live { .. } = s.phase {
                s.phase = Phase::Live { after: After::Exit };
            }
        }
        drop(st);
        // Each killer belongs to a worker this pool has not reaped yet (a reader thread vacates the
        // slot under the lock before reaping), so a pid cannot have been reused.
        for k in killers {
            k.kill(SIGKILL);
        }
        drop(queued);
        drop(running);
    }

    /// Whether the pool is terminated.
    pub(super) fn terminated(&self) -> bool {
        self.lock().lifecycle == Lifecycle::Terminated
    }

    pub(crate) fn pids(&self) -> Vec<u32> {
        self.lock().slots.iter().map(|s| s.pid).collect()
    }

    /// Writes what was appended to the links of `slots`, after releasing the lock (a link that
    /// another thread is writing picks up what was appended).
    pub(super) fn flush(&self, st: MutexGuard<'_, State>, slots: &[usize]) {
        let links: Vec<_> = slots.iter().filter_map(|&i| st.slots[i].link.clone()).collect();
        drop(st);
        for link in links {
            link.flush();
        }
    }
}

/// When the pool is closed and the queue empty, tells every idle worker to exit.
pub(super) fn exit_idle(st: &mut State) -> Vec<usize> {
    if st.lifecycle == Lifecycle::Open || !st.queue.is_empty() {
        return Vec::new();
    }
    let mut touched = Vec::new();
    for (i, s) in st.slots.iter_mut().enumerate() {
        if s.accepts_work() && s.in_flight.is_empty() {
            s.retire(After::Exit);
            touched.push(i);
        }
    }
    touched
}
