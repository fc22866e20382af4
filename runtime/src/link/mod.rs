//! One connection to one worker: frames out; outcomes, broker requests and refusals in.
//!
//! `Pool`, `Process` and (through its pool) `Executor` talk to every worker through a [`Link`]
//! and its [`LinkReader`]:
//! - [`Link`] is the sending half, shared by every thread that writes to the worker (submitters,
//!   the broker answering parked requests). Frames are appended to an [`Outbox`](outbox) and
//!   written in append order by one thread at a time.
//! - [`LinkReader`] is the receiving half, owned by one thread. [`LinkReader::next`] returns the
//!   next event a scheduler cares about — a chunk's outcomes, or the connection's end — and serves
//!   everything else itself: broker requests (answered through the link, which is the broker's
//!   [`Peer`] for this worker) and refusals of sent requests (the [`refusals`] rule).
//!
//! The bytes travel over a [`Sink`] and a [`Source`]: [`stream`] implements them for a socket
//! (process and thread workers). A remote worker is another pair of implementations; the link's
//! rules stay the same.
//!
//! A broker elsewhere (a cluster client's) refuses sent requests late: it tells the [`Link`]
//! ([`Peer::refused`], [`Peer::confirmed`]), which keeps what it was told for the reader to settle
//! into the worker's next answered chunk. The worker confirms its sends before it answers a chunk,
//! so what it is told about a chunk's sends is kept before that chunk's answer is read.
//!
//! Invariants: a link whose reader saw the connection end is closed — it queues nothing more, and
//! the broker has forgotten its parked requests; outcomes are returned in the order the worker
//! answered them, with refused sends settled into the chunk that made them.

mod outbox;
mod refusals;
pub(crate) mod stream;

use crate::broker::{Broker, Peer, PeerRef, Served};
use crate::ipc::frame::{self, Polled};
use crate::ipc::protocol::{BrokerOp, BrokerReply, FromWorker, ToWorker};
use outbox::Outbox;
pub(crate) use outbox::Payload;
use refusals::Refusals;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use wasmproc_wire::QueueFault;

/// Where frames to the worker go.
pub(crate) trait Sink: Send + Sync {
    /// Writes `segments` back to back; an error means the worker is gone (its reader will see the
    /// end of the connection).
    fn write(&self, segments: &[&[u8]]) -> io::Result<()>;
}

/// Where the worker's frames come from.
pub(crate) trait Source: Send {
    /// The next frame, waiting for it: `Ok(None)` at a clean end of the connection.
    fn next(&mut self) -> io::Result<Option<(FromWorker, Vec<u8>)>>;

    /// The next frame if it has arrived whole, without waiting: `Polled::Pending` if not.
    fn try_next(&mut self) -> io::Result<Polled<FromWorker>>;
}

/// The sending half of a worker connection.
pub(crate) struct Link {
    out: Mutex<Outbox>,
    sink: Box<dyn Sink>,
    /// What a broker elsewhere told late about the worker's sends, until the reader settles it.
    late: Mutex<Late>,
    /// `late` may hold something (the reader looks only then).
    has_late: AtomicBool,
}

/// Sends refused or lost, as told by a broker elsewhere.
#[derive(Default)]
struct Late {
    refused: refusals::Refused,
    lost: u64,
}

/// What the receiving half reports.
#[derive(Debug)]
pub(crate) enum Event {
    /// The worker answered its oldest unanswered `Run`: one framed outcome per input
    /// (`wasmproc_wire::outcome`), after the refusal rule; `busy` is how long it worked on it.
    Done { outcomes: Vec<u8>, busy: Duration },
    /// The worker reported more outcomes of its oldest unanswered `Run` (kept until the `Done`),
    /// or (`loaded`, with none) finished loading a module: its next input starts now.
    Progress { loaded: bool },
    /// The connection ended (the worker exited, died or misbehaved); `why` says how. The link is
    /// closed. `partial` holds the outcomes reported as progress of the chunk it was running.
    Closed { why: String, partial: Vec<u8> },
}

