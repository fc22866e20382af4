//! A job: one chunk of one task's inputs, on its way to a worker and back.
//!
//! Invariant: every `Job` answers exactly once on its reply channel — with its outcomes through
//! [`Job::complete`], or with [`ChunkOutcome::Terminated`] from `Drop` if it is dropped unanswered
//! (a pool terminated, a driver gone). Waiters therefore never hang on a lost job.

use crate::error::TaskFailure;
use crate::module::{ModuleInner, TaskSignature};
use crate::protocol::WireCodec;
use std::sync::Arc;

pub(crate) type ItemOutcome = Result<Vec<u8>, TaskFailure>;

pub(crate) struct Job {
    pub(crate) module: Arc<ModuleInner>,
    pub(crate) task: Arc<TaskSignature>,
    pub(crate) codec: WireCodec,
    /// Index of `args[0]` in the caller's input.
    pub(crate) base: usize,
    pub(crate) args: Vec<Vec<u8>>,
    reply: Option<flume::Sender<ChunkDone>>,
}

pub(crate) struct ChunkDone {
    pub(crate) base: usize,
    pub(crate) len: usize,
    pub(crate) outcome: ChunkOutcome,
}

pub(crate) enum ChunkOutcome {
    /// One outcome per input, in order.
    Done(Vec<ItemOutcome>),
    /// The pool stopped before the chunk ran.
    Terminated,
}

impl Job {
    pub(crate) fn new(
        module: Arc<ModuleInner>,
        task: Arc<TaskSignature>,
        codec: WireCodec,
        base: usize,
        args: Vec<Vec<u8>>,
        reply: flume::Sender<ChunkDone>,
    ) -> Job {
        Job {
            module,
            task,
            codec,
            base,
            args,
            reply: Some(reply),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.args.len()
    }

    /// Answers the job. `outcomes` has one entry per input.
    pub(crate) fn complete(mut self, outcomes: Vec<ItemOutcome>) {
        debug_assert_eq!(outcomes.len(), self.args.len());
        if let Some(reply) = self.reply.take() {
            // The caller may have stopped listening (a dropped AsyncResult): nothing to do then.
            let _ = reply.send(ChunkDone {
                base: self.base,
                len: self.args.len(),
                outcome: ChunkOutcome::Done(outcomes),
            });
        }
    }

    /// Answers every input with the same failure.
    pub(crate) fn fail_all(self, kind: crate::FailureKind, message: &str) {
        let outcomes = (0..self.args.len())
            .map(|i| {
                Err(TaskFailure {
                    task: self.task.name().to_string(),
                    index: self.base + i,
                    kind: kind.clone(),
                    message: message.to_string(),
                })
            })
            .collect();
        self.complete(outcomes);
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(ChunkDone {
                base: self.base,
                len: self.args.len(),
                outcome: ChunkOutcome::Terminated,
            });
        }
    }
}
