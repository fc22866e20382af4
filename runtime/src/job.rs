//! A job: one chunk of one task's inputs, on its way to a worker and back.
//!
//! Invariant: every `Job` answers exactly once on its reply channel — with its outcomes through
//! [`Job::complete`] or [`Job::fail`], or with [`ChunkOutcome::Terminated`] from `Drop` if it is
//! dropped unanswered (a terminated pool). Waiters therefore never hang on a lost job. A job split
//! in two ([`Job::split_off`]) is two jobs, each answering for its own inputs: waiters count
//! inputs, not chunks.

use crate::error::{Error, FailureKind, TaskFailure};
use crate::keep::KeepAlive;
use crate::module::{ModuleInner, Task, TaskSignature};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use wasmproc_wire::Codec;
use wasmproc_wire::outcome::Outcomes;

pub(crate) struct Job {
    pub(crate) module: Arc<ModuleInner>,
    pub(crate) task: Arc<TaskSignature>,
    pub(crate) codec: Codec,
    /// Index of the chunk's first input in the caller's input.
    pub(crate) base: usize,
    /// The encoded inputs back to back, shared with the outbox while being sent (a job is kept
    /// whole until answered, so it can be sent again if its worker dies first).
    pub(crate) args: Arc<Vec<u8>>,
    pub(crate) lens: Vec<u32>,
    /// Times this job was given to a worker that died before answering it.
    pub(crate) attempts: u32,
    /// Set when its caller gave up: the job is dropped (answering `Terminated`) instead of sent.
    pub(crate) cancel: Option<Arc<AtomicBool>>,
    /// Where its caller looks for the worker it was given to (see [`Watch`]).
    pub(crate) watch: Option<Arc<Watch>>,
    /// What its arguments refer to, held (never read) until the job is answered.
    _keep: KeepAlive,
    reply: Option<flume::Sender<ChunkDone>>,
}

/// Taking a worker's answers on the thread of a caller that waits for one (see `pool::pump`): a
/// caller that reads them itself is not woken by another thread, which costs more than the call on
/// a small machine.
pub(crate) trait Lead: Send + Sync {
    /// Takes what the worker has sent, and lets the worker's own reader rest for a while: the
    /// caller promises to come back soon, or to [`step_down`](Lead::step_down).
    fn lead(&self);
    /// The caller stops taking the worker's answers (`answered`: it has its own); the worker's own
    /// reader takes over if anything is still to come.
    fn step_down(&self, answered: bool);
}

/// A caller leading a worker while it waits (see [`Lead`]). Dropped without
/// [`step_down`](Leading::step_down) (a caller unwinding mid-wait), it steps down as one that has
/// no answer, so the worker's own reader takes over.
#[derive(Default)]
pub(crate) struct Leading(Option<Arc<dyn Lead>>);

impl Leading {
    /// Takes the answers of the worker `watch` says a job of the call was given to (looked up
    /// until found, then kept: if a job goes to another worker meanwhile, that worker's reader
    /// takes its answer).
    pub(crate) fn lead(&mut self, watch: &Watch) {
        if self.0.is_none() {
            self.0 = watch.leader();
        }
        if let Some(lead) = &self.0 {
            lead.lead();
        }
    }

    /// Stops leading (`answered`: the caller has its answer).
    pub(crate) fn step_down(mut self, answered: bool) {
        if let Some(lead) = self.0.take() {
            lead.step_down(answered);
        }
    }
}

impl Drop for Leading {
    fn drop(&mut self) {
        if let Some(lead) = self.0.take() {
            lead.step_down(false);
        }
    }
}

/// Where a call's jobs were last given: the worker whose answers its caller may take while it
/// waits ([`Lead`]). Shared by the call's jobs and its result.
#[derive(Default)]
pub(crate) struct Watch {
    lead: Mutex<Option<Weak<dyn Lead>>>,
    /// Set once a job of the call went to a worker that can be led: until then a look costs no
    /// lock.
    given: AtomicBool,
    /// How many of the call's jobs have answered so far (counted after each answer is sent, so a
    /// caller that sees it change finds the answer on its channel). A caller polls this instead of
    /// its channel, whose lock the answering thread would then have to fight for.
    answered: AtomicUsize,
}

impl Watch {
    /// The job was given to the worker `lead` reads.
    pub(crate) fn given(&self, lead: Weak<dyn Lead>) {
        *self.lead.lock().unwrap_or_else(|p| p.into_inner()) = Some(lead);
        self.given.store(true, Ordering::Release);
    }

    /// The worker a job of the call was last given to, if it is still there.
    pub(crate) fn leader(&self) -> Option<Arc<dyn Lead>> {
        if !self.given.load(Ordering::Acquire) {
            return None;
        }
        self.lead.lock().unwrap_or_else(|p| p.into_inner()).as_ref()?.upgrade()
    }

    /// How many of the call's jobs have answered.
    pub(crate) fn answered(&self) -> usize {
        self.answered.load(Ordering::Acquire)
    }
}

/// A job's answer.
pub(crate) struct ChunkDone {
    pub(crate) task: Arc<TaskSignature>,
    pub(crate) base: usize,
    pub(crate) len: usize,
    pub(crate) outcome: ChunkOutcome,
}

pub(crate) enum ChunkOutcome {
    /// One framed outcome per input.
    Done(Outcomes),
    /// Every input failed the same way (e.g. its worker died).
    Failed { kind: FailureKind, message: String },
    /// The pool stopped before the chunk ran.
    Terminated,
}

