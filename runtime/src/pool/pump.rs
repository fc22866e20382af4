//! Taking a worker's frames: who reads a slot's connection, and what each event does to the pool.
//!
//! Three ways, by connection:
//! - **A worker process's socket, led by its callers** (where the platform has a `sys::bell`:
//!   Linux). A caller waiting for an answer from this worker reads the socket itself while it
//!   spins ([`Lead`]): it takes the frames there and then, so its answer wakes no other thread.
//!   While a caller leads, it holds a short lease and the slot's reader thread waits only for the
//!   connection's end (or the lease to run out), so bytes arriving do not wake it either. A caller
//!   that stops spinning before its answer came, or that leaves other work in flight, rings the
//!   reader's bell: the reader thread then waits for bytes again and takes them. An `apply` on a
//!   worker process is then two hand-offs (caller → worker → caller) between two spinning threads.
//! - **A worker process's socket elsewhere**: the reader thread blocks on it in `read`.
//! - **A thread worker's in-process pipe**, led by its callers in the same way. While no caller
//!   leads, the frames are taken on the worker's own thread: the pipe's doorbell
//!   (`ipc::memory::Doorbell`) rings after each write, and [`ring`] takes them there and then — a
//!   `Done` is answered, the worker refilled and the caller's job completed before the worker
//!   reads its next frame. While a lease runs, the doorbell leaves the frames to the leader. The
//!   reader thread only waits, without the lock, for what is left to it: the end of the
//!   connection, frames written while another thread held the lock, or a leader stepping down.
//!   Leading matters here too: the pool's state and the caller's job stay in the caller's CPU's
//!   cache instead of being answered from the worker's (an `apply` on one thread worker measured
//!   ~1–1.5 µs faster, ~5 µs against ~6.5).
//!
//! Invariants:
//! - events of one connection are taken in the order the worker wrote them, by one thread at a
//!   time, each under the pump's lock from reading to its effect on the pool: `Done`s answer the
//!   slot's oldest chunk, so two must never be applied out of order;
//! - once a connection's end is found (`Taken::over`), nothing more is taken from it, by any
//!   thread; the reader thread replaces the worker;
//! - bytes are never left unread with nobody to take them: the reader waits for bytes unless a
//!   lease runs, a thread worker's doorbell leaves bytes only to a running lease, a leader always
//!   steps down (`job::Leading` does when dropped), a leader that leaves with work in flight ends
//!   the lease and rings, and a reader that rests during a lease takes over at the latest
//!   [`LEASE`] past the leader's last look.
//!
//! Lock order: the pump's lock, then the dispatcher's. Nothing takes a pump's lock while holding
//! the dispatcher's.

use super::dispatcher::{Dispatcher, exit_idle};
use crate::ipc::memory;
use crate::ipc::stream::Stream;
use crate::job::Lead;
use crate::link::{Event, LinkReader};
use crate::sys::bell::{Bell, For};
use crate::sys::channel::Channel;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};
use std::time::{Duration, Instant};

/// How long a leader's look lets the reader thread rest: the most an answer can wait when its
/// caller left without a word (its thread stopped).
const LEASE: Duration = Duration::from_micros(500);

/// How a connection ended: why, and the outcomes its worker reported as progress of the chunk it
/// was running.
pub(super) struct Ended {
    pub(super) why: String,
    pub(super) partial: Vec<u8>,
}

/// One connection's incoming side, shared by the reader thread and the threads that take frames
/// where they arrive (a thread worker's doorbell, a worker process's leaders).
pub(super) struct Pump {
    taken: Mutex<Taken>,
    wait: Wait,
    dispatcher: Weak<Dispatcher>,
    slot: usize,
}

/// What [`Pump::take_arrived`] did.
#[derive(PartialEq)]
enum Took {
    /// Took everything that had arrived whole.
    All,
    /// Another thread is taking frames.
    Busy,
    /// The connection ended (found now or before): the reader thread acts on it.
    Ended,
}

/// How the reader thread waits.
pub(super) enum Wait {
    /// A socket read only by the reader thread, which blocks in `read` under the lock.
    Read,
    /// A socket that callers lead.
    Led(Leases),
    /// A thread worker's pipe end, which callers lead too; the reader thread waits for what the
    /// doorbell and the leaders leave.
    Doorbell(memory::End, Lease),
}

