//! The client's order of one forwarder's requests: each is served once, in the order sent,
//! whatever the server lost or delivered twice.
//!
//! A forwarder numbers every request it sends (`seq`, from 0, in the order it queues them) and
//! keeps it until the client says it was served. Core NATS keeps the order of one connection but
//! may lose a run of messages while the server restarts, and the forwarder may send some again
//! (see `resend`). So the client serves request `applied` next: an earlier one is a copy (a
//! waited-for copy is answered from `replies`; a sent one is dropped), a later one waits here
//! until the gap before it is filled, and the client asks the forwarder to send again from the
//! gap ([`Arrival::Early`]). Every [`ACK_EVERY`] served, the client tells the forwarder how far it
//! has served, so the forwarder can let its copies go.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How many served requests the client lets pass before it tells the forwarder.
pub(super) const ACK_EVERY: u64 = 256;

/// How long the client waits before asking again for the same gap to be filled.
const ASK_AGAIN: Duration = Duration::from_millis(500);

/// What to do with a request that arrived.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Arrival<T> {
    /// Serve these, in this order (the request, then any that waited behind it).
    Serve(Vec<T>),
    /// Served already: this is a copy.
    Copy(T),
    /// It waits for earlier ones; ask the forwarder to send again from this number, if given.
    Early { ask_from: Option<u64> },
}

/// One forwarder's requests, as the client serves them.
#[derive(Debug)]
pub(super) struct Order<T> {
    /// The number of the next request to serve: every one below it was served.
    applied: u64,
    /// Requests that came before their turn, by number.
    early: BTreeMap<u64, T>,
    /// When the client last asked for the gap at `applied` to be filled.
    asked: Option<(u64, Instant)>,
    /// `applied` when the forwarder was last told.
    told: u64,
}

impl<T> Default for Order<T> {
    fn default() -> Self {
        Order { applied: 0, early: BTreeMap::new(), asked: None, told: 0 }
    }
}

impl<T> Order<T> {
    /// Request `seq` arrived at `now`.
    pub(super) fn arrived(&mut self, seq: u64, request: T, now: Instant) -> Arrival<T> {
        if seq < self.applied {
            return Arrival::Copy(request);
        }
        if seq > self.applied {
            // A copy of an early one replaces it: either will do.
            self.early.insert(seq, request);
            let ask = match self.asked {
                Some((at, when)) if at == self.applied && now.duration_since(when) < ASK_AGAIN => None,
                _ => Some(self.applied),
            };
            if ask.is_some() {
                self.asked = Some((self.applied, now));
            }
            return Arrival::Early { ask_from: ask };
        }
        let mut serve = vec![request];
        self.applied += 1;
        while let Some(next) = self.early.remove(&self.applied) {
            serve.push(next);
            self.applied += 1;
        }
        debug_assert!(self.early.keys().all(|&k| k > self.applied), "nothing early is due");
        Arrival::Serve(serve)
    }

    /// The number below which every request was served, if the forwarder should be told now:
    /// every [`ACK_EVERY`], and at once when a copy of a served request came (`copy`), which
    /// says the forwarder missed what it was told and is sending again what it need not.
    pub(super) fn ack_due(&mut self, copy: bool) -> Option<u64> {
        let due = self.applied >= self.told + ACK_EVERY || (copy && self.applied > self.told);
        due.then(|| {
            self.told = self.applied;
            self.applied
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(a: Arrival<u64>) -> Vec<u64> {
        match a {
            Arrival::Serve(v) => v,
            other => panic!("expected Serve, got {other:?}"),
        }
    }

    #[test]
    fn in_order_requests_are_served_at_once_and_copies_are_told_apart() {
        let (mut o, t) = (Order::default(), Instant::now());
        assert_eq!(served(o.arrived(0, 0, t)), [0]);
        assert_eq!(served(o.arrived(1, 1, t)), [1]);
        assert_eq!(o.arrived(0, 0, t), Arrival::Copy(0));
    }

    #[test]
    fn a_gap_holds_what_follows_and_asks_once_until_filled() {
        let (mut o, t) = (Order::default(), Instant::now());
        assert_eq!(served(o.arrived(0, 0, t)), [0]);
        // 1 and 2 were lost; 3 and 4 came.
        assert_eq!(o.arrived(3, 3, t), Arrival::Early { ask_from: Some(1) });
        assert_eq!(o.arrived(4, 4, t), Arrival::Early { ask_from: None }, "asked already");
        assert_eq!(o.arrived(4, 4, t + ASK_AGAIN), Arrival::Early { ask_from: Some(1) }, "asked again later");
        // The forwarder sends again from 1.
        assert_eq!(served(o.arrived(1, 1, t)), [1]);
        assert_eq!(served(o.arrived(2, 2, t)), [2, 3, 4]);
        assert_eq!(o.arrived(3, 3, t), Arrival::Copy(3));
        assert_eq!(served(o.arrived(5, 5, t)), [5]);
    }

    #[test]
    fn any_loss_and_duplication_serves_each_once_in_order() {
        // A deterministic shuffle: each request sent 1–3 times, some copies dropped, delivered
        // with later ones overtaking a lost one (but never an earlier copy overtaking).
        let (mut o, t) = (Order::default(), Instant::now());
        let mut got = Vec::new();
        let mut state = 7u64;
        let mut rand = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            state >> 33
        };
        let mut next_unsent = 0u64;
        while (got.len() as u64) < 500 {
            // Send a few new ones, some lost.
            for _ in 0..(rand() % 4) {
                if rand() % 5 != 0
                    && let Arrival::Serve(v) = o.arrived(next_unsent, next_unsent, t)
                {
                    got.extend(v);
                }
                next_unsent += 1;
            }
            // The forwarder sends again everything not yet acknowledged, from the oldest.
            if rand() % 3 == 0 {
                for seq in o.applied..next_unsent {
                    if let Arrival::Serve(v) = o.arrived(seq, seq, t) {
                        got.extend(v);
                    }
                }
            }
        }
        assert_eq!(got, (0..got.len() as u64).collect::<Vec<_>>());
    }

    #[test]
    fn the_forwarder_is_told_every_ack_every_served() {
        let (mut o, t) = (Order::default(), Instant::now());
        for seq in 0..ACK_EVERY - 1 {
            o.arrived(seq, (), t);
            assert_eq!(o.ack_due(false), None);
        }
        o.arrived(ACK_EVERY - 1, (), t);
        assert_eq!(o.ack_due(false), Some(ACK_EVERY));
        assert_eq!(o.ack_due(false), None);
        o.arrived(ACK_EVERY, (), t);
        assert_eq!(o.ack_due(true), Some(ACK_EVERY + 1), "a copy: the forwarder missed the word");
        assert_eq!(o.ack_due(true), None, "nothing new to say");
    }
}
