//! When a node's forwarder sends its requests again.
//!
//! Core NATS delivers at most once: a request, or its answer, in flight while the server restarts
//! (or while either side reconnects) is lost, and the worker that waits for it would wait
//! forever. So the forwarder sends again every request the client has not said it served, and a
//! copy of each waited-for request whose answer may be lost, when its connection was
//! re-established since (an answer may have been lost, even one the client had said was coming),
//! and when the client has said nothing about a waited-for request for [`RESEND_AFTER`] (it, or
//! one before it, may have been lost). The client serves each request once (`order`) and answers a
//! copy from its memory (`replies`); a parked request is answered `Pending`, which stops the
//! resending until the next reconnect. (The client also asks for a gap to be filled as soon as it
//! sees one.)

use std::time::{Duration, Instant};

/// How long the forwarder waits for the client to say anything about a request before sending it
/// again.
pub(super) const RESEND_AFTER: Duration = Duration::from_secs(1);

/// The most unserved requests the forwarder sends again at once, oldest first. A larger burst
/// could overflow the client's subscription, which drops what does not fit (async-nats keeps
/// 65 536 messages per subscription), and so be sent again and again; the oldest are the ones
/// that fill the client's gap, and the client answers copies by saying how far it has served.
pub(super) const RESEND_BURST: usize = 1024;

/// How often the forwarder looks for requests to send again.
pub(super) const RESEND_TICK: Duration = Duration::from_millis(250);

/// The state of one waited-for request, as sent.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sent {
    at: Instant,
    /// The connection's count of connects when it was last sent.
    connects: u64,
    /// Whether the client has said it is parked.
    heard: bool,
}

impl Sent {
    /// Sent at `now` on the connection's `connects`th connection.
    pub(super) fn new(now: Instant, connects: u64) -> Sent {
        Sent { at: now, connects, heard: false }
    }

    /// The client said the request is parked.
    pub(super) fn heard(&mut self) {
        self.heard = true;
    }

    /// Whether to send it again: after a reconnect, or after [`RESEND_AFTER`] of silence.
    pub(super) fn due(&self, now: Instant, connects: u64) -> bool {
        connects != self.connects || (!self.heard && now.duration_since(self.at) >= RESEND_AFTER)
    }

    /// It was sent again.
    pub(super) fn resent(&mut self, now: Instant, connects: u64) {
        *self = Sent::new(now, connects);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_or_a_reconnect_makes_a_request_due_and_pending_stops_it_until_a_reconnect() {
        let t0 = Instant::now();
        let mut s = Sent::new(t0, 1);
        assert!(!s.due(t0 + RESEND_AFTER / 2, 1), "answered in time: nothing resent");
        assert!(s.due(t0 + RESEND_AFTER, 1), "silence");
        assert!(s.due(t0, 2), "reconnected: its answer may have been lost");
        s.resent(t0 + RESEND_AFTER, 1);
        assert!(!s.due(t0 + RESEND_AFTER, 1));
        s.heard();
        assert!(!s.due(t0 + RESEND_AFTER * 10, 1), "parked at the client: no resending");
        assert!(s.due(t0 + RESEND_AFTER * 10, 2), "but a reconnect may have lost the answer");
        s.resent(t0, 2);
        assert!(s.due(t0 + RESEND_AFTER, 2), "heard is forgotten on resending");
    }
}