impl Wait {
    /// How the reader of `stream` waits: a thread worker's pipe by its doorbell; a worker
    /// process's socket led by its callers where the platform allows, else by blocking reads.
    pub(super) fn of(stream: &Stream) -> Wait {
        match stream {
            Stream::Memory(end) => Wait::Doorbell(end.clone(), Lease::default()),
            Stream::Socket(socket) => match (Bell::new(), socket.try_clone()) {
                (Some(bell), Ok(socket)) => Wait::Led(Leases { socket, bell, lease: Lease::default() }),
                _ => Wait::Read,
            },
        }
    }
}

/// A led socket's state.
pub(super) struct Leases {
    socket: Channel,
    bell: Bell,
    lease: Lease,
}

/// Until when a leader takes a connection's frames.
pub(super) struct Lease {
    /// Until when (ns after `since`) a leader reads; 0: none does.
    until: AtomicU64,
    since: Instant,
}

impl Default for Lease {
    fn default() -> Lease {
        Lease { until: AtomicU64::new(0), since: Instant::now() }
    }
}

impl Lease {
    fn now(&self) -> u64 {
        self.since.elapsed().as_nanos() as u64
    }

    /// What is left of the lease.
    fn left(&self) -> Option<Duration> {
        let left = self.until.load(Ordering::Acquire).saturating_sub(self.now());
        (left > 0).then(|| Duration::from_nanos(left))
    }

    /// Starts or extends the lease to [`LEASE`] from now.
    fn renew(&self) {
        self.until.store(self.now() + LEASE.as_nanos() as u64, Ordering::Release);
    }

    /// Ends the lease. (A fence pairs it with the doorbell's: either the doorbell sees it ended,
    /// or whoever looks after it sees what the doorbell left.)
    fn end(&self) {
        self.until.store(0, Ordering::Release);
        fence(Ordering::SeqCst);
    }
}

struct Taken {
    reader: LinkReader,
    /// The end, once found by a thread other than the reader (which acts on it).
    ended: Option<Ended>,
    /// The end was found: nothing more is taken. (What a worker wrote after a frame that ended its
    /// connection must never reach the slot, which may hold its replacement by then.)
    over: bool,
}

impl Pump {
    /// The pump of slot `slot` of `dispatcher`, whose connection `reader` reads, waiting as `wait`
    /// says. A thread worker's pipe gets a doorbell that takes its frames on the worker's thread.
    pub(super) fn new(reader: LinkReader, wait: Wait, dispatcher: Weak<Dispatcher>, slot: usize) -> Arc<Pump> {
        let taken = Mutex::new(Taken { reader, ended: None, over: false });
        let pump = Arc::new(Pump { taken, wait, dispatcher, slot });
        if let Wait::Doorbell(end, _) = &pump.wait {
            let me = Arc::downgrade(&pump);
            let rung = end.set_doorbell(Box::new(move || ring(&me)));
            debug_assert!(rung.is_ok(), "a fresh pipe has no doorbell");
        }
        pump
    }

    /// Whether callers may lead this connection (then the slot hands them the pump as a `Lead`).
    pub(super) fn led(&self) -> bool {
        self.lease().is_some()
    }

    fn lock(&self) -> MutexGuard<'_, Taken> {
        self.taken.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes what has arrived whole unless another thread is taking frames.
    fn take_arrived(&self) -> Took {
        let Some(d) = self.dispatcher.upgrade() else { return Took::Ended };
        let mut taken = match self.taken.try_lock() {
            Ok(taken) => taken,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return Took::Busy,
        };
        if taken.over {
            return Took::Ended;
        }
        match taken.drain(&d, self.slot) {
            None => Took::All,
            Some(ended) => {
                taken.ended = Some(ended);
                Took::Ended
            }
        }
    }

    /// The lease callers hold while they lead, if they may.
    fn lease(&self) -> Option<&Lease> {
        match &self.wait {
            Wait::Read => None,
            Wait::Led(leases) => Some(&leases.lease),
            Wait::Doorbell(_, lease) => Some(lease),
        }
    }

