//! Python's synchronization primitives across processes: `Lock`, `RLock`, `Semaphore`,
//! `BoundedSemaphore`, `Event`, `Condition`, `Barrier`.
//!
//! Each object is a few words in a shared region (see `raw::words` for the algorithms, and
//! `wasmproc_wire::layout` for the words); passed to a task, it is the same object there
//! (`wasmproc_guest::Lock`, …, with the same methods).

use super::memory::anonymous;
use super::raw::Region;
use super::raw::words as prim;
use crate::context::Context;
use crate::error::Result;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmproc_wire::handle::ObjectHandle;
use wasmproc_wire::layout;
use wasmproc_wire::{AcquireError, Acquired, BarrierError, NotHeld, SyncFault, Timeout, TooManyReleases};

/// Where an object lives: a region and an offset in it.
#[derive(Clone)]
pub(super) struct Obj {
    pub(super) region: Arc<Region>,
    pub(super) offset: u64,
}

impl Obj {
    /// A fresh anonymous region of `size` bytes holding one object.
    fn new(ctx: &Context, size: u64) -> Result<Obj> {
        let _ = ctx; // made with its context, like every shared object (see `SharedMemory`)
        Ok(Obj { region: anonymous(size as usize)?, offset: 0 })
    }

    /// The handle a task receives; the region stays alive with the call being encoded.
    pub(super) fn handle_for_call(&self) -> ObjectHandle {
        crate::keep::with_call(self.region.clone());
        ObjectHandle { region: self.region.name().to_string(), offset: self.offset }
    }
}

/// An object is sent to tasks as its `ObjectHandle`.
impl Serialize for Obj {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.handle_for_call().serialize(serializer)
    }
}

impl fmt::Debug for Obj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.region.name(), self.offset)
    }
}

/// Objects built by this crate have valid, aligned offsets: a region fault is a bug.
fn ok<T>(r: std::result::Result<T, SyncFault>) -> std::result::Result<T, SyncFault> {
    if let Err(SyncFault::Region(f)) = &r {
        panic!("wasmproc: a synchronization object's words are out of its region: {f}");
    }
    r
}

fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| Instant::now() + t)
}

macro_rules! lock_type {
    ($(#[$doc:meta])* $name:ident, $guard:ident, $acq:path, $rel:path, $size:expr) => {
        $(#[$doc])*
        #[derive(Clone, Serialize)]
        #[serde(transparent)]
        pub struct $name {
            obj: Obj,
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).field("at", &self.obj).field("locked", &self.is_locked()).finish()
            }
        }

        /// Releases the lock when dropped.
        #[must_use = "the lock is released when the guard is dropped"]
        #[derive(Debug)]
        pub struct $guard<'a> {
            lock: &'a $name,
        }

        impl Drop for $guard<'_> {
            fn drop(&mut self) {
                let _ = self.lock.release();
            }
        }

        impl $name {
            /// A new, unlocked lock — `ctx.Lock()`.
            pub fn new(ctx: &Context) -> Result<Self> {
                Ok($name { obj: Obj::new(ctx, $size)? })
            }

            fn acquire_until(&self, d: Option<Instant>) -> std::result::Result<$guard<'_>, AcquireError<$guard<'_>>> {
                match ok($acq(&self.obj.region, self.obj.offset, d)) {
                    Ok(Acquired::Clean) => Ok($guard { lock: self }),
                    Ok(Acquired::OwnerDied) => Err(AcquireError::OwnerDied($guard { lock: self })),
                    Err(_) => Err(AcquireError::Timeout),
                }
            }

            /// Waits for the lock — `lock.acquire()` (never `Timeout`).
            pub fn acquire(&self) -> std::result::Result<$guard<'_>, AcquireError<$guard<'_>>> {
                self.acquire_until(None)
            }

            /// Takes the lock if it is free now — `lock.acquire(block=False)`.
            pub fn try_acquire(&self) -> std::result::Result<$guard<'_>, AcquireError<$guard<'_>>> {
                self.acquire_until(Some(Instant::now()))
            }

            /// Waits at most `timeout` — `lock.acquire(timeout=…)`.
            pub fn acquire_timeout(
                &self,
                timeout: Duration,
            ) -> std::result::Result<$guard<'_>, AcquireError<$guard<'_>>> {
                self.acquire_until(deadline(Some(timeout)))
            }

            /// Releases the lock without a guard (after `std::mem::forget` of one) — `lock.release()`.
            pub fn release(&self) -> std::result::Result<(), NotHeld> {
                ok($rel(&self.obj.region, self.obj.offset)).map_err(|_| NotHeld)
            }

            /// Whether anyone holds the lock now.
            pub fn is_locked(&self) -> bool {
                ok(prim::lock_is_held(&self.obj.region, self.obj.offset)).unwrap_or(false)
            }
        }
    };
}