/// The receiving half of a worker connection, owned by one thread.
pub(crate) struct LinkReader {
    link: Arc<Link>,
    source: Box<dyn Source>,
    broker: Arc<Broker>,
    peer: PeerRef,
    refusals: Refusals,
    /// Outcomes of the oldest unanswered `Run` reported as progress.
    partial: Vec<u8>,
    /// Whether the worker's `Ready` is still to come (its start was not waited for).
    ready_due: bool,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("closed", &self.lock().closed).finish_non_exhaustive()
    }
}

impl Link {
    /// A link over `sink` and `source` whose broker requests `broker` serves.
    pub(crate) fn new(sink: Box<dyn Sink>, source: Box<dyn Source>, broker: Arc<Broker>) -> (Arc<Link>, LinkReader) {
        let link =
            Arc::new(Link { out: Mutex::default(), sink, late: Mutex::default(), has_late: AtomicBool::new(false) });
        let peer = broker.peer(link.clone());
        let reader = LinkReader {
            link: link.clone(),
            source,
            broker,
            peer,
            refusals: Refusals::default(),
            partial: Vec::new(),
            ready_due: false,
        };
        (link, reader)
    }

    fn lock(&self) -> MutexGuard<'_, Outbox> {
        self.out.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends a frame without writing it (a caller that must keep frames in its own order
    /// appends under its own lock and flushes after releasing it). A closed link hands the
    /// payload back.
    pub(crate) fn enqueue(&self, message: &ToWorker, payload: Payload) -> Result<(), Payload> {
        let mut out = self.lock();
        if out.closed {
            return Err(payload);
        }
        let len = match &payload {
            Payload::None => 0,
            Payload::Owned(v) => v.len(),
            Payload::Shared(v) => v.len(),
        };
        out.push(frame::head(message, len as u64).expect("a protocol header always encodes"), payload);
        Ok(())
    }

    /// Writes what is queued, unless another thread is writing (it writes what was appended).
    pub(crate) fn flush(&self) {
        let mut out = self.lock();
        if !out.begin() {
            return;
        }
        while let Some(batch) = out.next_batch() {
            drop(out);
            // A failed write means the worker is gone; its reader sees the connection end and
            // deals with what was in flight.
            let _ = match batch.as_slice() {
                // Most batches are one coalesced segment (an `apply`'s frame).
                [one] => self.sink.write(&[one.bytes()]),
                many => self.sink.write(&many.iter().map(|s| s.bytes()).collect::<Vec<_>>()),
            };
            out = self.lock();
        }
    }

    /// Appends a frame and writes it.
    pub(crate) fn send(&self, message: &ToWorker, payload: Payload) -> Result<(), Payload> {
        self.enqueue(message, payload)?;
        self.flush();
        Ok(())
    }

    fn close(&self) {
        self.lock().close();
    }

    /// Keeps what a broker elsewhere told about the worker's sends.
    fn keep_late(&self, add: impl FnOnce(&mut Late)) {
        add(&mut self.late.lock().unwrap_or_else(|p| p.into_inner()));
        self.has_late.store(true, Ordering::Release);
    }

    /// Takes what a broker elsewhere told about the worker's sends.
    fn take_late(&self) -> Option<Late> {
        // A plain load first: on the path of every answer, and nearly always false.
        if !self.has_late.load(Ordering::Relaxed) || !self.has_late.swap(false, Ordering::Acquire) {
            return None;
        }
        Some(std::mem::take(&mut *self.late.lock().unwrap_or_else(|p| p.into_inner())))
    }
}

/// The broker answers a worker's parked requests through its link; a closed link hands the item
/// back (so the broker gives it to someone else).
impl Peer for Link {
    fn answer(&self, reply: BrokerReply, item: Vec<u8>) -> Result<(), Vec<u8>> {
        self.send(&ToWorker::BrokerReply(reply), Payload::Owned(item)).map_err(Payload::into_vec)
    }

    /// Kept before the worker is told: the worker's next `Done` is read after this. The worker
    /// is told once per object and chunk: a producer may have thousands refused before it learns,
    /// and a frame each would fill its socket while it is busy writing.
    fn refused(&self, object: u64, fault: QueueFault) {
        let mut first = false;
        self.keep_late(|late| first = late.refused.add(object, fault, 1));
        if first {
            let _ = self.send(&ToWorker::Refused { object }, Payload::None);
        }
    }

