//! Deadlines of parked requests, served by one thread per broker (started on first use; it exits
//! once the broker is gone).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// Something holding parked requests that time out.
pub(super) trait Expire: Send + Sync {
    /// The deadline of parked request `id` passed: answer it, if it is still waiting.
    fn expire(&self, id: u64);
}

#[derive(Default)]
pub(super) struct Timers {
    next_id: AtomicU64,
    state: Mutex<TimerState>,
    changed: Condvar,
}

#[derive(Default)]
struct TimerState {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    owners: HashMap<u64, Weak<dyn Expire>>,
    started: bool,
}

impl Timers {
    /// A fresh id for a parked request.
    pub(super) fn waiter_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Calls `owner.expire(id)` at `deadline` (if the owner still exists then).
    pub(super) fn add(self: &Arc<Self>, deadline: Instant, id: u64, owner: Weak<dyn Expire>) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.heap.push(Reverse((deadline, id)));
        st.owners.insert(id, owner);
        if !st.started {
            st.started = true;
            let weak = Arc::downgrade(self);
            std::thread::Builder::new()
                .name("wasmproc-queue-timers".into())
                .spawn(move || timer_loop(weak))
                .expect("spawn the queue timer thread");
        }
        drop(st);
        self.changed.notify_one();
    }
}

fn timer_loop(timers: Weak<Timers>) {
    loop {
        let Some(t) = timers.upgrade() else { return };
        let mut st = t.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some(Reverse((deadline, id))) = st.heap.peek().copied() {
            if deadline > now {
                break;
            }
            st.heap.pop();
            if let Some(owner) = st.owners.remove(&id) {
                due.push((owner, id));
            }
        }
        if due.is_empty() {
            // Wake at the next deadline, and at least every second to notice the broker is gone.
            let wait = st.heap.peek().map_or(Duration::from_secs(1), |Reverse((d, _))| *d - now);
            let _ = t.changed.wait_timeout(st, wait.min(Duration::from_secs(1)));
            continue;
        }
        drop(st);
        for (owner, id) in due {
            if let Some(owner) = owner.upgrade() {
                owner.expire(id);
            }
        }
    }
}
