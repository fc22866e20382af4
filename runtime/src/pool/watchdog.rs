//! The last resort for inputs stuck where epoch interruption cannot reach (inside a host call): a
//! thread that kills workers whose current chunk overran the timeout per input plus a second of
//! grace. Their reader then fails the chunk with `Timeout` and replaces them.

use super::dispatcher::{Dispatcher, Lifecycle};
use super::slot::Phase;
use crate::spawn::SIGKILL;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How long past its timeout a chunk may run before its worker is killed.
const GRACE: Duration = Duration::from_secs(1);

/// How often the watchdog looks.
const PERIOD: Duration = Duration::from_millis(50);

/// Starts the watchdog of `dispatcher`; it ends with the pool.
pub(super) fn start(dispatcher: &Arc<Dispatcher>, timeout: Duration) {
    let weak = Arc::downgrade(dispatcher);
    std::thread::Builder::new()
        .name(format!("wasmproc-{}-watchdog", dispatcher.pool_name))
        .spawn(move || watch(&weak, timeout))
        .expect("spawn a pool watchdog thread");
}

fn watch(dispatcher: &Weak<Dispatcher>, timeout: Duration) {
    loop {
        std::thread::sleep(PERIOD);
        let Some(d) = dispatcher.upgrade() else { return };
        let mut st = d.lock();
        let working = st.slots.iter().any(|s| matches!(s.phase, Phase::Live { .. }));
        if st.lifecycle == Lifecycle::Terminated || (st.lifecycle == Lifecycle::Closed && !working) {
            return;
        }
        for s in &mut st.slots {
            if !s.overran(timeout, GRACE) {
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
