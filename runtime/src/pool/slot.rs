//! A slot of a pool: the worker in it (if any), what it is doing, and where it is going.
//!
//! Invariants (under the dispatcher's lock, checked with `debug_assert!`):
//! - a slot has a link and a killer exactly while it has an unreaped worker (`Live` or
//!   `Overran`, `Killed`), so `terminate` and the watchdog only ever signal unreaped workers;
//! - a worker answers chunks in the order it received them, so `in_flight` is a queue whose front
//!   is the chunk running (or about to run);
//! - a worker holds at most `assign::depth` chunks, and only a `Live { after: Continue }` worker
//!   is given more.

use super::assign::{self, Load};
use super::options::PoolOptions;
use crate::ipc::protocol::ToWorker;
use crate::job::{Job, Lead};
use crate::link::{Link, Payload};
use crate::spawn::Killer;
use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// What happens to a live worker once its in-flight chunks are done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum After {
    /// It keeps taking work.
    Continue,
    /// It was told to exit (the pool is closing).
    Exit,
    /// It was told to exit and is to be replaced (`max_tasks_per_child`).
    Recycle,
}

/// Where a slot's worker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// A worker is running here.
    Live { after: After },
    /// The watchdog killed its worker for overrunning the timeout: the chunk it was running fails
    /// with `Timeout`.
    Overran { after: After },
    /// The watchdog killed its worker, but the chunk that overran was answered before the worker
    /// died: what it still holds did not overrun, and is sent again.
    Killed { after: After },
    /// No worker here: being replaced, or no longer needed.
    Vacant,
    /// No worker could be started here.
    Lost,
}

pub(super) struct Slot {
    /// The worker's process id (the host's for a thread worker); 0 while vacant.
    pub(super) pid: u32,
    pub(super) phase: Phase,
    /// Frames to the worker.
    pub(super) link: Option<Arc<Link>>,
    /// Stops the worker (a signal, or a thread worker's switch).
    pub(super) killer: Option<Killer>,
    /// Takes the worker's answers for a caller waiting on one (a worker process's, see `pump`):
    /// handed to the jobs given here.
    pub(super) lead: Option<Weak<dyn Lead>>,
    /// Chunks given to the worker and not answered, oldest first.
    pub(super) in_flight: VecDeque<Job>,
    /// Modules the worker has been told to load.
    loaded: HashSet<u64>,
    /// Smoothed time the worker spends per chunk; `None` until the first one.
    chunk_time: Option<Duration>,
    /// Chunks given to the current worker.
    chunks_given: u64,
    /// When the chunk at the front of `in_flight` started (about: when its predecessor was
    /// answered).
    pub(super) started: Option<Instant>,
    /// The worker was told to load a module and has not said it is done (a worker that reports
    /// progress says so): no guest code runs meanwhile, so no timeout counts.
    loading: bool,
}

impl Slot {
    /// A slot without a worker.
    pub(super) fn vacant() -> Slot {
        Slot {
            pid: 0,
            phase: Phase::Vacant,
            link: None,
            killer: None,
            lead: None,
            in_flight: VecDeque::new(),
            loaded: HashSet::new(),
            chunk_time: None,
            chunks_given: 0,
            started: None,
            loading: false,
        }
    }

    /// A slot with a fresh worker.
    pub(super) fn live(pid: u32, link: Arc<Link>, killer: Killer) -> Slot {
        Slot {
            pid,
            phase: Phase::Live { after: After::Continue },
            link: Some(link),
            killer: Some(killer),
            ..Slot::vacant()
        }
    }

    fn check(&self) {
        let unreaped = matches!(self.phase, Phase::Live { .. } | Phase::Overran { .. } | Phase::Killed { .. });
        debug_assert_eq!(
            self.killer.is_some(),
            unreaped,
            "a killer exactly while a worker is unreaped: {:?}",
            self.phase
        );
        debug_assert!(self.in_flight.len() <= assign::DEEP, "a worker holds at most {} chunks", assign::DEEP);
    }

    pub(super) fn accepts_work(&self) -> bool {
        self.phase == Phase::Live { after: After::Continue }
    }

