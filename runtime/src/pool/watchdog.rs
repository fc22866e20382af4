//! Stopping workers whose input overran the pool's timeout. Two cases:
//! - Worker processes run the fast engine (no epoch checks) and report progress after each input
//!   (`FromWorker::Progress`): the watchdog kills one whose current input has run `timeout` since
//!   the last report arrived, plus [`KILL_GRACE`]. Its reader then answers the inputs it reported,
//!   fails the first one without a report with `Timeout`, and sends the rest again. That one ran
//!   at least `timeout` + [`KILL_GRACE`] − the worker's flush delay (500 µs): it started no later
//!   than the report before it arrived.
//! - Thread workers (and metered pools) interrupt inputs themselves with epochs; the watchdog is
//!   the last resort for one stuck where epochs cannot reach (a system call), after `timeout` per
//!   input of the chunk plus [`GRACE`].

use super::dispatcher::{Dispatcher, Lifecycle};
use super::slot::Phase;
use crate::spawn::SIGKILL;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How long past its timeout a chunk of an interruptible worker may run before it is killed.
const GRACE: Duration = Duration::from_secs(1);

/// How long past its timeout an input of a worker process is let run before it is killed: far
/// more than a progress report takes to be written, and time for a guest blocked in a host call
/// (which ends at the deadline by itself) to say so and keep its worker.
const KILL_GRACE: Duration = Duration::from_millis(50);

/// How often the watchdog looks, at most.
const PERIOD: Duration = Duration::from_millis(50);

/// Starts the watchdog of `dispatcher`; it ends with the pool.
pub(super) fn start(dispatcher: &Arc<Dispatcher>, timeout: Duration) {
    let weak = Arc::downgrade(dispatcher);
    let kills = dispatcher.options.kills_at_timeout();
    std::thread::Builder::new()
        .name(format!("wasmproc-{}-watchdog", dispatcher.pool_name))
        .spawn(move || watch(&weak, timeout, kills))
        .expect("spawn a pool watchdog thread");
}

fn watch(dispatcher: &Weak<Dispatcher>, timeout: Duration, kills: bool) {
    let allowed = |inputs: usize| match kills {
        true => timeout + KILL_GRACE,
        false => timeout * inputs as u32 + GRACE,
    };
    // Precise enough for the deadline it enforces, never busy.
    let period = match kills {
        true => (timeout / 10).clamp(Duration::from_millis(2), PERIOD),
        false => PERIOD,
    };
    loop {
        std::thread::sleep(period);
        let Some(d) = dispatcher.upgrade() else { return };
        let mut st = d.lock();
        let working = st.slots.iter().any(|s| matches!(s.phase, Phase::Live { .. }));
        if st.lifecycle == Lifecycle::Terminated || (st.lifecycle == Lifecycle::Closed && !working) {
            return;
        }
        for s in &mut st.slots {
            if !s.overran(allowed) {
                continue;
            }
            if let (Phase::Live { after }, Some(killer)) = (s.phase, &s.killer) {
                s.phase = Phase::Overran { after };
                // An unreaped worker (see `Slot`'s invariants).
                killer.kill(SIGKILL);
            }
        }
    }
}
