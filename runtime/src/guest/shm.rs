//! The `wasmproc:task/shm` and `sync` interfaces in a worker: regions are mapped into the worker
//! once (by name, on `attach`) and accessed in place; the primitives are `shm::sync`'s, the same
//! code the host runs. A wait sleeps at most until the input's deadline, then traps as a timeout.

use super::GuestState;
use super::bindings::wasmproc::task::shm::{self, ShmError};
use super::bindings::wasmproc::task::sync::{self, Acquired as WitAcquired, SyncError};
use crate::shm::sync as prim;
use crate::shm::{Fault, Region};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most regions a worker keeps mapped; attaching one more starts over (older numbers then report
/// `unknown`).
const MAX_ATTACHED: usize = 4096;

/// The regions a worker has mapped, shared by all its instances.
#[derive(Debug, Default)]
pub(crate) struct Attachments {
    regions: Vec<Arc<Region>>,
    by_name: HashMap<String, u32>,
}

pub(crate) type SharedAttachments = Arc<Mutex<Attachments>>;

fn to_shm(f: Fault) -> ShmError {
    match f {
        Fault::OutOfBounds { .. } => ShmError::OutOfBounds(f.to_string()),
        Fault::Misaligned { .. } => ShmError::Misaligned(f.to_string()),
    }
}

fn to_sync(f: prim::SyncFault) -> SyncError {
    match f {
        prim::SyncFault::Timeout => SyncError::Timeout,
        prim::SyncFault::NotHeld => SyncError::NotHeld,
        prim::SyncFault::TooManyReleases => SyncError::TooManyReleases,
        prim::SyncFault::Broken => SyncError::Broken,
        prim::SyncFault::Region(f) => SyncError::Region(to_shm(f)),
    }
}

fn acquired(a: prim::Acquired) -> WitAcquired {
    match a {
        prim::Acquired::Clean => WitAcquired::Clean,
        prim::Acquired::OwnerDied => WitAcquired::OwnerDied,
    }
}

impl GuestState {
    fn region(&self, handle: u32) -> Result<Arc<Region>, ShmError> {
        let att = self.attachments.lock().unwrap_or_else(|p| p.into_inner());
        att.regions
            .get(handle as usize)
            .cloned()
            .ok_or_else(|| ShmError::Unknown(format!("region number {handle} is not attached in this worker")))
    }

    /// The deadline for a wait: the earlier of its own timeout and the input's.
    fn wait_deadline(&self, timeout_ms: Option<u64>) -> Option<Instant> {
        let own = timeout_ms.map(|ms| Instant::now() + Duration::from_millis(ms));
        match (own, self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A wait that ran out of time: a timeout of the input itself traps, as if interrupted.
    fn input_timed_out(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Runs a blocking primitive on `(region, offset)` with the combined deadline.
    fn blocking<T>(
        &mut self,
        region: u32,
        timeout_ms: Option<u64>,
        op: impl FnOnce(&Region, Option<Instant>) -> Result<T, prim::SyncFault>,
    ) -> wasmtime::Result<Result<T, SyncError>> {
        let r = match self.region(region) {
            Ok(r) => r,
            Err(e) => return Ok(Err(SyncError::Region(e))),
        };
        match op(&r, self.wait_deadline(timeout_ms)) {
            Err(prim::SyncFault::Timeout) if self.input_timed_out() => Err(wasmtime::Trap::Interrupt.into()),
            other => Ok(other.map_err(to_sync)),
        }
    }

    fn sync_op<T>(&self, region: u32, op: impl FnOnce(&Region) -> Result<T, prim::SyncFault>) -> Result<T, SyncError> {
        let r = self.region(region).map_err(SyncError::Region)?;
        op(&r).map_err(to_sync)
    }
}

impl shm::Host for GuestState {
    fn attach(&mut self, name: String) -> Result<u32, ShmError> {
        let mut att = self.attachments.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&h) = att.by_name.get(&name) {
            return Ok(h);
        }
        let region = Region::attach(&name).map_err(|e| ShmError::Unknown(format!("region {name}: {e}")))?;
        if att.regions.len() >= MAX_ATTACHED {
            *att = Attachments::default();
        }
        let h = att.regions.len() as u32;
        att.regions.push(Arc::new(region));
        att.by_name.insert(name, h);
        Ok(h)
    }

    fn size(&mut self, region: u32) -> Result<u64, ShmError> {
        Ok(self.region(region)?.len() as u64)
    }

    fn read(&mut self, region: u32, offset: u64, len: u64) -> Result<Vec<u8>, ShmError> {
        let r = self.region(region)?;
        if offset.checked_add(len).is_none_or(|end| end > r.len() as u64) {
            return Err(to_shm(Fault::OutOfBounds { offset, len, size: r.len() as u64 }));
        }
        let mut out = vec![0u8; len as usize];
        r.read(offset, &mut out).map_err(to_shm)?;
        Ok(out)
    }

    fn write(&mut self, region: u32, offset: u64, bytes: Vec<u8>) -> Result<(), ShmError> {
        self.region(region)?.write(offset, &bytes).map_err(to_shm)
    }

    fn load(&mut self, region: u32, offset: u64, width: u8) -> Result<u64, ShmError> {
        self.region(region)?.load(offset, u64::from(width)).map_err(to_shm)
    }

    fn store(&mut self, region: u32, offset: u64, width: u8, value: u64) -> Result<(), ShmError> {
        self.region(region)?.store(offset, u64::from(width), value).map_err(to_shm)
    }

    fn fetch_add(&mut self, region: u32, offset: u64, width: u8, delta: u64) -> Result<u64, ShmError> {
        self.region(region)?.fetch_add(offset, u64::from(width), delta).map_err(to_shm)
    }

    fn compare_exchange(
        &mut self,
        region: u32,
        offset: u64,
        width: u8,
        expected: u64,
        new: u64,
    ) -> Result<u64, ShmError> {
        self.region(region)?.compare_exchange(offset, u64::from(width), expected, new).map_err(to_shm)
    }

    fn wait(
        &mut self,
        region: u32,
        offset: u64,
        expected: u32,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<(), ShmError>> {
        let r = match self.region(region) {
            Ok(r) => r,
            Err(e) => return Ok(Err(e)),
        };
        let word = match r.word32(offset) {
            Ok(w) => w,
            Err(f) => return Ok(Err(to_shm(f))),
        };
        let deadline = self.wait_deadline(timeout_ms);
        // In slices, so the input's deadline is noticed even if nobody notifies.
        while word.load(std::sync::atomic::Ordering::SeqCst) == expected {
            let now = Instant::now();
            let left = match deadline {
                Some(d) if now >= d => break,
                Some(d) => (d - now).min(prim::SLICE),
                None => prim::SLICE,
            };
            crate::shm::region::futex_wait(word, expected, Some(left));
            if timeout_ms.is_none() && self.deadline.is_none() {
                // A plain wait returns after one wake-up, as a futex does.
                break;
            }
        }
        if self.input_timed_out() {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        Ok(Ok(()))
    }

    fn notify(&mut self, region: u32, offset: u64, count: u32) -> Result<u32, ShmError> {
        let r = self.region(region)?;
        let word = r.word32(offset).map_err(to_shm)?;
        Ok(crate::shm::region::futex_wake(word, count))
    }
}

impl sync::Host for GuestState {
    fn lock_acquire(
        &mut self,
        region: u32,
        offset: u64,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<WitAcquired, SyncError>> {
        Ok(self.blocking(region, timeout_ms, |r, d| prim::lock_acquire(r, offset, d))?.map(acquired))
    }

    fn lock_release(&mut self, region: u32, offset: u64) -> Result<(), SyncError> {
        self.sync_op(region, |r| prim::lock_release(r, offset))
    }

    fn rlock_acquire(
        &mut self,
        region: u32,
        offset: u64,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<WitAcquired, SyncError>> {
        Ok(self.blocking(region, timeout_ms, |r, d| prim::rlock_acquire(r, offset, d))?.map(acquired))
    }

    fn rlock_release(&mut self, region: u32, offset: u64) -> Result<(), SyncError> {
        self.sync_op(region, |r| prim::rlock_release(r, offset))
    }

    fn semaphore_acquire(
        &mut self,
        region: u32,
        offset: u64,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<(), SyncError>> {
        self.blocking(region, timeout_ms, |r, d| prim::semaphore_acquire(r, offset, d))
    }

    fn semaphore_release(&mut self, region: u32, offset: u64) -> Result<(), SyncError> {
        self.sync_op(region, |r| prim::semaphore_release(r, offset))
    }

    fn semaphore_value(&mut self, region: u32, offset: u64) -> Result<u32, SyncError> {
        self.sync_op(region, |r| prim::semaphore_value(r, offset))
    }

    fn event_set(&mut self, region: u32, offset: u64) -> Result<(), SyncError> {
        self.sync_op(region, |r| prim::event_set(r, offset))
    }

    fn event_clear(&mut self, region: u32, offset: u64) -> Result<(), SyncError> {
        self.sync_op(region, |r| prim::event_clear(r, offset))
    }

    fn event_is_set(&mut self, region: u32, offset: u64) -> Result<bool, SyncError> {
        self.sync_op(region, |r| prim::event_is_set(r, offset))
    }

    fn event_wait(
        &mut self,
        region: u32,
        offset: u64,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<bool, SyncError>> {
        let set = self.blocking(region, timeout_ms, |r, d| prim::event_wait(r, offset, d))?;
        if matches!(set, Ok(false)) && self.input_timed_out() {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        Ok(set)
    }

    fn condition_wait(
        &mut self,
        region: u32,
        offset: u64,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<bool, SyncError>> {
        let notified = self.blocking(region, timeout_ms, |r, d| prim::condition_wait(r, offset, d))?;
        if matches!(notified, Ok(false)) && self.input_timed_out() {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        Ok(notified)
    }

    fn condition_notify(&mut self, region: u32, offset: u64, count: u32) -> Result<(), SyncError> {
        self.sync_op(region, |r| prim::condition_notify(r, offset, count))
    }

    fn barrier_wait(
        &mut self,
        region: u32,
        offset: u64,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<u32, SyncError>> {
        self.blocking(region, timeout_ms, |r, d| prim::barrier_wait(r, offset, d))
    }

    fn barrier_abort(&mut self, region: u32, offset: u64) -> Result<(), SyncError> {
        self.sync_op(region, |r| prim::barrier_abort(r, offset))
    }

    fn barrier_reset(&mut self, region: u32, offset: u64) -> Result<(), SyncError> {
        self.sync_op(region, |r| prim::barrier_reset(r, offset))
    }
}