impl Job {
    /// A job running `task` on the inputs encoded in `args` (sizes in `lens`), the first of which
    /// is input `base` of its call; `keep` holds what the arguments refer to.
    pub(crate) fn new<A, R>(
        task: &Task<A, R>,
        base: usize,
        args: Vec<u8>,
        lens: Vec<u32>,
        keep: KeepAlive,
        reply: flume::Sender<ChunkDone>,
    ) -> Job {
        let mut job = Job::encoded(task.module.inner.clone(), task.sig.clone(), task.codec, args, lens, reply);
        job.base = base;
        job._keep = keep;
        job
    }

    /// A job of `task` of `module` whose inputs are already encoded (a cluster node's way in).
    pub(crate) fn encoded(
        module: Arc<ModuleInner>,
        task: Arc<TaskSignature>,
        codec: Codec,
        args: Vec<u8>,
        lens: Vec<u32>,
        reply: flume::Sender<ChunkDone>,
    ) -> Job {
        Job {
            module,
            task,
            codec,
            base: 0,
            args: Arc::new(args),
            lens,
            attempts: 0,
            cancel: None,
            watch: None,
            _keep: KeepAlive::new(),
            reply: Some(reply),
        }
    }

    /// Whether its arguments refer to shared memory of this process (a `SharedMemory`, `Value`,
    /// `Array` or lock), which another machine cannot reach.
    pub(crate) fn refers_to_regions(&self) -> bool {
        crate::shm::raw::Region::among(&self._keep)
    }

    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.load(Ordering::Acquire))
    }

    pub(crate) fn len(&self) -> usize {
        self.lens.len()
    }

    fn answer(&mut self, outcome: ChunkOutcome) {
        if let Some(reply) = self.reply.take() {
            // The caller may have stopped listening (a dropped AsyncResult): nothing to do then.
            let _ = reply.send(ChunkDone { task: self.task.clone(), base: self.base, len: self.len(), outcome });
            if let Some(watch) = &self.watch {
                watch.answered.fetch_add(1, Ordering::Release);
            }
        }
    }

    /// Splits off the inputs from `at` on as a job of their own (to be sent again); `None` if
    /// there are none.
    pub(crate) fn split_off(&mut self, at: usize) -> Option<Job> {
        if at >= self.len() {
            return None;
        }
        let bytes: usize = self.lens[..at].iter().map(|l| *l as usize).sum();
        let rest = Job {
            module: self.module.clone(),
            task: self.task.clone(),
            codec: self.codec,
            base: self.base + at,
            args: Arc::new(self.args[bytes..].to_vec()),
            lens: self.lens.split_off(at),
            attempts: self.attempts,
            cancel: self.cancel.clone(),
            watch: self.watch.clone(),
            _keep: self._keep.clone(),
            reply: self.reply.clone(),
        };
        self.args = Arc::new(self.args[..bytes].to_vec());
        debug_assert_eq!(self.args.len(), self.lens.iter().map(|l| *l as usize).sum::<usize>());
        Some(rest)
    }

    /// Answers with the worker's outcome buffer, checked to hold one outcome per input.
    pub(crate) fn complete(mut self, framed: Vec<u8>) {
        let outcome = match Outcomes::parse(framed) {
            Ok(o) if o.len() == self.len() => ChunkOutcome::Done(o),
            Ok(o) => ChunkOutcome::Failed {
                kind: FailureKind::BadResult,
                message: format!("worker returned {} outcomes for {} inputs", o.len(), self.len()),
            },
            Err(e) => ChunkOutcome::Failed { kind: FailureKind::BadResult, message: format!("worker returned {e}") },
        };
        self.answer(outcome);
    }

    /// Answers every input with the same failure.
    pub(crate) fn fail(mut self, kind: FailureKind, message: String) {
        self.answer(ChunkOutcome::Failed { kind, message });
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.answer(ChunkOutcome::Terminated);
    }
}

impl ChunkDone {
    /// Input `i` of the chunk, as its caller sees it.
    pub(crate) fn item(&self, i: usize) -> Result<&[u8], Error> {
        match &self.outcome {
            ChunkOutcome::Done(o) => o.get(i).map_err(|(kind, message)| self.failure(i, kind, message)),
            ChunkOutcome::Failed { kind, message } => Err(self.failure(i, kind.clone(), message.clone())),
            ChunkOutcome::Terminated => Err(Error::Terminated),
        }
    }

    /// Every input of the chunk in order, as [`item`](ChunkDone::item) gives them.
    pub(crate) fn items(&self) -> impl Iterator<Item = Result<&[u8], Error>> {
        let done = match &self.outcome {
            ChunkOutcome::Done(o) => Some(o.iter()),
            _ => None,
        };
        let mut done = done.into_iter().flatten();
        (0..self.len).map(move |i| match done.next() {
            Some(outcome) => outcome.map_err(|(kind, message)| self.failure(i, kind, message)),
            None => self.item(i),
        })
    }

    fn failure(&self, i: usize, kind: FailureKind, message: String) -> Error {
        let message = match kind {
            FailureKind::BadArgument => format!("expected `{}`: {message}", self.task),
            _ => message,
        };
        Error::Task(TaskFailure { task: self.task.name().to_string(), index: self.base + i, kind, message })
    }
}
