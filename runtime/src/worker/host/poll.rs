//! `wasi:io/poll` with the task's deadline. wasmtime-wasi's own `poll` and `pollable.block` wait
//! as long as the guest asks (a `std::thread::sleep(30 s)` is a `block` on a 30 s timer), and
//! epochs cannot interrupt a guest that is inside a host call. These replacements run the same
//! waits raced against the input's deadline and, in a thread worker, its stop switch: when
//! either comes first the call traps as an interrupt, which the worker reports as the input's
//! `Timeout` (or, stopped, the pool already knows why). The instance is discarded like after any
//! trap; the worker goes on.
//!
//! Everything a guest can wait on indefinitely in this sandbox (timers, stdin, streams) waits
//! through these two calls, except opening or reading a FIFO in a granted directory, which
//! wasmtime-wasi runs as a blocking system call. That one is left to the pool's watchdog.

use super::super::GuestState;
use super::super::Stop;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::io::poll::{Host as _, HostPollable as _};

/// The `wasi:io/poll` version wasmtime-wasi defines (guests importing any 0.2.x link to it).
const INTERFACE: &str = "wasi:io/poll@0.2.12";

/// How often a wait without a nearer deadline looks at a thread worker's stop switch.
const STOP_PERIOD: Duration = Duration::from_millis(20);

/// Replaces wasmtime-wasi's `poll` and `pollable.block` in `linker` with bounded ones.
pub(super) fn add_to_linker(linker: &mut Linker<GuestState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut poll = linker.instance(INTERFACE)?;
    poll.func_wrap("poll", |mut store: StoreContextMut<'_, GuestState>, (list,): (Vec<Resource<DynPollable>>,)| {
        let (bound, table) = split(store.data_mut());
        let ready = bounded(bound, table.poll(list))??;
        Ok((ready,))
    })?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, GuestState>, (pollable,): (Resource<DynPollable>,)| {
            let (bound, table) = split(store.data_mut());
            bounded(bound, table.block(pollable))?
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// What ends a wait early: the input's deadline, a thread worker's stop switch.
struct Bound {
    deadline: Option<Instant>,
    stop: Option<Arc<Stop>>,
}

impl Bound {
    /// Whether the wait must end now.
    fn reached(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d) || self.stop.as_ref().is_some_and(|s| s.stopped())
    }

    /// How long to sleep before looking again (`None`: nothing bounds the wait).
    fn next_look(&self, now: Instant) -> Option<Duration> {
        let to_deadline = self.deadline.map(|d| d.saturating_duration_since(now));
        match (to_deadline, &self.stop) {
            (Some(d), Some(_)) => Some(d.min(STOP_PERIOD)),
            (Some(d), None) => Some(d),
            (None, Some(_)) => Some(STOP_PERIOD),
            (None, None) => None,
        }
    }
}

fn split(state: &mut GuestState) -> (Bound, &mut ResourceTable) {
    let bound = Bound { deadline: state.deadline, stop: state.stop.clone() };
    (bound, state.ctx().table)
}

/// Runs `wait` to completion unless `bound` is reached first; then traps as an interrupt.
fn bounded<T>(bound: Bound, wait: impl Future<Output = T>) -> wasmtime::Result<T> {
    if bound.next_look(Instant::now()).is_none() {
        return Ok(wasmtime_wasi::runtime::in_tokio(wait));
    }
    let limit = async {
        loop {
            let now = Instant::now();
            if bound.reached(now) {
                return;
            }
            // Not `None`: checked above, and a bound never goes away.
            tokio::time::sleep(bound.next_look(now).unwrap_or(STOP_PERIOD)).await;
        }
    };
    wasmtime_wasi::runtime::in_tokio(async {
        tokio::select! {
            biased;
            done = wait => Ok(done),
            () = limit => Err(wasmtime::Trap::Interrupt.into()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_ends_at_its_deadline_or_when_stopped() {
        let now = Instant::now();
        let open = Bound { deadline: None, stop: None };
        assert_eq!(open.next_look(now), None);
        assert!(!open.reached(now));

        let timed = Bound { deadline: Some(now + Duration::from_secs(1)), stop: None };
        assert_eq!(timed.next_look(now), Some(Duration::from_secs(1)));
        assert!(!timed.reached(now));
        assert!(timed.reached(now + Duration::from_secs(1)));

        let stop = Arc::new(Stop::default());
        let thread = Bound { deadline: Some(now + Duration::from_secs(1)), stop: Some(stop.clone()) };
        assert_eq!(thread.next_look(now), Some(STOP_PERIOD), "a thread worker looks at its switch");
        assert!(!thread.reached(now));
        stop.stop(15);
        assert!(thread.reached(now));
    }

    #[test]
    fn a_wait_past_its_deadline_traps_as_an_interrupt_and_one_within_it_returns() {
        let soon = Bound { deadline: Some(Instant::now() + Duration::from_millis(30)), stop: None };
        let start = Instant::now();
        let err = bounded(soon, async { tokio::time::sleep(Duration::from_secs(30)).await }).unwrap_err();
        assert_eq!(err.downcast_ref::<wasmtime::Trap>(), Some(&wasmtime::Trap::Interrupt));
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());

        let later = Bound { deadline: Some(Instant::now() + Duration::from_secs(30)), stop: None };
        assert_eq!(bounded(later, async { 7 }).unwrap(), 7);
        assert_eq!(bounded(Bound { deadline: None, stop: None }, async { 8 }).unwrap(), 8);
    }
}
