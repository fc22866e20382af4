//! Waiting on a word of shared memory, across processes: shared (not process-private) futexes.

use rustix::thread::futex::{self, Flags, Timespec};
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `word` holds `expected`, at most `timeout`; returns early on a wake-up, a change
/// or a signal (callers re-check their condition).
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts =
        timeout.map(|t| Timespec { tv_sec: t.as_secs().min(i64::MAX as u64) as i64, tv_nsec: t.subsec_nanos().into() });
    // Shared: the word is in a MAP_SHARED mapping other processes wait on too. EAGAIN (the word
    // changed), ETIMEDOUT and EINTR all mean "look again".
    let _ = futex::wait(word, Flags::empty(), expected, ts.as_ref());
}

/// Wakes up to `count` processes or threads waiting on `word`; returns how many woke.
pub(crate) fn wake(word: &AtomicU32, count: u32) -> u32 {
    futex::wake(word, Flags::empty(), count.min(i32::MAX as u32)).map_or(0, |n| n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    #[test]
    fn a_waiter_sleeps_until_woken_or_its_timeout() {
        let word = Arc::new(AtomicU32::new(0));
        let start = Instant::now();
        wait(&word, 0, Some(Duration::from_millis(20)));
        assert!(start.elapsed() >= Duration::from_millis(15), "slept until the timeout");
        wait(&word, 1, None); // not 1: returns at once
        let w = word.clone();
        let waiter = std::thread::spawn(move || {
            while w.load(Ordering::SeqCst) == 0 {
                wait(&w, 0, None);
            }
        });
        word.store(1, Ordering::SeqCst);
        while !waiter.is_finished() {
            wake(&word, 1);
            std::thread::yield_now();
        }
        waiter.join().unwrap();
    }
}
