//! The worker's line to its host: one socket, read by the thread that needs what comes next.
//!
//! - **Reading.** The worker's one executing thread reads the socket itself: the main loop for
//!   work ([`Line::next_frame`]), a guest in a broker call for its answer ([`Line::call`]). Work
//!   that arrives during a call is kept for the main loop; refusals are applied where they are
//!   read. Nothing is handed between threads, and reads spin before they block (`crate::spin`),
//!   so a host that answers within microseconds costs no wakeup.
//! - **Writing.** Frames are buffered. Replies go out before the main loop waits for work; a
//!   round trip writes at once; puts sent without waiting (to queues the host said are unbounded)
//!   and progress reports are written by a flusher thread within [`FLUSH_DELAY`], so many small
//!   ones share one write. The host answers a sent put only with a refusal, after which puts to
//!   that queue wait for answers again; a guest that only sends looks for refusals every
//!   [`REFUSALS_EVERY`].
//! - **Confirming sends.** A worker whose broker is elsewhere (a cluster node's) counts what it
//!   sends without waiting and, before answering a chunk that sent any, asks the host to confirm
//!   them ([`Line::confirm`]): one round trip per chunk instead of one per put, and a refusal
//!   still reaches the chunk that made it.
//! - **The host going away.** A watcher thread waits for the host's end of the socket to close
//!   (never for data, so it costs nothing per call): a worker process then exits at once, even while
//!   its guest is busy, so it never outlives its host; a thread worker's guest is stopped at its
//!   next epoch tick.

use super::Stop;
use crate::ipc::frame;
use crate::ipc::protocol::{BrokerOp, BrokerReply, FromWorker, QueueOp, ToWorker};
use crate::ipc::stream::Stream;
use crate::spin::SpinReader;
use std::collections::{HashSet, VecDeque};
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use wasmproc_wire::QueueFault;
use wasmproc_wire::frame::{PREFIX, parse_prefix};

/// How long a sent put may wait in the worker's buffer before the flusher writes it.
pub(super) const FLUSH_DELAY: Duration = Duration::from_micros(500);

/// How often a guest that only sends looks for refusals of what it sent.
const REFUSALS_EVERY: Duration = Duration::from_micros(200);

/// A frame from the host: its header and payload.
pub(super) type Frame = (ToWorker, Vec<u8>);

/// The worker's connection to its host.
pub(super) struct Line {
    writer: Mutex<BufWriter<Stream>>,
    inbox: Mutex<Inbox>,
    /// Queues puts may be sent to without waiting.
    unbounded: Mutex<HashSet<u64>>,
    /// Sent frames are waiting in the writer's buffer.
    dirty: Mutex<bool>,
    wake_flusher: Condvar,
    /// The flusher is started by the first frame sent without waiting (most workers never send
    /// one; a thread less makes a worker start and exit faster).
    flusher: std::sync::Once,
    /// Whether the broker confirms sends (`WorkerInit::confirm_sends`): then a chunk's sent
    /// requests are counted, and confirmed before it is answered ([`Line::confirm`]).
    confirms: bool,
    /// Requests sent without waiting since the last [`Line::confirm`].
    unconfirmed: AtomicU64,
    me: Weak<Line>,
}

/// The reading half.
struct Inbox {
    reader: BufReader<SpinReader>,
    /// Work frames read during a broker call, for the main loop.
    stashed: VecDeque<Frame>,
    /// When a sending guest last looked for refusals.
    looked: Instant,
}

impl Inbox {
    /// Whether a whole frame is already buffered (reading it will not wait for the host).
    fn frame_buffered(&self) -> bool {
        let buf = self.reader.buffer();
        let Some(prefix) = buf.first_chunk::<PREFIX>() else { return false };
        match parse_prefix(prefix) {
            Ok((head, payload)) => buf.len() - PREFIX >= head.saturating_add(payload),
            // A corrupt prefix: reading it reports the error without waiting.
            Err(_) => true,
        }
    }

    fn read(&mut self) -> io::Result<Option<Frame>> {
        frame::read_frame(&mut self.reader)
    }

