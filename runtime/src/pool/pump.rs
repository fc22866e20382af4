//! Taking a worker's frames: who reads a slot's connection, and what each event does to the pool.
//!
//! A worker process's socket is read by the slot's reader thread (see `reader`), which blocks on
//! it. A thread worker's in-process pipe is read on the worker's own thread: the pipe's doorbell
//! (`ipc::memory::Doorbell`) rings after each write, and [`ring`] takes the frames there and then —
//! a `Done` is answered, the worker refilled and the caller's job completed before the worker
//! reads its next frame. Nothing else wakes or spins for an answer, so an `apply` on a thread
//! worker is two hand-offs (caller → worker → caller) between two threads. The reader thread only
//! waits, without the reader's lock, for what the doorbell leaves to it: the end of the
//! connection, or frames written while it held the lock.
//!
//! Invariants:
//! - events of one connection are taken in the order the worker wrote them, by one thread at a
//!   time, each under the pump's lock from reading to its effect on the pool: `Done`s answer the
//!   slot's oldest chunk, so two must never be applied out of order;
//! - once a connection's end is found (`Taken::ended`), nothing more is taken from it; the reader
//!   thread replaces the worker.
//!
//! Lock order: the pump's lock, then the dispatcher's. Nothing takes a pump's lock while holding
//! the dispatcher's.

use super::dispatcher::{Dispatcher, exit_idle};
use crate::ipc::memory;
use crate::link::{Event, LinkReader};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError, Weak};

/// How a connection ended: why, and the outcomes its worker reported as progress of the chunk it
/// was running.
pub(super) struct Ended {
    pub(super) why: String,
    pub(super) partial: Vec<u8>,
}

/// One connection's incoming side, shared by the reader thread and (a thread worker) the
/// worker's doorbell.
pub(super) struct Pump {
    taken: Mutex<Taken>,
    /// A thread worker's pipe end, where the reader thread waits for what the doorbell leaves.
    waiter: Option<memory::End>,
}

struct Taken {
    reader: LinkReader,
    /// The end, once found (by the doorbell: the reader thread acts on it).
    ended: Option<Ended>,
}

impl Pump {
    /// The pump of a connection read by `reader`. If `end` is a thread worker's pipe end, its
    /// doorbell takes the worker's frames on the worker's thread for slot `slot` of `dispatcher`.
    pub(super) fn new(
        reader: LinkReader,
        end: Option<memory::End>,
        dispatcher: Weak<Dispatcher>,
        slot: usize,
    ) -> Arc<Pump> {
        let pump = Arc::new(Pump { taken: Mutex::new(Taken { reader, ended: None }), waiter: end });
        if let Some(end) = &pump.waiter {
            let me = Arc::downgrade(&pump);
            let rung = end.set_doorbell(Box::new(move || ring(&me, &dispatcher, slot)));
            debug_assert!(rung.is_ok(), "a fresh pipe has no doorbell");
        }
        pump
    }

    fn lock(&self) -> MutexGuard<'_, Taken> {
        self.taken.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the connection's events for slot `slot` until it ends (the reader thread's loop).
    pub(super) fn run(&self, d: &Dispatcher, slot: usize) -> Ended {
        loop {
            let ended = match &self.waiter {
                // A socket: nobody else reads it, so the wait is a read.
                None => {
                    let mut taken = self.lock();
                    let event = taken.reader.next();
                    step(d, slot, event)
                }
                Some(end) => {
                    end.wait_readable();
                    self.lock().drain(d, slot)
                }
            };
            if let Some(ended) = ended {
                return ended;
            }
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
        while let Some(event) = self.reader.try_next() {
            if let Some(ended) = step(d, slot, event) {
                return Some(ended);
            }
        }
        None
    }
}

/// The doorbell of a thread worker's pipe, rung on the worker's thread after each write: takes
/// what arrived whole unless another thread is taking frames (then, or at the connection's end,
/// returns `false` and the reader thread is woken).
fn ring(pump: &Weak<Pump>, d: &Weak<Dispatcher>, slot: usize) -> bool {
    let (Some(pump), Some(d)) = (pump.upgrade(), d.upgrade()) else { return false };
    let mut taken = match pump.taken.try_lock() {
        Ok(taken) => taken,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return false,
    };
    if taken.ended.is_some() {
        return false;
    }
    match taken.drain(&d, slot) {
        None => true,
        Some(ended) => {
            taken.ended = Some(ended);
            false
        }
    }
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