    /// Ends the lease and wakes the reader thread.
    fn end_lease(&self) {
        match &self.wait {
            Wait::Read => {}
            Wait::Led(leases) => {
                leases.lease.end();
                leases.bell.ring();
            }
            Wait::Doorbell(end, lease) => {
                lease.end();
                end.ring();
            }
        }
    }

    /// Takes the connection's events for slot `slot` until it ends (the reader thread's loop).
    pub(super) fn run(&self, d: &Dispatcher, slot: usize) -> Ended {
        debug_assert_eq!(slot, self.slot);
        loop {
            let ended = match &self.wait {
                // Nobody else reads the socket, so the wait is a read.
                Wait::Read => {
                    let mut taken = self.lock();
                    let event = taken.reader.next();
                    step(d, slot, event)
                }
                Wait::Led(leases) => {
                    let ended = self.lock().drain(d, slot);
                    if ended.is_none() {
                        rest(leases);
                    }
                    ended
                }
                Wait::Doorbell(end, lease) => {
                    match lease.left() {
                        // A leader takes what comes: wait for it to step down (or be gone).
                        Some(left) => end.wait_rung(left),
                        None => end.wait_readable(),
                    }
                    self.lock().drain(d, slot)
                }
            };
            if let Some(ended) = ended {
                return ended;
            }
        }
    }
}

/// The reader thread of a led socket waits: for the end alone while a lease runs; otherwise for
/// bytes, spinning first (see `crate::spin`) as a blocking read would.
fn rest(leases: &Leases) {
    if let Some(left) = leases.lease.left() {
        leases.bell.wait(&leases.socket, For::End, Some(left));
        return;
    }
    let arrived = crate::spin::spin(|| {
        (crate::sys::channel::readable(&leases.socket) || leases.lease.left().is_some()).then_some(())
    });
    if arrived.is_none() {
        leases.bell.wait(&leases.socket, For::Data, None);
    }
}

/// A caller waiting for an answer takes its worker's frames (see the module docs).
impl Lead for Pump {
    fn lead(&self) {
        let Some(lease) = self.lease() else { return };
        lease.renew();
        if self.take_arrived() == Took::Ended {
            self.end_lease();
        }
    }

    fn step_down(&self, answered: bool) {
        if self.lease().is_none() {
            return;
        }
        let idle =
            answered && self.dispatcher.upgrade().is_some_and(|d| d.lock().slots[self.slot].in_flight.is_empty());
        if !idle {
            self.end_lease();
        }
    }
}

impl Taken {
    /// Takes every event that has arrived whole; the end of the connection if one was (or had
    /// been) found.
    fn drain(&mut self, d: &Dispatcher, slot: usize) -> Option<Ended> {
        if let Some(ended) = self.ended.take() {
            return Some(ended);
        }
        if self.over {
            return None;
        }
        while let Some(event) = self.reader.try_next() {
            if let Some(ended) = step(d, slot, event) {
                self.over = true;
                return Some(ended);
            }
        }
        None
    }
}

/// The doorbell of a thread worker's pipe, rung on the worker's thread after each write: leaves
/// what arrived to a caller that leads (a lease runs), or takes what arrived whole unless another
/// thread is taking frames (then, or at the connection's end, returns `false` and the reader
/// thread is woken).
fn ring(pump: &Weak<Pump>) -> bool {
    let Some(pump) = pump.upgrade() else { return false };
    if let Wait::Doorbell(_, lease) = &pump.wait {
        fence(Ordering::SeqCst);
        if lease.left().is_some() {
            return true;
        }
    }
    pump.take_arrived() == Took::All
}

/// What one event does to the pool; the end of the connection if it ends it.
fn step(d: &Dispatcher, slot: usize, event: Event) -> Option<Ended> {
    match event {
        Event::Done { outcomes, busy } => {
            let mut st = d.lock();
            let Some(job) = st.slots[slot].answered(busy) else {
                return Some(Ended { why: "sent a result nobody asked for".into(), partial: Vec::new() });
            };
            let mut touched = d.dispatch(&mut st);
            touched.extend(exit_idle(&mut st));
            d.flush(st, &touched);
            job.complete(outcomes);
            None
        }
        Event::Progress { loaded } => {
            d.lock().slots[slot].progressed(loaded);
            None
        }
        Event::Closed { why, partial } => Some(Ended { why, partial }),
    }
}