    /// How loaded the slot is, for the assignment policy.
    pub(super) fn load(&self, options: &PoolOptions) -> Load {
        self.check();
        Load {
            accepts: self.accepts_work(),
            queued: self.in_flight.len(),
            depth: assign::depth(self.chunk_time),
            left: options.max_tasks_per_child.map(|n| n.saturating_sub(self.chunks_given)),
        }
    }

    /// Appends a frame to the worker (written by a later flush). A closed link drops it: its
    /// reader is about to report the worker gone and deal with what was in flight.
    pub(super) fn enqueue(&self, message: &ToWorker, payload: Payload) {
        if let Some(link) = &self.link {
            let _ = link.enqueue(message, payload);
        }
    }

    /// Gives the worker a chunk (and its module first, if new to it). A worker given its last chunk
    /// before it retires is told to exit after it.
    pub(super) fn give(&mut self, job: Job, options: &PoolOptions) {
        debug_assert!(self.accepts_work(), "only a live worker that takes work is given a chunk");
        if self.loaded.insert(job.module.id) {
            self.enqueue(&options.load(&job.module), Payload::None);
            self.loading = options.kills_at_timeout();
        }
        let run = ToWorker::Run {
            module: job.module.id,
            task: job.task.name().to_string(),
            codec: job.codec,
            lens: job.lens.clone(),
        };
        self.enqueue(&run, Payload::Shared(job.args.clone()));
        if let (Some(watch), Some(lead)) = (&job.watch, &self.lead) {
            watch.given(lead.clone());
        }
        if self.in_flight.is_empty() {
            self.started = Some(Instant::now());
        }
        self.in_flight.push_back(job);
        self.chunks_given += 1;
        if options.max_tasks_per_child.is_some_and(|n| self.chunks_given >= n) {
            // Python's maxtasksperchild: this worker exits after its last chunk and is replaced.
            self.retire(After::Recycle);
        }
    }

    /// Loads `module` first (the initializer's: the worker initializes it before any task).
    pub(super) fn preload(&mut self, module: &crate::module::ModuleInner, options: &PoolOptions) {
        if self.loaded.insert(module.id) {
            self.enqueue(&options.load(module), Payload::None);
            self.loading = options.kills_at_timeout();
        }
    }

    /// Tells the worker to exit once its in-flight chunks are done.
    pub(super) fn retire(&mut self, after: After) {
        debug_assert!(after != After::Continue && self.accepts_work(), "only a live worker retires");
        self.phase = Phase::Live { after };
        self.enqueue(&ToWorker::Exit { code: 0 }, Payload::None);
    }

    /// The worker answered its oldest chunk after `busy`; returns that chunk.
    pub(super) fn answered(&mut self, busy: Duration) -> Option<Job> {
        let job = self.in_flight.pop_front()?;
        if let Phase::Overran { after } = self.phase {
            // It finished as it was killed: the chunk now at the front did not overrun.
            self.phase = Phase::Killed { after };
        }
        self.started = (!self.in_flight.is_empty()).then(Instant::now);
        self.chunk_time = Some(assign::smooth(self.chunk_time, busy));
        Some(job)
    }

    /// Whether the live worker's chunk at the front has run (since it started, or since the
    /// worker last reported progress) longer than `allowed` gives a chunk of its size.
    pub(super) fn overran(&self, allowed: impl Fn(usize) -> Duration) -> bool {
        let (Some(started), Some(head)) = (self.started, self.in_flight.front()) else { return false };
        !self.loading && matches!(self.phase, Phase::Live { .. }) && started.elapsed() > allowed(head.len())
    }

    /// The worker reported progress on the chunk at the front, or (`loaded`) finished loading a
    /// module: its next input starts now.
    pub(super) fn progressed(&mut self, loaded: bool) {
        if loaded {
            self.loading = false;
        }
        if !self.in_flight.is_empty() {
            self.started = Some(Instant::now());
        }
    }

    /// Empties the slot of its worker (about to be reaped): returns what it was, and the chunks it
    /// held, oldest first.
    pub(super) fn vacate(&mut self) -> (Phase, VecDeque<Job>) {
        let phase = std::mem::replace(&mut self.phase, Phase::Vacant);
        let in_flight = std::mem::take(&mut self.in_flight);
        // Cleared before the worker is reaped, so `terminate` only ever signals unreaped pids.
        *self = Slot::vacant();
        (phase, in_flight)
    }
}