    /// Kept before the worker is answered: it answers its chunk only after this.
    fn confirmed(&self, lost: u64) {
        if lost > 0 {
            self.keep_late(|late| late.lost += lost);
        }
        let _ = self.answer(BrokerReply::Ok, Vec::new());
    }
}

impl LinkReader {
    /// The worker's first frame will be its `Ready`: its start was not waited for (see
    /// `spawn::spawn_worker_unconfirmed`). It is taken without an event; a `Ready` when none is
    /// due ends the connection as a protocol violation.
    pub(crate) fn expect_ready(&mut self) {
        self.ready_due = true;
    }

    /// Blocks until the worker answers a chunk or the connection ends, serving the worker's broker
    /// requests meanwhile.
    pub(crate) fn next(&mut self) -> Event {
        loop {
            let frame = self.source.next();
            if let Some(event) = self.take(frame) {
                return event;
            }
        }
    }

    /// [`next`](LinkReader::next) without waiting: `None` once what has arrived is served and
    /// holds no event (a frame may be half in).
    pub(crate) fn try_next(&mut self) -> Option<Event> {
        loop {
            let frame = match self.source.try_next() {
                Ok(Polled::Frame(header, payload)) => Ok(Some((header, payload))),
                Ok(Polled::Pending) => return None,
                Ok(Polled::End) => Ok(None),
                Err(e) => Err(e),
            };
            if let Some(event) = self.take(frame) {
                return Some(event);
            }
        }
    }

    /// Takes one frame (or the end of the connection): the event it makes, if any.
    fn take(&mut self, frame: io::Result<Option<(FromWorker, Vec<u8>)>>) -> Option<Event> {
        match frame {
            Ok(Some((FromWorker::Done { busy_ns, .. }, outcomes))) => {
                // The outcomes it reported as progress come first.
                let outcomes = if self.partial.is_empty() {
                    outcomes
                } else {
                    let mut all = std::mem::take(&mut self.partial);
                    all.extend_from_slice(&outcomes);
                    all
                };
                if let Some(late) = self.link.take_late() {
                    // The worker was told already (`Peer::refused`).
                    self.refusals.record_late(&late.refused);
                    self.refusals.lost(late.lost);
                }
                Some(Event::Done { outcomes: self.refusals.settle(outcomes), busy: Duration::from_nanos(busy_ns) })
            }
            Ok(Some((FromWorker::Progress { count }, outcomes))) => {
                self.partial.extend_from_slice(&outcomes);
                Some(Event::Progress { loaded: count == 0 })
            }
            Ok(Some((FromWorker::Broker(op), payload))) => {
                self.serve(op, payload);
                None
            }
            Ok(Some((FromWorker::Ready { .. }, _))) if self.ready_due => {
                self.ready_due = false;
                None
            }
            Ok(Some((other, _))) => Some(self.closed(format!("sent {other:?} unexpectedly"))),
            Ok(None) => Some(self.closed("closed its connection".into())),
            Err(e) => Some(self.closed(format!("connection failed: {e}"))),
        }
    }

    /// Serves one broker request from the worker.
    fn serve(&mut self, op: BrokerOp, payload: Vec<u8>) {
        match self.broker.serve(op, payload, &self.peer) {
            Served::Reply(reply, item) => {
                let _ = self.link.answer(reply, item);
            }
            Served::Nothing => {}
            Served::Refused { object, fault } => {
                if self.refusals.record(object, fault) {
                    let _ = self.link.send(&ToWorker::Refused { object }, Payload::None);
                }
            }
        }
    }