lock_type!(
    /// A lock shared by processes — `multiprocessing.Lock`. Any thread or process may release
    /// it (as in Python). Acquiring it twice from the same thread waits for itself: use
    /// [`RLock`] for that.
    ///
    /// If the holder dies (its worker is killed), the next acquirer takes it over and gets
    /// [`AcquireError::OwnerDied`] with the guard inside.
    ///
    /// ```
    /// # fn main() -> wasmproc::Result<()> {
    /// # let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
    /// let lock = wasmproc::Lock::new(&ctx)?;
    /// let guard = lock.acquire().unwrap();
    /// assert!(matches!(lock.try_acquire(), Err(wasmproc::AcquireError::Timeout)));
    /// drop(guard);
    /// assert!(lock.try_acquire().is_ok());
    /// # Ok(()) }
    /// ```
    Lock,
    LockGuard,
    prim::lock_acquire,
    prim::lock_release,
    layout::LOCK_SIZE
);

lock_type!(
    /// A reentrant lock — `multiprocessing.RLock`: its owner (a thread, or a task's worker) may
    /// acquire it again, and must release it as many times. Only the owner may release it.
    ///
    /// ```
    /// # fn main() -> wasmproc::Result<()> {
    /// # let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
    /// let lock = wasmproc::RLock::new(&ctx)?;
    /// let outer = lock.acquire().unwrap();
    /// let inner = lock.acquire().unwrap();
    /// drop(inner);
    /// assert!(lock.is_locked());
    /// drop(outer);
    /// assert!(!lock.is_locked());
    /// # Ok(()) }
    /// ```
    RLock,
    RLockGuard,
    prim::rlock_acquire,
    prim::rlock_release,
    layout::LOCK_SIZE
);

impl Lock {
    /// The lock at `obj` (the lock words of a `Value` or `Array`).
    pub(super) fn at(obj: Obj) -> Lock {
        Lock { obj }
    }
}

/// A counter of permits — `multiprocessing.Semaphore` (and `BoundedSemaphore` with
/// [`Semaphore::bounded`]). There is no owner: a permit taken by a process that dies is not given
/// back (as in Python).
///
/// ```
/// # fn main() -> wasmproc::Result<()> {
/// # let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
/// let sem = wasmproc::Semaphore::new(&ctx, 2)?;
/// let a = sem.acquire();
/// let b = sem.acquire();
/// assert!(sem.try_acquire().is_err());
/// drop(a);
/// assert_eq!(sem.value(), 1);
/// # drop(b); Ok(()) }
/// ```
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct Semaphore {
    obj: Obj,
}

/// Python's `BoundedSemaphore`: a [`Semaphore`] whose releases may not raise it above its
/// initial value.
pub type BoundedSemaphore = Semaphore;

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore").field("at", &self.obj).field("value", &self.value()).finish()
    }
}

/// Gives its permit back when dropped.
#[must_use = "the permit is released when the guard is dropped"]
#[derive(Debug)]
pub struct SemaphoreGuard<'a> {
    sem: &'a Semaphore,
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        let _ = self.sem.release();
    }
}

impl Semaphore {
    /// A semaphore with `value` permits — `Semaphore(value)`.
    pub fn new(ctx: &Context, value: u32) -> Result<Semaphore> {
        Self::with(ctx, value, 0)
    }

    /// A bounded semaphore — `BoundedSemaphore(value)`.
    pub fn bounded(ctx: &Context, value: u32) -> Result<Semaphore> {
        Self::with(ctx, value, value.max(1))
    }

    fn with(ctx: &Context, value: u32, max: u32) -> Result<Semaphore> {
        let obj = Obj::new(ctx, layout::SEMAPHORE_SIZE)?;
        ok(prim::semaphore_init(&obj.region, obj.offset, value, max)).expect("fresh region");
        Ok(Semaphore { obj })
    }

