//! Waiting on a 32-bit word of shared memory, across processes (the lock words of `shm::raw::words`
//! and `SharedMemory::wait_u32`). `wait` may return early: callers re-check their condition.
//!
//! - Linux: shared (not process-private) futexes.
//! - macOS: `os_sync_wait_on_address` with the shared flag (macOS 14.4 or later).
//! - Windows: no wait-on-address works across processes (`WaitOnAddress` is per process), so a
//!   waiter polls the word: it yields for the first 50 µs, then sleeps 0.5 ms
//!   between looks, and returns at the latest after [`POLL_RETURN`] as a spurious wake-up. `wake`
//!   is then a no-op that reports 0 woken. A hand-over costs up to a sleep more than on Linux.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `word` holds `expected`, at most `timeout`; returns early on a wake-up, a change
/// or a signal (callers re-check their condition).
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    imp::wait(word, expected, timeout)
}

/// Wakes up to `count` processes or threads waiting on `word`; returns how many woke (as far as
/// the platform tells).
pub(crate) fn wake(word: &AtomicU32, count: u32) -> u32 {
    imp::wake(word, count)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use rustix::thread::futex::{self, Flags, Timespec};
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    pub(super) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        let ts = timeout
            .map(|t| Timespec { tv_sec: t.as_secs().min(i64::MAX as u64) as i64, tv_nsec: t.subsec_nanos().into() });
        // Shared: the word is in a MAP_SHARED mapping other processes wait on too. EAGAIN (the word
        // changed), ETIMEDOUT and EINTR all mean "look again".
        let _ = futex::wait(word, Flags::empty(), expected, ts.as_ref());
    }

    pub(super) fn wake(word: &AtomicU32, count: u32) -> u32 {
        futex::wake(word, Flags::empty(), count.min(i32::MAX as u32)).map_or(0, |n| n as u32)
    }
}

#[cfg(target_vendor = "apple")]
mod imp {
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    pub(super) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        let addr = word.as_ptr().cast::<libc::c_void>();
        let shared = libc::OS_SYNC_WAIT_ON_ADDRESS_SHARED;
        // SAFETY: `addr` points to a live, aligned 4-byte atomic for the whole call; the kernel
        // only compares it with `expected`. Errors (the value changed, timeout, interrupt) all
        // mean "look again".
        let _ = unsafe {
            match timeout {
                None => libc::os_sync_wait_on_address(addr, expected.into(), 4, shared),
                Some(t) => {
                    let ns = u64::try_from(t.as_nanos()).unwrap_or(u64::MAX).max(1);
                    libc::os_sync_wait_on_address_with_timeout(
                        addr,
                        expected.into(),
                        4,
                        shared,
                        libc::OS_CLOCK_MACH_ABSOLUTE_TIME,
                        ns,
                    )
                }
            }
        };
    }

    pub(super) fn wake(word: &AtomicU32, count: u32) -> u32 {
        let addr = word.as_ptr().cast::<libc::c_void>();
        let shared = libc::OS_SYNC_WAKE_BY_ADDRESS_SHARED;
        // SAFETY: as in `wait`; waking has no effect on memory.
        let r = unsafe {
            if count > 1 {
                libc::os_sync_wake_by_address_all(addr, 4, shared)
            } else {
                libc::os_sync_wake_by_address_any(addr, 4, shared)
            }
        };
        // The call does not say how many woke, only whether anyone did.
        u32::from(r == 0 && count > 0)
    }
}

/// How long a polling wait lasts at most before it returns as if woken.
#[cfg(windows)]
pub(crate) const POLL_RETURN: Duration = Duration::from_millis(10);

#[cfg(windows)]
mod imp {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{Duration, Instant};

    pub(super) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
        let start = Instant::now();
        let limit = timeout.unwrap_or(super::POLL_RETURN).min(super::POLL_RETURN);
        while word.load(Ordering::SeqCst) == expected {
            let waited = start.elapsed();
            if waited >= limit {
                return;
            }
            if waited < Duration::from_micros(50) {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(500).min(limit - waited));
            }
        }
    }

    pub(super) fn wake(_word: &AtomicU32, _count: u32) -> u32 {
        0
    }
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
        // (A polling wait returns after at most POLL_RETURN, as if woken.)
        #[cfg(windows)]
        let slept = POLL_RETURN - Duration::from_millis(2);
        #[cfg(not(windows))]
        let slept = Duration::from_millis(15);
        assert!(start.elapsed() >= slept, "slept until the timeout");
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
