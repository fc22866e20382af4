//! The refusal rule: what happens when a request a worker sent without waiting (a put to an
//! unbounded queue, a managed write) is refused because its object was closed or dropped.
//!
//! Nothing is lost silently: the chunk that sent it fails (its successes become
//! `FailureKind::Undelivered`; the host cannot tell which of its inputs sent it), and the worker is
//! told once per object, so its next request to that object waits for an answer and its guest sees
//! why (`Closed`) instead of sending into the void.
//!
//! A worker whose broker is elsewhere (a cluster client's) may also learn that some of its sends
//! never arrived readable (the bridge sends again what the server loses, so only one the client
//! cannot decode is lost): they are [`lost`](Refusals::lost), and fail the chunk the same way.

use wasmproc_wire::QueueFault;
use wasmproc_wire::outcome;

/// Refused sends, counted per object (its first fault kept): a producer may have thousands
/// refused before it learns, and a few objects at most.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Refused(Vec<(u64, QueueFault, u64)>);

impl Refused {
    /// Counts `n` refused sends to `object`; returns whether it is the first refusal of `object`.
    pub(super) fn add(&mut self, object: u64, fault: QueueFault, n: u64) -> bool {
        match self.0.iter_mut().find(|(o, _, _)| *o == object) {
            Some((_, _, count)) => {
                *count += n;
                false
            }
            None => {
                self.0.push((object, fault, n));
                true
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Each object, its first fault, and how many of its sends were refused.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, QueueFault, u64)> + '_ {
        self.0.iter().copied()
    }
}

/// Refusals since the last answered chunk.
#[derive(Debug, Default)]
pub(super) struct Refusals {
    since_done: Refused,
    /// Sends that never reached the broker readable, since the last answered chunk.
    lost: u64,
}

impl Refusals {
    /// Records a refused send to `object`; returns whether the worker must be told (the first
    /// refusal of this object since the last answered chunk).
    pub(super) fn record(&mut self, object: u64, fault: QueueFault) -> bool {
        self.since_done.add(object, fault, 1)
    }

    /// Records what a broker elsewhere refused (the worker was told already).
    pub(super) fn record_late(&mut self, refused: &Refused) {
        for (object, fault, n) in refused.iter() {
            self.since_done.add(object, fault, n);
        }
    }

    /// Records `n` sends that never reached the broker readable.
    pub(super) fn lost(&mut self, n: u64) {
        self.lost += n;
    }

    /// The outcomes of the chunk just answered, with its successes failed if any of its sends were
    /// refused or lost; starts counting afresh for the next chunk.
    pub(super) fn settle(&mut self, outcomes: Vec<u8>) -> Vec<u8> {
        if self.since_done.is_empty() && self.lost == 0 {
            return outcomes;
        }
        let refused = std::mem::take(&mut self.since_done);
        let lost = std::mem::take(&mut self.lost);
        let why = match (refused.is_empty(), lost) {
            (false, 0) => message(&refused),
            (true, _) => lost_message(lost),
            (false, _) => format!("{}; and {}", message(&refused), lost_message(lost)),
        };
        outcome::fail_successes(outcomes, &why)
    }

    /// Forgets everything (the connection is gone).
    pub(super) fn clear(&mut self) {
        self.since_done = Refused::default();
        self.lost = 0;
    }
}

/// Why a chunk whose sends were lost fails.
fn lost_message(lost: u64) -> String {
    format!(
        "{lost} item(s) or write(s) this chunk sent reached the queue's host unreadable (are the node and \
         the client the same wasmproc version?)"
    )
}

/// Why a chunk's successes are turned into failures.
fn message(refused: &Refused) -> String {
    let (object, fault, _) = refused.0[0];
    let why = match fault {
        QueueFault::Unknown => "no longer exists",
        _ => "was closed",
    };
    let others = match refused.0.len() - 1 {
        0 => String::new(),
        n => format!(" (and {n} other object(s))"),
    };
    let count: u64 = refused.iter().map(|(_, _, n)| n).sum();
    format!(
        "{count} item(s) this chunk put were not delivered: queue or managed object {object} {why} before they \
         arrived{others}"
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

    #[test]
    fn lost_sends_fail_the_chunk_and_say_so() {
        let mut r = Refusals::default();
        let mut buf = Vec::new();
        push(&mut buf, Tag::Ok, b"1");
        r.lost(2);
        let o = Outcomes::parse(r.settle(buf.clone())).unwrap();
        let (kind, message) = o.get(0).unwrap_err();
        assert_eq!(kind, FailureKind::Undelivered);
        assert!(
            message.starts_with("2 item(s) or write(s) this chunk sent reached the queue's host unreadable"),
            "{message}"
        );
        assert_eq!(r.settle(buf.clone()), buf, "the next chunk starts afresh");
        r.lost(1);
        r.record(7, QueueFault::Closed);
        let o = Outcomes::parse(r.settle(buf.clone())).unwrap();
        let (_, message) = o.get(0).unwrap_err();
        assert!(message.contains("object 7 was closed") && message.contains("and 1 item(s)"), "{message}");
    }
}
