//! The reader thread of one slot: answers chunks as their outcomes arrive, refills the worker, and
//! replaces it when its connection ends; returns when the pool no longer needs a worker there.

use super::dispatcher::{Conn, Dispatcher, exit_idle};
use crate::link::Event;

/// Runs the slot's reader until the pool is done with the slot.
pub(super) fn run(d: &Dispatcher, slot: usize, mut conn: Conn) {
    loop {
        let replaced = match conn.reader.next() {
            Event::Done { outcomes, busy } => {
                let mut st = d.lock();
                match st.slots[slot].answered(busy) {
                    Some(job) => {
                        let mut touched = d.dispatch(&mut st);
                        touched.extend(exit_idle(&mut st));
                        d.flush(st, &touched);
                        job.complete(outcomes);
                        continue;
                    }
                    None => {
                        drop(st);
                        d.replace(slot, conn, "sent a result nobody asked for", Vec::new())
                    }
                }
            }
            Event::Progress { loaded } => {
                d.lock().slots[slot].progressed(loaded);
                continue;
            }
            Event::Closed { why, partial } => d.replace(slot, conn, &why, partial),
        };
        match replaced {
            Some(next) => conn = next,
            None => return,
        }
    }
}