    /// Reads the whole frames that have arrived, without waiting: refusals are returned, work is
    /// kept for the main loop. (Nothing else can come: no call is waiting for an answer.)
    fn take_arrived(&mut self) -> Vec<u64> {
        self.looked = Instant::now();
        let arrived = !self.reader.buffer().is_empty() || self.reader.get_ref().0.readable();
        let mut refused = Vec::new();
        if !arrived || self.reader.fill_buf().is_err() {
            return refused;
        }
        while self.frame_buffered() {
            match self.read() {
                Ok(Some((ToWorker::Refused { object }, _))) => refused.push(object),
                Ok(Some(work)) => self.stashed.push_back(work),
                Ok(None) | Err(_) => break,
            }
        }
        refused
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Line {
    /// A line over `stream`, whose reading side is `reader` (it may already have consumed the
    /// handshake). Starts the watcher (the flusher starts when first needed); `stop` is a thread
    /// worker's switch; `confirms`, whether its broker confirms sends.
    pub(super) fn start(
        stream: Stream,
        reader: BufReader<SpinReader>,
        stop: Option<Arc<Stop>>,
        confirms: bool,
    ) -> io::Result<Arc<Line>> {
        let watched = stream.try_clone()?;
        let line = Arc::new_cyclic(|me| Line {
            writer: Mutex::new(BufWriter::with_capacity(64 << 10, stream)),
            inbox: Mutex::new(Inbox { reader, stashed: VecDeque::new(), looked: Instant::now() }),
            unbounded: Mutex::default(),
            dirty: Mutex::new(false),
            wake_flusher: Condvar::new(),
            flusher: std::sync::Once::new(),
            confirms,
            unconfirmed: AtomicU64::new(0),
            me: me.clone(),
        });
        std::thread::Builder::new().name("wasmproc-watcher".into()).spawn(move || watch(&watched, stop.as_deref()))?;
        Ok(line)
    }

    /// Writes one frame into the buffer (it goes out with the next flush).
    pub(super) fn write(&self, header: &FromWorker, payload: &[&[u8]]) -> io::Result<()> {
        frame::write_frame(&mut *lock(&self.writer), header, payload)
    }

    /// Writes one frame into the buffer; the flusher writes it out within [`FLUSH_DELAY`].
    pub(super) fn write_soon(&self, header: &FromWorker, payload: &[&[u8]]) -> io::Result<()> {
        self.write(header, payload)?;
        self.written_soon();
        Ok(())
    }

    /// Writes out what is buffered.
    pub(super) fn flush(&self) -> io::Result<()> {
        lock(&self.writer).flush()
    }

    /// The next frame of work for the main loop; `None` once the host is gone. Buffered replies
    /// are written first unless a frame is already here.
    pub(super) fn next_frame(&self) -> Result<Option<Frame>, String> {
        let mut inbox = lock(&self.inbox);
        if let Some(frame) = inbox.stashed.pop_front() {
            return Ok(Some(frame));
        }
        loop {
            if !inbox.frame_buffered() {
                self.flush().map_err(|e| format!("writing results: {e}"))?;
            }
            match inbox.read() {
                Ok(Some((ToWorker::Refused { object }, _))) => self.refused(object),
                Ok(Some((ToWorker::BrokerReply(_), _))) => return Err("a broker answer nobody asked for".into()),
                Ok(Some(frame)) => return Ok(Some(frame)),
                // The host is gone (or sent garbage): nobody will read our results.
                Ok(None) | Err(_) => return Ok(None),
            }
        }
    }

    /// One broker request and its answer. A lost host is `Unknown` (the worker ends soon anyway).
    pub(super) fn call(&self, op: BrokerOp, payload: &[&[u8]]) -> (BrokerReply, Vec<u8>) {
        let lost = (BrokerReply::Err(QueueFault::Unknown), Vec::new());
        {
            let mut w = lock(&self.writer);
            if frame::write_frame(&mut *w, &FromWorker::Broker(op), payload).and_then(|()| w.flush()).is_err() {
                return lost;
            }
        }
        let mut inbox = lock(&self.inbox);
        loop {
            match inbox.read() {
                Ok(Some((ToWorker::BrokerReply(reply), item))) => return (reply, item),
                Ok(Some((ToWorker::Refused { object }, _))) => self.refused(object),
                Ok(Some(work)) => inbox.stashed.push_back(work),
                Ok(None) | Err(_) => return lost,
            }
        }
    }

    /// Sends a request without waiting for an answer (the flusher writes it out soon). Every
    /// [`REFUSALS_EVERY`], looks for refusals of earlier sends: a guest that only sends must
    /// still learn that its queue closed.
    pub(super) fn send(&self, op: BrokerOp, payload: &[&[u8]]) -> Result<(), QueueFault> {
        self.write_soon(&FromWorker::Broker(op), payload).map_err(|_| QueueFault::Unknown)?;
        if self.confirms {
            self.unconfirmed.fetch_add(1, Ordering::Relaxed);
        }
        let refused = match self.inbox.try_lock() {
            Ok(mut inbox) if inbox.looked.elapsed() >= REFUSALS_EVERY => inbox.take_arrived(),
            _ => Vec::new(),
        };
        for queue in refused {
            self.refused(queue);
        }
        Ok(())
    }

    /// Waits until the host has served every request sent without waiting since the last call
    /// (refusals among them arrive first, and are applied), so that a refusal reaches the host
    /// before the answer of the chunk that sent it. Nothing to do if none was sent, or if the
    /// broker does not confirm sends (a local one: its refusals are in order already).
    pub(super) fn confirm(&self) {
        debug_assert!(self.confirms || self.unconfirmed.load(Ordering::Relaxed) == 0);
        let sent = self.unconfirmed.swap(0, Ordering::Relaxed);
        if sent > 0 {
            // A lost host answers `Unknown`: the worker ends soon anyway.
            let _ = self.call(BrokerOp::Confirm { sent }, &[]);
        }
    }

    /// Marks the buffer as holding frames the flusher must write within [`FLUSH_DELAY`].
    fn written_soon(&self) {
        self.flusher.call_once(|| {
            let line = self.me.clone();
            let started = std::thread::Builder::new().name("wasmproc-flusher".into()).spawn(move || flush_loop(&line));
            if started.is_err() {
                // Without a flusher, frames go out with the next reply instead (later, not lost).
                eprintln!("wasmproc worker {}: cannot start the flusher thread", std::process::id());
            }
        });
        let mut dirty = lock(&self.dirty);
        if !*dirty {
            *dirty = true;
            self.wake_flusher.notify_one();
        }
    }

    /// Appends `item` to `queue`: sent without waiting if the queue is known to be unbounded, a
    /// round trip otherwise.
    pub(super) fn put(&self, queue: u64, item: &[u8], timeout_ms: Option<u64>) -> Result<(), QueueFault> {
        if lock(&self.unbounded).contains(&queue) {
            return self.send(BrokerOp::Queue { queue, op: QueueOp::Send }, &[item]);
        }
        match self.call(BrokerOp::Queue { queue, op: QueueOp::Put { timeout_ms } }, &[item]).0 {
            BrokerReply::Ok => Ok(()),
            BrokerReply::OkUnbounded => {
                lock(&self.unbounded).insert(queue);
                Ok(())
            }
            BrokerReply::Err(f) => Err(f),
            BrokerReply::Len(_) => Err(QueueFault::Unknown),
        }
    }

    /// The host refused a sent put to `queue`: wait for answers to puts there from now on.
    fn refused(&self, queue: u64) {
        lock(&self.unbounded).remove(&queue);
    }
}

/// Writes sent frames out within [`FLUSH_DELAY`] of the first one; ends with its line (a thread
/// worker's line goes away with its worker, and must not leave its socket open).
fn flush_loop(line: &Weak<Line>) {
    loop {
        let Some(l) = line.upgrade() else { return };
        let mut dirty = lock(&l.dirty);
        while !*dirty {
            let (d, timed_out) =
                l.wake_flusher.wait_timeout(dirty, Duration::from_millis(200)).unwrap_or_else(|p| p.into_inner());
            dirty = d;
            if timed_out.timed_out() && !*dirty {
                break;
            }
        }
        if !*dirty {
            // Idle: let go of the line for a moment, so it can be dropped.
            drop(dirty);
            drop(l);
            continue;
        }
        drop(dirty);
        std::thread::sleep(FLUSH_DELAY);
        *lock(&l.dirty) = false;
        // A failed write means the host is gone; the watcher ends the worker.
        let _ = l.flush();
    }
}

/// Waits until the host's end of `stream` closes, then ends a worker process at once or stops a
/// thread worker's guest. Wakes for nothing else: it asks only for the hang-up events.
fn watch(stream: &Stream, stop: Option<&Stop>) {
    stream.wait_closed();
    match stop {
        None => std::process::exit(0),
        Some(stop) => stop.orphaned(),
    }
}
