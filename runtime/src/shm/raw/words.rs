//! Synchronization primitives on words of a shared region, shared by the host API and the
//! worker's `sync` interface: the same code runs wherever the region is mapped, so a lock taken in
//! a guest and one taken in the host are the same lock.
//!
//! Every primitive is a few 32-bit words at an offset (layouts below). Waiting uses shared futexes
//! in slices of at most [`SLICE`], so a waiter re-checks its deadline, and a lock waiter notices
//! that the owner died, even if nobody wakes it.
//!
//! Owners are thread numbers (`sys::thread`: the thread id on Linux and Windows): a guest runs on
//! its worker's main thread, so each worker is one owner, and host threads are owners of their
//! own. A lock whose owner no longer exists is taken over by the next acquirer, which is told so
//! (`Acquired::OwnerDied`) — robust-mutex semantics: the data it guards may be half-updated. (A
//! thread id reused by a new thread within the slice could hide a death; Linux recycles ids only
//! after wrapping around `pid_max`.)

use super::region::Region;
use crate::sys::{futex, thread};
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::{Duration, Instant};
use wasmproc_wire::{Acquired, SyncFault};

/// Longest sleep between checks.
pub(crate) const SLICE: Duration = Duration::from_millis(50);
/// How many times a lock acquirer re-reads a held lock before it sleeps.
const SPINS: u32 = 200;
/// Set in a lock word while someone waits for it.
const WAITERS: u32 = 1 << 31;

/// The next sleep: up to the deadline, at most one slice; `None` once the deadline passed.
fn slice(deadline: Option<Instant>) -> Option<Duration> {
    match deadline {
        None => Some(SLICE),
        Some(d) => {
            let now = Instant::now();
            (now < d).then(|| (d - now).min(SLICE))
        }
    }
}

/// A plain lock at `offset` (Python's `Lock`; any thread may release it).
pub(crate) fn lock_acquire(r: &Region, offset: u64, deadline: Option<Instant>) -> Result<Acquired, SyncFault> {
    let word = r.word32(offset)?;
    acquire_word(word, deadline)
}

fn acquire_word(word: &AtomicU32, deadline: Option<Instant>) -> Result<Acquired, SyncFault> {
    let me = thread::id();
    // After having waited, take the lock with WAITERS set: others may still be asleep.
    let mut mark = 0;
    let mut spins = 0;
    loop {
        let cur = word.load(SeqCst);
        if cur == 0 {
            if word.compare_exchange(0, me | mark, SeqCst, SeqCst).is_ok() {
                return Ok(Acquired::Clean);
            }
            continue;
        }
        // Held: spin a little first (critical sections are short; a futex sleep and wake-up cost
        // tens of microseconds), then check the owner and sleep.
        if spins < SPINS && cur & WAITERS == 0 {
            spins += 1;
            std::hint::spin_loop();
            continue;
        }
        let owner = cur & !WAITERS;
        if owner != 0 && !thread::alive(owner) {
            if word.compare_exchange(cur, me | (cur & WAITERS), SeqCst, SeqCst).is_ok() {
                return Ok(Acquired::OwnerDied);
            }
            continue;
        }
        let Some(wait) = slice(deadline) else { return Err(SyncFault::Timeout) };
        if cur & WAITERS == 0 && word.compare_exchange(cur, cur | WAITERS, SeqCst, SeqCst).is_err() {
            continue;
        }
        futex::wait(word, cur | WAITERS, Some(wait));
        mark = WAITERS;
    }
}

pub(crate) fn lock_release(r: &Region, offset: u64) -> Result<(), SyncFault> {
    let word = r.word32(offset)?;
    release_word(word)
}

fn release_word(word: &AtomicU32) -> Result<(), SyncFault> {
    let prev = word.swap(0, SeqCst);
    if prev == 0 {
        return Err(SyncFault::NotHeld);
    }
    if prev & WAITERS != 0 {
        futex::wake(word, 1);
    }
    Ok(())
}

/// Whether the lock is held by anyone.
pub(crate) fn lock_is_held(r: &Region, offset: u64) -> Result<bool, SyncFault> {
    Ok(r.word32(offset)?.load(SeqCst) != 0)
}