    /// The connection ended: close the link, drop the worker's parked requests.
    fn closed(&mut self, why: String) -> Event {
        self.link.close();
        self.broker.forget_peer(self.peer.id);
        self.refusals.clear();
        self.link.take_late();
        Event::Closed { why, partial: std::mem::take(&mut self.partial) }
    }
}

impl Drop for LinkReader {
    fn drop(&mut self) {
        self.link.close();
        self.broker.forget_peer(self.peer.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// Frames a worker would send, in order; then the end of the connection.
    struct Frames(VecDeque<(FromWorker, Vec<u8>)>);

    impl Source for Frames {
        fn next(&mut self) -> io::Result<Option<(FromWorker, Vec<u8>)>> {
            Ok(self.0.pop_front())
        }

        fn try_next(&mut self) -> io::Result<Polled<FromWorker>> {
            Ok(self.0.pop_front().map_or(Polled::End, |(f, p)| Polled::Frame(f, p)))
        }
    }

    /// Keeps what is written to the worker.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl Sink for Written {
        fn write(&self, segments: &[&[u8]]) -> io::Result<()> {
            segments.iter().for_each(|s| self.0.lock().unwrap().extend_from_slice(s));
            Ok(())
        }
    }

    impl Written {
        /// The frames written so far.
        fn frames(&self) -> Vec<ToWorker> {
            let bytes = std::mem::take(&mut *self.0.lock().unwrap());
            let mut r = io::Cursor::new(bytes);
            std::iter::from_fn(|| frame::read_frame::<ToWorker>(&mut r).unwrap().map(|(h, _)| h)).collect()
        }
    }

    fn reader_with(frames: impl IntoIterator<Item = (FromWorker, Vec<u8>)>, sink: Written) -> LinkReader {
        let source = Frames(frames.into_iter().collect());
        Link::new(Box::new(sink), Box::new(source), Arc::new(Broker::default())).1
    }

    fn reader(frames: impl IntoIterator<Item = FromWorker>) -> LinkReader {
        reader_with(frames.into_iter().map(|f| (f, Vec::new())), Written::default())
    }

    fn done() -> FromWorker {
        FromWorker::Done { count: 0, busy_ns: 0 }
    }

    #[test]
    fn a_ready_that_is_due_is_taken_without_an_event_and_only_once() {
        let mut r = reader([FromWorker::Ready { pid: 1 }, done(), done()]);
        r.expect_ready();
        assert!(matches!(r.next(), Event::Done { .. }));
        assert!(matches!(r.next(), Event::Done { .. }));
        assert!(matches!(r.next(), Event::Closed { .. }));

        let mut r = reader([FromWorker::Ready { pid: 1 }, FromWorker::Ready { pid: 1 }, done()]);
        r.expect_ready();
        assert!(matches!(r.next(), Event::Closed { why, .. } if why.contains("unexpectedly")), "a second Ready");
    }

    #[test]
    fn a_ready_that_is_not_due_ends_the_connection() {
        let mut r = reader([done(), FromWorker::Ready { pid: 1 }, done()]);
        assert!(matches!(r.next(), Event::Done { .. }));
        assert!(matches!(r.next(), Event::Closed { why, .. } if why.contains("unexpectedly")));
        assert!(r.link.send(&ToWorker::ExitWhenDone, Payload::None).is_err(), "the link is closed");
    }

    #[test]
    fn what_a_broker_elsewhere_tells_late_fails_the_chunk_answered_next() {
        use wasmproc_wire::FailureKind;
        use wasmproc_wire::outcome::{Outcomes, Tag, push};
        let mut ok = Vec::new();
        push(&mut ok, Tag::Ok, b"1");
        let written = Written::default();
        let mut r = reader_with((0..3).map(|_| (done(), ok.clone())), written.clone());
        let failure = |event: Event| match event {
            Event::Done { outcomes, .. } => Outcomes::parse(outcomes).unwrap().get(0).map(|_| ()).unwrap_err(),
            other => panic!("{other:?}"),
        };

        // Refused sends: the worker is told at once, once per object, and the chunk it answers
        // next fails, counting them all.
        (0..3).for_each(|_| r.link.refused(7, QueueFault::Closed));
        assert!(matches!(written.frames()[..], [ToWorker::Refused { object: 7 }]));
        let (kind, message) = failure(r.next());
        assert_eq!(kind, FailureKind::Undelivered);
        assert!(message.starts_with("3 item(s)") && message.contains("object 7 was closed"), "{message}");

        // A confirmation that counts lost sends: answered, and the next chunk fails.
        r.link.confirmed(2);
        assert!(matches!(written.frames()[..], [ToWorker::BrokerReply(BrokerReply::Ok)]));
        let (_, message) = failure(r.next());
        assert!(
            message.starts_with("2 item(s) or write(s) this chunk sent reached the queue's host unreadable"),
            "{message}"
        );

        // A clean confirmation changes nothing.
        r.link.confirmed(0);
        assert!(matches!(r.next(), Event::Done { outcomes, .. } if outcomes == ok));
    }
}
