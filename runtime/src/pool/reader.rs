//! The reader thread of one slot: takes its worker's events (see `pump`) and replaces the worker
//! when its connection ends; returns when the pool no longer needs a worker there.

use super::dispatcher::{Conn, Dispatcher};

/// Runs the slot's reader until the pool is done with the slot.
pub(super) fn run(d: &Dispatcher, slot: usize, mut conn: Conn) {
    loop {
        let ended = conn.pump.run(d, slot);
        match d.replace(slot, conn, &ended.why, ended.partial) {
            Some(next) => conn = next,
            None => return,
        }
    }
}