/// A reentrant lock (Python's `RLock`): the owner may acquire it again; it must release it as
/// many times.
pub(crate) fn rlock_acquire(r: &Region, offset: u64, deadline: Option<Instant>) -> Result<Acquired, SyncFault> {
    let word = r.word32(offset)?;
    let count = r.word32(offset + 4)?;
    if word.load(SeqCst) & !WAITERS == thread::id() {
        count.fetch_add(1, SeqCst);
        return Ok(Acquired::Clean);
    }
    let how = acquire_word(word, deadline)?;
    count.store(1, SeqCst);
    Ok(how)
}

pub(crate) fn rlock_release(r: &Region, offset: u64) -> Result<(), SyncFault> {
    let word = r.word32(offset)?;
    let count = r.word32(offset + 4)?;
    if word.load(SeqCst) & !WAITERS != thread::id() {
        return Err(SyncFault::NotHeld);
    }
    if count.fetch_sub(1, SeqCst) == 1 {
        release_word(word)?;
    }
    Ok(())
}

/// Initializes a semaphore with `value`; `max` bounds releases (`BoundedSemaphore`), 0 for none.
pub(crate) fn semaphore_init(r: &Region, offset: u64, value: u32, max: u32) -> Result<(), SyncFault> {
    r.word32(offset)?.store(value, SeqCst);
    r.word32(offset + 8)?.store(max, SeqCst);
    Ok(())
}

pub(crate) fn semaphore_acquire(r: &Region, offset: u64, deadline: Option<Instant>) -> Result<(), SyncFault> {
    let value = r.word32(offset)?;
    let waiters = r.word32(offset + 4)?;
    loop {
        let v = value.load(SeqCst);
        if v > 0 {
            if value.compare_exchange(v, v - 1, SeqCst, SeqCst).is_ok() {
                return Ok(());
            }
            continue;
        }
        let Some(wait) = slice(deadline) else { return Err(SyncFault::Timeout) };
        waiters.fetch_add(1, SeqCst);
        futex::wait(value, 0, Some(wait));
        waiters.fetch_sub(1, SeqCst);
    }
}

pub(crate) fn semaphore_release(r: &Region, offset: u64) -> Result<(), SyncFault> {
    let value = r.word32(offset)?;
    let waiters = r.word32(offset + 4)?;
    let max = r.word32(offset + 8)?.load(SeqCst);
    loop {
        let v = value.load(SeqCst);
        if max != 0 && v >= max {
            return Err(SyncFault::TooManyReleases);
        }
        if value.compare_exchange(v, v + 1, SeqCst, SeqCst).is_ok() {
            break;
        }
    }
    if waiters.load(SeqCst) > 0 {
        futex::wake(value, 1);
    }
    Ok(())
}

pub(crate) fn semaphore_value(r: &Region, offset: u64) -> Result<u32, SyncFault> {
    Ok(r.word32(offset)?.load(SeqCst))
}

pub(crate) fn event_set(r: &Region, offset: u64) -> Result<(), SyncFault> {
    let flag = r.word32(offset)?;
    flag.store(1, SeqCst);
    futex::wake(flag, u32::MAX);
    Ok(())
}

pub(crate) fn event_clear(r: &Region, offset: u64) -> Result<(), SyncFault> {
    r.word32(offset)?.store(0, SeqCst);
    Ok(())
}

pub(crate) fn event_is_set(r: &Region, offset: u64) -> Result<bool, SyncFault> {
    Ok(r.word32(offset)?.load(SeqCst) != 0)
}

/// Waits until the event is set; returns whether it is (false: the deadline passed).
pub(crate) fn event_wait(r: &Region, offset: u64, deadline: Option<Instant>) -> Result<bool, SyncFault> {
    let flag = r.word32(offset)?;
    loop {
        if flag.load(SeqCst) != 0 {
            return Ok(true);
        }
        let Some(wait) = slice(deadline) else { return Ok(false) };
        futex::wait(flag, 0, Some(wait));
    }
}

