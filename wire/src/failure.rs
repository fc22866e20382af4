//! Why one input of a task produced no result.

use alloc::string::String;
use core::fmt;
use serde::{Deserialize, Serialize};

/// Why one input of a task produced no result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FailureKind {
    /// The task returned `Err`; the message is the error's text.
    Failed,
    /// The task panicked; the message is the panic message and location.
    Panicked,
    /// The guest trapped without panicking (e.g. `unreachable`, stack overflow, out of memory).
    Trapped,
    /// The arguments did not decode as the task's parameter types.
    BadArgument,
    /// The result could not be encoded by the guest.
    BadResult,
    /// The module does not (or no longer) define the task.
    UnknownTask,
    /// The worker could not load the module.
    Load,
    /// The input ran longer than its per-task timeout and was interrupted.
    Timeout,
    /// The input needed more memory than its `max_memory`.
    MemoryLimit,
    /// The input used up its fuel budget (instructions executed).
    FuelExhausted,
    /// The input put items on a queue without waiting (an unbounded queue), and the queue was
    /// closed or dropped before they arrived: they were not delivered. (Every successful input of
    /// the chunk that sent them reports this, since the host cannot tell which one did.)
    Undelivered,
    /// The worker process died while it held this input.
    WorkerDied {
        /// The worker's process id.
        pid: u32,
        /// The signal that killed it, if it was killed by one.
        signal: Option<i32>,
    },
    /// On a cluster: the chunk was delivered `deliveries` times and every node that took it
    /// stopped before answering (a chunk that brings nodes down is not tried forever).
    NodeLost {
        /// How many times it was delivered.
        deliveries: u32,
    },
    /// On a cluster: the node refused the chunk (a directory it does not grant, a module it
    /// cannot run), or the server dropped the pool (its program read no answer for the
    /// cluster's orphan timeout); the message says why and what to change.
    Refused,
}

impl FailureKind {
    /// What happened, as the middle of a sentence: "task `x` *timed out* on input 3".
    pub fn verb(&self) -> &'static str {
        match self {
            FailureKind::Failed => "failed",
            FailureKind::Panicked => "panicked",
            FailureKind::Trapped => "trapped",
            FailureKind::BadArgument => "rejected its argument",
            FailureKind::BadResult => "could not encode its result",
            FailureKind::UnknownTask => "is unknown",
            FailureKind::Load => "could not be loaded",
            FailureKind::Timeout => "timed out",
            FailureKind::MemoryLimit => "exceeded its memory limit",
            FailureKind::FuelExhausted => "ran out of fuel",
            FailureKind::Undelivered => "put items that were not delivered",
            FailureKind::WorkerDied { .. } => "lost its worker",
            FailureKind::NodeLost { .. } => "lost every node that ran it",
            FailureKind::Refused => "was refused by the cluster",
        }
    }
}

/// One input of one task that did not produce a result: which task, which input, why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub struct TaskFailure {
    /// The task's name.
    pub task: String,
    /// The position of the input in the call (`0` for `apply`).
    pub index: usize,
    /// What kind of failure.
    pub kind: FailureKind,
    /// The guest's or the runtime's message.
    pub message: String,
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task `{}` {} on input {}: {}", self.task, self.kind.verb(), self.index, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn a_failure_reads_as_a_sentence() {
        let f = TaskFailure { task: "spin".into(), index: 3, kind: FailureKind::Timeout, message: "after 1s".into() };
        assert_eq!(f.to_string(), "task `spin` timed out on input 3: after 1s");
    }
}
