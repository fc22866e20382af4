//! The client's memory of its answers to waited-for requests, so that a request a node sends
//! again is answered again instead of served twice.
//!
//! A node sends a waited-for request again when its connection to the server was re-established
//! (the request or its answer may have been lost while the server restarted), or when the client
//! has said nothing about it for a while (see `resend`). A get served twice would take two items
//! for one; so the client keeps each answer, and answers a request it has seen with the same
//! answer, or with `Pending` if it is still parked (a get waiting for an item).
//!
//! Each waited-for request carries the numbers of the answers its forwarder received since its
//! previous one (`received`), and the client forgets those when it serves it. A copy is sent only
//! while its request waits, so before any request saying its answer was received; and the client
//! takes requests in the order they arrive (`order` holds back only those not yet due), so it
//! never needs an answer it forgot. It keeps, per forwarder, the answers still waiting and those
//! received since the forwarder's last waited-for request.

use bytes::Bytes;
use std::collections::HashMap;

/// What the client knows of a waited-for request.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Seen {
    /// Not seen before.
    New,
    /// Seen and parked.
    Pending,
    /// Seen and answered with this.
    Answered(Bytes),
}

/// The answers of every forwarder that sent waited-for requests, by its inbox, then by request
/// number: `None` while parked, then the encoded answer.
#[derive(Default)]
pub(super) struct Replies(HashMap<String, HashMap<u64, Option<Bytes>>>);

impl Replies {
    /// Request `n` of the forwarder at `inbox` is served, and says the answers to `received`
    /// reached it; what was known of it before (`New`, unless it was served already).
    pub(super) fn served(&mut self, inbox: &str, n: u64, received: &[u64]) -> Seen {
        let answers = match self.0.get_mut(inbox) {
            Some(answers) => answers,
            None => self.0.entry(inbox.to_string()).or_default(),
        };
        for r in received {
            debug_assert_ne!(*r, n, "a request still waiting has not had its answer");
            answers.remove(r);
        }
        match answers.entry(n) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(None);
                Seen::New
            }
            std::collections::hash_map::Entry::Occupied(o) => match o.get() {
                None => Seen::Pending,
                Some(answer) => Seen::Answered(answer.clone()),
            },
        }
    }

    /// What is known of request `n` of the forwarder at `inbox`, a copy of which arrived; `None`
    /// if it was forgotten.
    pub(super) fn copy(&self, inbox: &str, n: u64) -> Option<Seen> {
        let answer = self.0.get(inbox)?.get(&n)?;
        Some(answer.as_ref().map_or(Seen::Pending, |a| Seen::Answered(a.clone())))
    }

    /// Request `n` of the forwarder at `inbox` was answered with `answer`.
    pub(super) fn answered(&mut self, inbox: &str, n: u64, answer: Bytes) {
        if let Some(slot) = self.0.get_mut(inbox).and_then(|answers| answers.get_mut(&n)) {
            *slot = Some(answer);
        }
    }

    /// The forwarder at `inbox` is gone: forget its answers.
    pub(super) fn close(&mut self, inbox: &str) {
        self.0.remove(inbox);
    }

    #[cfg(test)]
    fn kept(&self) -> usize {
        self.0.values().map(HashMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_seen_again_gets_its_answer_again_and_is_never_served_twice() {
        let mut r = Replies::default();
        assert_eq!(r.copy("a", 0), None);
        assert_eq!(r.served("a", 0, &[]), Seen::New);
        assert_eq!(r.copy("a", 0), Some(Seen::Pending), "parked: not served again");
        r.answered("a", 0, Bytes::from_static(b"item"));
        assert_eq!(r.copy("a", 0), Some(Seen::Answered(Bytes::from_static(b"item"))));
        assert_eq!(r.copy("b", 0), None, "forwarders are told apart");
        assert_eq!(r.served("b", 0, &[]), Seen::New);
    }

    #[test]
    fn answers_received_are_forgotten_and_a_parked_one_does_not_hold_the_rest() {
        let mut r = Replies::default();
        assert_eq!(r.served("a", 0, &[]), Seen::New, "parked for good");
        for n in 1..1000 {
            let received: &[u64] = if n > 1 { &[n - 1] } else { &[] };
            assert_eq!(r.served("a", n, received), Seen::New);
            r.answered("a", n, Bytes::from_static(b"x"));
        }
        assert_eq!(r.kept(), 2, "the parked request and the last answer, not a thousand");
        assert_eq!(r.copy("a", 0), Some(Seen::Pending));
        assert_eq!(r.copy("a", 999), Some(Seen::Answered(Bytes::from_static(b"x"))));
        assert_eq!(r.copy("a", 998), None, "received, so forgotten");
    }

    #[test]
    fn an_answer_to_a_forgotten_request_is_not_kept() {
        let mut r = Replies::default();
        r.answered("a", 7, Bytes::from_static(b"x"));
        assert_eq!(r.kept(), 0);
    }

    #[test]
    fn a_closed_forwarders_answers_are_forgotten() {
        let mut r = Replies::default();
        assert_eq!(r.served("a", 0, &[]), Seen::New);
        r.answered("a", 0, Bytes::from_static(b"x"));
        assert_eq!(r.served("b", 0, &[]), Seen::New);
        r.close("a");
        assert_eq!((r.copy("a", 0), r.kept()), (None, 1), "only b's is kept");
    }
}