/// Waits on a condition (its reentrant lock is at `offset`, held by the caller): releases the
/// lock, sleeps until notified or the deadline, takes the lock back. Returns false on timeout.
/// As with POSIX condition variables, a notify may wake more waiters than asked; callers check
/// their predicate in a loop (`wait_for`).
pub(crate) fn condition_wait(r: &Region, offset: u64, deadline: Option<Instant>) -> Result<bool, SyncFault> {
    let word = r.word32(offset)?;
    let count = r.word32(offset + 4)?;
    let seq = r.word32(offset + 8)?;
    if word.load(SeqCst) & !WAITERS != thread::id() {
        return Err(SyncFault::NotHeld);
    }
    let start = seq.load(SeqCst);
    let depth = count.swap(0, SeqCst);
    release_word(word)?;
    let notified = loop {
        if seq.load(SeqCst) != start {
            break true;
        }
        let Some(wait) = slice(deadline) else { break false };
        futex::wait(seq, start, Some(wait));
    };
    acquire_word(word, None)?;
    count.store(depth, SeqCst);
    Ok(notified)
}

/// Wakes up to `n` waiters of the condition (the caller holds its lock).
pub(crate) fn condition_notify(r: &Region, offset: u64, n: u32) -> Result<(), SyncFault> {
    let word = r.word32(offset)?;
    let seq = r.word32(offset + 8)?;
    if word.load(SeqCst) & !WAITERS != thread::id() {
        return Err(SyncFault::NotHeld);
    }
    seq.fetch_add(1, SeqCst);
    futex::wake(seq, n);
    Ok(())
}

pub(crate) fn barrier_init(r: &Region, offset: u64, parties: u32) -> Result<(), SyncFault> {
    r.word32(offset)?.store(parties, SeqCst);
    Ok(())
}

/// Waits until `parties` callers wait; returns this caller's arrival index (0..parties). A
/// timeout breaks the barrier for everyone, as in Python.
pub(crate) fn barrier_wait(r: &Region, offset: u64, deadline: Option<Instant>) -> Result<u32, SyncFault> {
    let parties = r.word32(offset)?.load(SeqCst);
    let count = r.word32(offset + 4)?;
    let state = r.word32(offset + 8)?;
    let entered = state.load(SeqCst);
    if entered & 1 != 0 {
        return Err(SyncFault::Broken);
    }
    let index = count.fetch_add(1, SeqCst);
    if index + 1 >= parties {
        count.store(0, SeqCst);
        state.fetch_add(2, SeqCst);
        futex::wake(state, u32::MAX);
        return Ok(index);
    }
    loop {
        let now = state.load(SeqCst);
        if now >> 1 != entered >> 1 {
            return Ok(index);
        }
        if now & 1 != 0 {
            return Err(SyncFault::Broken);
        }
        let Some(wait) = slice(deadline) else {
            state.fetch_or(1, SeqCst);
            futex::wake(state, u32::MAX);
            return Err(SyncFault::Timeout);
        };
        futex::wait(state, now, Some(wait));
    }
}

/// Breaks the barrier: current and future waiters fail until `barrier_reset`.
pub(crate) fn barrier_abort(r: &Region, offset: u64) -> Result<(), SyncFault> {
    let state = r.word32(offset + 8)?;
    state.fetch_or(1, SeqCst);
    futex::wake(state, u32::MAX);
    Ok(())
}

/// Returns the barrier to its empty, unbroken state (current waiters fail).
pub(crate) fn barrier_reset(r: &Region, offset: u64) -> Result<(), SyncFault> {
    let count = r.word32(offset + 4)?;
    let state = r.word32(offset + 8)?;
    state.fetch_or(1, SeqCst);
    futex::wake(state, u32::MAX);
    count.store(0, SeqCst);
    let s = state.load(SeqCst);
    state.store(((s >> 1) + 1) << 1, SeqCst);
    Ok(())
}

/// Callers waiting at the barrier now.
pub(crate) fn barrier_waiting(r: &Region, offset: u64) -> Result<u32, SyncFault> {
    Ok(r.word32(offset + 4)?.load(SeqCst))
}

pub(crate) fn barrier_parties(r: &Region, offset: u64) -> Result<u32, SyncFault> {
    Ok(r.word32(offset)?.load(SeqCst))
}