    fn acquire_until(&self, d: Option<Instant>) -> std::result::Result<SemaphoreGuard<'_>, Timeout> {
        ok(prim::semaphore_acquire(&self.obj.region, self.obj.offset, d)).map_err(|_| Timeout)?;
        Ok(SemaphoreGuard { sem: self })
    }

    /// Waits for a permit — `sem.acquire()`.
    pub fn acquire(&self) -> SemaphoreGuard<'_> {
        self.acquire_until(None).expect("an untimed acquire does not time out")
    }

    /// Takes a permit if one is free now.
    pub fn try_acquire(&self) -> std::result::Result<SemaphoreGuard<'_>, Timeout> {
        self.acquire_until(Some(Instant::now()))
    }

    /// Waits at most `timeout` for a permit.
    pub fn acquire_timeout(&self, timeout: Duration) -> std::result::Result<SemaphoreGuard<'_>, Timeout> {
        self.acquire_until(deadline(Some(timeout)))
    }

    /// Gives a permit back without a guard — `sem.release()`.
    pub fn release(&self) -> std::result::Result<(), TooManyReleases> {
        ok(prim::semaphore_release(&self.obj.region, self.obj.offset)).map_err(|_| TooManyReleases)
    }

    /// The free permits now — `sem.get_value()`.
    pub fn value(&self) -> u32 {
        ok(prim::semaphore_value(&self.obj.region, self.obj.offset)).unwrap_or(0)
    }
}

/// A flag processes can wait for — `multiprocessing.Event`.
///
/// ```
/// # fn main() -> wasmproc::Result<()> {
/// # let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
/// let ev = wasmproc::Event::new(&ctx)?;
/// assert!(!ev.wait_timeout(std::time::Duration::from_millis(1)));
/// ev.set();
/// assert!(ev.is_set());
/// ev.wait();
/// # Ok(()) }
/// ```
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct Event {
    obj: Obj,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event").field("at", &self.obj).field("set", &self.is_set()).finish()
    }
}

impl Event {
    /// A new, clear event.
    pub fn new(ctx: &Context) -> Result<Event> {
        Ok(Event { obj: Obj::new(ctx, layout::EVENT_SIZE)? })
    }

    /// Sets the flag and wakes every waiter — `event.set()`.
    pub fn set(&self) {
        ok(prim::event_set(&self.obj.region, self.obj.offset)).expect("valid event");
    }

    /// Clears the flag — `event.clear()`.
    pub fn clear(&self) {
        ok(prim::event_clear(&self.obj.region, self.obj.offset)).expect("valid event");
    }

    /// Whether the flag is set — `event.is_set()`.
    pub fn is_set(&self) -> bool {
        ok(prim::event_is_set(&self.obj.region, self.obj.offset)).unwrap_or(false)
    }

    /// Waits until the flag is set — `event.wait()`.
    pub fn wait(&self) {
        ok(prim::event_wait(&self.obj.region, self.obj.offset, None)).expect("valid event");
    }

    /// Waits at most `timeout`; returns whether the flag is set — `event.wait(timeout)`.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        ok(prim::event_wait(&self.obj.region, self.obj.offset, deadline(Some(timeout)))).unwrap_or(false)
    }
}

/// A condition variable with its own reentrant lock — `multiprocessing.Condition`.
///
/// ```
/// # fn main() -> wasmproc::Result<()> {
/// # let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
/// let cond = wasmproc::Condition::new(&ctx)?;
/// let guard = cond.acquire().unwrap();
/// assert!(!guard.wait_timeout(std::time::Duration::from_millis(1)));
/// guard.notify_all();
/// # Ok(()) }
/// ```
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct Condition {
    obj: Obj,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition").field("at", &self.obj).finish()
    }
}

/// The condition's lock, held: wait and notify through it. Released when dropped.
#[must_use = "the lock is released when the guard is dropped"]
#[derive(Debug)]
pub struct ConditionGuard<'a> {
    cond: &'a Condition,
}

impl Drop for ConditionGuard<'_> {
    fn drop(&mut self) {
        let _ = prim::rlock_release(&self.cond.obj.region, self.cond.obj.offset);
    }
}

impl Condition {
    /// A new condition.
    pub fn new(ctx: &Context) -> Result<Condition> {
        Ok(Condition { obj: Obj::new(ctx, layout::CONDITION_SIZE)? })
    }

    /// Takes the condition's lock — `with cond:`.
    pub fn acquire(&self) -> std::result::Result<ConditionGuard<'_>, AcquireError<ConditionGuard<'_>>> {
        match ok(prim::rlock_acquire(&self.obj.region, self.obj.offset, None)) {
            Ok(Acquired::Clean) => Ok(ConditionGuard { cond: self }),
            Ok(Acquired::OwnerDied) => Err(AcquireError::OwnerDied(ConditionGuard { cond: self })),
            Err(_) => Err(AcquireError::Timeout),
        }
    }
}

