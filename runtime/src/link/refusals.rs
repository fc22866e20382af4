//! The refusal rule: what happens when a request a worker sent without waiting (a put to an
//! unbounded queue, a managed write) is refused because its object was closed or dropped.
//!
//! Nothing is lost silently: the chunk that sent it fails (its successes become
//! `FailureKind::Undelivered`; the host cannot tell which of its inputs sent it), and the worker is
//! told once per object, so its next request to that object waits for an answer and its guest sees
//! why (`Closed`) instead of sending into the void.

use wasmproc_wire::QueueFault;
use wasmproc_wire::outcome;

/// Refusals since the last answered chunk.
#[derive(Debug, Default)]
pub(super) struct Refusals {
    since_done: Vec<(u64, QueueFault)>,
}

impl Refusals {
    /// Records a refused send to `object`; returns whether the worker must be told (the first
    /// refusal of this object since the last answered chunk).
    pub(super) fn record(&mut self, object: u64, fault: QueueFault) -> bool {
        let first = !self.since_done.iter().any(|(o, _)| *o == object);
        self.since_done.push((object, fault));
        first
    }

    /// The outcomes of the chunk just answered, with its successes failed if any of its sends were
    /// refused; starts counting afresh for the next chunk.
    pub(super) fn settle(&mut self, outcomes: Vec<u8>) -> Vec<u8> {
        if self.since_done.is_empty() {
            return outcomes;
        }
        let refused = std::mem::take(&mut self.since_done);
        outcome::fail_successes(outcomes, &message(&refused))
    }

    /// Forgets everything (the connection is gone).
    pub(super) fn clear(&mut self) {
        self.since_done.clear();
    }
}

/// Why a chunk's successes are turned into failures.
fn message(refused: &[(u64, QueueFault)]) -> String {
    let (object, fault) = refused[0];
    let why = match fault {
        QueueFault::Unknown => "no longer exists",
        _ => "was closed",
    };
    let others = {
        let mut objects: Vec<u64> = refused.iter().map(|(o, _)| *o).filter(|o| *o != object).collect();
        objects.dedup();
        match objects.len() {
            0 => String::new(),
            n => format!(" (and {n} other object(s))"),
        }
    };
    format!(
        "{} item(s) this chunk put were not delivered: queue or managed object {object} {why} before they \
         arrived{others}",
        refused.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmproc_wire::FailureKind;
    use wasmproc_wire::outcome::{Outcomes, Tag, push};

    #[test]
    fn each_object_is_told_once_per_chunk_and_the_chunk_fails() {
        let mut r = Refusals::default();
        assert!(r.record(7, QueueFault::Closed), "first refusal of 7: tell the worker");
        assert!(!r.record(7, QueueFault::Closed), "already told");
        assert!(r.record(9, QueueFault::Unknown), "a second object is told too");
        let mut buf = Vec::new();
        push(&mut buf, Tag::Ok, b"1");
        let o = Outcomes::parse(r.settle(buf.clone())).unwrap();
        let (kind, message) = o.get(0).unwrap_err();
        assert_eq!(kind, FailureKind::Undelivered);
        assert!(message.starts_with("3 item(s) this chunk put were not delivered"), "{message}");
        assert!(message.contains("object 7 was closed") && message.contains("1 other object"), "{message}");
        // The next chunk starts afresh.
        assert_eq!(r.settle(buf.clone()), buf);
        assert!(r.record(7, QueueFault::Closed));
        r.clear();
        assert_eq!(r.settle(buf.clone()), buf);
    }
}