pub(crate) fn barrier_is_broken(r: &Region, offset: u64) -> Result<bool, SyncFault> {
    Ok(r.word32(offset + 8)?.load(SeqCst) & 1 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn region(tag: &str, len: usize) -> Arc<Region> {
        Arc::new(Region::create(&format!("/wasmproc-test-{}-{tag}", std::process::id()), len, true).unwrap())
    }

    #[test]
    fn lock_counts_exactly_and_times_out() {
        let r = region("lock", 64);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        lock_acquire(&r, 0, None).unwrap();
                        let v = r.load(8, 8).unwrap();
                        r.store(8, 8, v + 1).unwrap();
                        lock_release(&r, 0).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(r.load(8, 8).unwrap(), 8000);
        lock_acquire(&r, 0, None).unwrap();
        let r2 = r.clone();
        let soon = Instant::now() + Duration::from_millis(30);
        let other = std::thread::spawn(move || lock_acquire(&r2, 0, Some(soon)));
        assert_eq!(other.join().unwrap(), Err(SyncFault::Timeout));
        lock_release(&r, 0).unwrap();
        assert_eq!(lock_release(&r, 0), Err(SyncFault::NotHeld));
    }

    #[test]
    fn a_lock_whose_owner_died_is_taken_over_and_says_so() {
        let r = region("robust", 64);
        let r2 = r.clone();
        // A thread takes the lock and exits holding it.
        std::thread::spawn(move || lock_acquire(&r2, 0, None).unwrap()).join().unwrap();
        assert_eq!(lock_acquire(&r, 0, Some(Instant::now() + Duration::from_secs(5))), Ok(Acquired::OwnerDied));
        lock_release(&r, 0).unwrap();
        assert_eq!(lock_acquire(&r, 0, None), Ok(Acquired::Clean));
    }

    #[test]
    fn rlock_semaphore_event_condition_barrier() {
        let r = region("prims", 256);
        rlock_acquire(&r, 0, None).unwrap();
        rlock_acquire(&r, 0, None).unwrap();
        rlock_release(&r, 0).unwrap();
        assert!(lock_is_held(&r, 0).unwrap());
        rlock_release(&r, 0).unwrap();
        assert!(!lock_is_held(&r, 0).unwrap());
        assert_eq!(rlock_release(&r, 0), Err(SyncFault::NotHeld));

        semaphore_init(&r, 16, 1, 1).unwrap();
        semaphore_acquire(&r, 16, None).unwrap();
        assert_eq!(semaphore_acquire(&r, 16, Some(Instant::now())), Err(SyncFault::Timeout));
        semaphore_release(&r, 16).unwrap();
        assert_eq!(semaphore_release(&r, 16), Err(SyncFault::TooManyReleases));

        assert!(!event_wait(&r, 32, Some(Instant::now() + Duration::from_millis(10))).unwrap());
        let r2 = r.clone();
        let waiter = std::thread::spawn(move || event_wait(&r2, 32, None).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        event_set(&r, 32).unwrap();
        assert!(waiter.join().unwrap());

        // Condition at 48: a waiter is notified.
        let r2 = r.clone();
        let waiter = std::thread::spawn(move || {
            rlock_acquire(&r2, 48, None).unwrap();
            let notified = condition_wait(&r2, 48, Some(Instant::now() + Duration::from_secs(10))).unwrap();
            rlock_release(&r2, 48).unwrap();
            notified
        });
        std::thread::sleep(Duration::from_millis(50));
        rlock_acquire(&r, 48, None).unwrap();
        condition_notify(&r, 48, 1).unwrap();
        rlock_release(&r, 48).unwrap();
        assert!(waiter.join().unwrap());

        // Barrier at 64 for 3.
        barrier_init(&r, 64, 3).unwrap();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || barrier_wait(&r, 64, None).unwrap())
            })
            .collect();
        let mut idx: Vec<u32> = waiters.into_iter().map(|t| t.join().unwrap()).collect();
        idx.sort();
        assert_eq!(idx, vec![0, 1, 2]);
        assert_eq!(barrier_wait(&r, 64, Some(Instant::now() + Duration::from_millis(10))), Err(SyncFault::Timeout));
        assert_eq!(barrier_wait(&r, 64, None), Err(SyncFault::Broken));
        barrier_reset(&r, 64).unwrap();
        assert!(!barrier_is_broken(&r, 64).unwrap());
    }
}
