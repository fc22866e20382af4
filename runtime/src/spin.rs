//! Waiting without paying for a wakeup: spin briefly, yielding the CPU, then block.
//!
//! On the small VMs this runs on, waking a blocked thread costs 30–45 µs (the idle CPU has to be
//! woken), while the answer to a request usually arrives within a few µs. So every thread on the
//! call path — the caller (an `AsyncResult`, an executor `Future`, a host `get` on a queue or
//! pipe), the host's reader of a worker process's socket, and the worker's main thread — first
//! polls for [`SPIN`] and only then blocks. (A caller waiting on a thread worker, or on Linux on a
//! worker process, reads the worker's connection while it spins, and the reader thread rests: see
//! `pool::pump`.) The polls yield between tries: with more spinning threads than CPUs, a spinner that did not yield would keep the thread it waits for off the CPU.
//! (Measured with two threads ping-ponging over a socketpair: blocking 63–92 µs per round trip,
//! spinning 5–6 µs; three yielding spinners on two CPUs 9–10 µs, three that do not yield 117 µs.)

use crate::ipc::stream::Stream;
use std::io::{self, Read};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a waiter polls before it blocks.
pub(crate) const SPIN: Duration = Duration::from_micros(50);

/// Polls `ready` until it returns `Some` or [`SPIN`] has passed (yielding between polls).
pub(crate) fn spin<T>(mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = ready() {
            return Some(v);
        }
        if start.elapsed() >= SPIN {
            return None;
        }
        std::thread::yield_now();
    }
}

/// [`spin`] before a wait that would block until `deadline`; `None` at once if the deadline is
/// nearer than [`SPIN`] (such a wait is about to time out, not to be answered).
pub(crate) fn spin_before<T>(deadline: Option<Instant>, ready: impl FnMut() -> Option<T>) -> Option<T> {
    match deadline {
        Some(d) if d.saturating_duration_since(Instant::now()) < SPIN => None,
        _ => spin(ready),
    }
}

/// [`spin_before`] until what `state` guards is `ready` (looked at only when its lock is free, so a
/// spinning waiter never holds up the thread that makes it ready); returns whether it was.
pub(crate) fn spin_on<S>(deadline: Option<Instant>, state: &Mutex<S>, ready: impl Fn(&S) -> bool) -> bool {
    spin_before(deadline, || state.try_lock().ok().filter(|s| ready(s)).map(drop)).is_some()
}

/// A worker stream whose reads spin before they block.
#[derive(Debug)]
pub(crate) struct SpinReader(pub(crate) Stream);

impl Read for SpinReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match spin(|| self.0.try_read(&mut *buf)) {
            Some(read) => read,
            None => self.0.read_blocking(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_what_is_there_at_once_and_blocks_for_what_is_not() {
        let (a, mut b) = crate::sys::channel::pair().unwrap();
        let mut r = SpinReader(a.into());
        b.write_all(b"now").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut buf).unwrap(), 3);
        let writer = std::thread::spawn(move || {
            std::thread::sleep(SPIN * 4);
            b.write_all(b"later").unwrap();
            b
        });
        assert_eq!(r.read(&mut buf).unwrap(), 5, "past the spin, the read blocks until data comes");
        drop(writer.join().unwrap());
        assert_eq!(r.read(&mut buf).unwrap(), 0, "end of file");
    }

    #[test]
    fn spin_gives_up_after_its_budget() {
        let start = Instant::now();
        assert_eq!(spin(|| None::<()>), None);
        assert!(start.elapsed() >= SPIN);
        assert_eq!(spin(|| Some(7)), Some(7));
        let soon = Some(Instant::now() + SPIN / 2);
        assert_eq!(spin_before(soon, || Some(7)), None, "no spinning right before a deadline");
        assert_eq!(spin_before(None, || Some(7)), Some(7));
        let state = Mutex::new(3);
        assert!(spin_on(None, &state, |n| *n == 3));
        assert!(!spin_on(None, &state, |n| *n == 4));
    }
}