impl ConditionGuard<'_> {
    fn wait_until(&self, d: Option<Instant>) -> bool {
        ok(prim::condition_wait(&self.cond.obj.region, self.cond.obj.offset, d)).unwrap_or(false)
    }

    /// Releases the lock, waits for a notify, takes the lock back — `cond.wait()`. May wake
    /// without a notify meant for it; use [`wait_for`](Self::wait_for) for a predicate.
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Like [`wait`](Self::wait), at most `timeout`; returns false if it timed out.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(deadline(Some(timeout)))
    }

    /// Waits until `predicate()` holds (checked under the lock), at most `timeout` if given;
    /// returns the predicate's last value — `cond.wait_for(predicate, timeout)`.
    pub fn wait_for(&self, mut predicate: impl FnMut() -> bool, timeout: Option<Duration>) -> bool {
        let d = deadline(timeout);
        loop {
            if predicate() {
                return true;
            }
            if d.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            self.wait_until(d);
        }
    }

    /// Wakes up to `n` waiters — `cond.notify(n)`.
    pub fn notify(&self, n: u32) {
        ok(prim::condition_notify(&self.cond.obj.region, self.cond.obj.offset, n)).expect("the guard holds the lock");
    }

    /// Wakes every waiter — `cond.notify_all()`.
    pub fn notify_all(&self) {
        self.notify(u32::MAX);
    }
}

/// A meeting point for a fixed number of parties — `multiprocessing.Barrier`.
///
/// ```
/// # fn main() -> wasmproc::Result<()> {
/// # let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
/// let barrier = wasmproc::Barrier::new(&ctx, 1)?;
/// assert_eq!(barrier.wait(), Ok(0));
/// barrier.abort();
/// assert_eq!(barrier.wait(), Err(wasmproc::BarrierError::Broken));
/// # Ok(()) }
/// ```
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct Barrier {
    obj: Obj,
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("at", &self.obj).field("parties", &self.parties()).finish()
    }
}

impl Barrier {
    /// A barrier for `parties` waiters — `Barrier(parties)`.
    pub fn new(ctx: &Context, parties: u32) -> Result<Barrier> {
        let obj = Obj::new(ctx, layout::BARRIER_SIZE)?;
        ok(prim::barrier_init(&obj.region, obj.offset, parties.max(1))).expect("fresh region");
        Ok(Barrier { obj })
    }

    fn wait_until(&self, d: Option<Instant>) -> std::result::Result<u32, BarrierError> {
        ok(prim::barrier_wait(&self.obj.region, self.obj.offset, d)).map_err(|e| match e {
            SyncFault::Timeout => BarrierError::Timeout,
            _ => BarrierError::Broken,
        })
    }

    /// Waits until all parties wait; returns this caller's arrival index (`0..parties`) —
    /// `barrier.wait()`.
    pub fn wait(&self) -> std::result::Result<u32, BarrierError> {
        self.wait_until(None)
    }

    /// Like [`wait`](Self::wait), at most `timeout`.
    pub fn wait_timeout(&self, timeout: Duration) -> std::result::Result<u32, BarrierError> {
        self.wait_until(deadline(Some(timeout)))
    }

    /// Breaks the barrier: waiters now and later fail — `barrier.abort()`.
    pub fn abort(&self) {
        ok(prim::barrier_abort(&self.obj.region, self.obj.offset)).expect("valid barrier");
    }

    /// Makes the barrier usable again — `barrier.reset()`.
    pub fn reset(&self) {
        ok(prim::barrier_reset(&self.obj.region, self.obj.offset)).expect("valid barrier");
    }

    /// The number of parties — `barrier.parties`.
    pub fn parties(&self) -> u32 {
        ok(prim::barrier_parties(&self.obj.region, self.obj.offset)).unwrap_or(0)
    }

    /// How many wait now — `barrier.n_waiting`.
    pub fn n_waiting(&self) -> u32 {
        ok(prim::barrier_waiting(&self.obj.region, self.obj.offset)).unwrap_or(0)
    }

    /// Whether the barrier is broken — `barrier.broken`.
    pub fn is_broken(&self) -> bool {
        ok(prim::barrier_is_broken(&self.obj.region, self.obj.offset)).unwrap_or(false)
    }
}
