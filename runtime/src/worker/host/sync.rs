//! The `wasmproc:task/sync` interface: the primitives are `shm::raw::words`, the same code the
//! host runs on the same words, so a guest and a host thread share one lock. Waits honour their
//! own timeout and the input's; when the input's time is up, the call traps as a timeout.

use super::super::GuestState;
use super::shm::to_wit as shm_to_wit;
use super::wasmproc::task::sync::{self, Acquired as WitAcquired, SyncError};
use crate::shm::raw::{Region, words};
use std::time::Instant;
use wasmproc_wire::{Acquired, ShmError, SyncFault, layout, scalar};

fn to_wit(f: SyncFault) -> SyncError {
    match f {
        SyncFault::Timeout => SyncError::Timeout,
        SyncFault::NotHeld => SyncError::NotHeld,
        SyncFault::TooManyReleases => SyncError::TooManyReleases,
        SyncFault::Broken => SyncError::Broken,
        SyncFault::Region(e) => SyncError::Region(shm_to_wit(e)),
    }
}

fn acquired(a: Acquired) -> WitAcquired {
    match a {
        Acquired::Clean => WitAcquired::Clean,
        Acquired::OwnerDied => WitAcquired::OwnerDied,
    }
}

impl GuestState {
    /// Runs a blocking primitive on `(region, offset)` with the combined deadline.
    fn blocking<T>(
        &mut self,
        region: u32,
        timeout_ms: Option<u64>,
        op: impl FnOnce(&Region, Option<Instant>) -> Result<T, SyncFault>,
    ) -> wasmtime::Result<Result<T, SyncError>> {
        let deadline = self.wait_deadline(timeout_ms);
        let r = match self.region(region) {
            Ok(r) => r,
            Err(e) => return Ok(Err(SyncError::Region(shm_to_wit(e)))),
        };
        match op(r, deadline) {
            Err(SyncFault::Timeout) if self.input_timed_out() => Err(wasmtime::Trap::Interrupt.into()),
            other => Ok(other.map_err(to_wit)),
        }
    }

    /// A wait that reports "not yet" as `Ok(false)`: at the input's deadline it traps instead.
    fn waiting(
        &mut self,
        waited: wasmtime::Result<Result<bool, SyncError>>,
    ) -> wasmtime::Result<Result<bool, SyncError>> {
        let waited = waited?;
        if matches!(waited, Ok(false)) && self.input_timed_out() {
            return Err(wasmtime::Trap::Interrupt.into());
        }
        Ok(waited)
    }

    fn sync_op<T>(&mut self, region: u32, op: impl FnOnce(&Region) -> Result<T, SyncFault>) -> Result<T, SyncError> {
        let r = self.region(region).map_err(|e| SyncError::Region(shm_to_wit(e)))?;
        op(r).map_err(to_wit)
    }
}

impl sync::Host for GuestState {
    fn lock_acquire(
        &mut self,
        region: u32,
        offset: u64,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<WitAcquired, SyncError>> {
        Ok(self.blocking(region, timeout_ms, |r, d| words::lock_acquire(r, offset, d))?.map(acquired))
    }

    fn lock_release(&mut self, region: u32, offset: u64) -> Result<(), SyncError> {
        self.sync_op(region, |r| words::lock_release(r, offset))
    }

    fn value_add(
        &mut self,
        region: u32,
        offset: u64,
        typecode: u8,
        delta: u64,
    ) -> wasmtime::Result<Result<u64, SyncError>> {
        let Some(width) = scalar::width_of(typecode) else {
            let message = format!("no number type has the typecode {:?}", char::from(typecode));
            return Ok(Err(SyncError::Region(shm_to_wit(ShmError::Unknown(message)))));
        };
        let at = offset + layout::VALUE_OFFSET;
        self.blocking(region, None, |r, deadline| {
            // A lock taken over from a dead holder is used all the same: the value is one word.
            words::lock_acquire(r, offset, deadline)?;
            let added = r.load(at, width.into()).and_then(|old| {
                let new = scalar::add_bits(typecode, old, delta).expect("a typecode with a width");
                r.store(at, width.into(), new).map(|()| new)
            });
            words::lock_release(r, offset)?;
            added.map_err(SyncFault::Region)
        })
    }

    fn rlock_acquire(
        &mut self,
        region: u32,
        offset: u64,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<WitAcquired, SyncError>> {
        Ok(self.blocking(region, timeout_ms, |r, d| words::rlock_acquire(r, offset, d))?.map(acquired))
    }

    fn rlock_release(&mut self, region: u32, offset: u64) -> Result<(), SyncError> {
        self.sync_op(region, |r| words::rlock_release(r, offset))
    }

    fn semaphore_acquire(
        &mut self,
        region: u32,
        offset: u64,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<(), SyncError>> {
        self.blocking(region, timeout_ms, |r, d| words::semaphore_acquire(r, offset, d))
    }

    fn semaphore_release(&mut self, region: u32, offset: u64) -> Result<(), SyncError> {
        self.sync_op(region, |r| words::semaphore_release(r, offset))
    }

    fn semaphore_value(&mut self, region: u32, offset: u64) -> Result<u32, SyncError> {
        self.sync_op(region, |r| words::semaphore_value(r, offset))
    }

    fn event_set(&mut self, region: u32, offset: u64) -> Result<(), SyncError> {
        self.sync_op(region, |r| words::event_set(r, offset))
    }

    fn event_clear(&mut self, region: u32, offset: u64) -> Result<(), SyncError> {
        self.sync_op(region, |r| words::event_clear(r, offset))
    }

    fn event_is_set(&mut self, region: u32, offset: u64) -> Result<bool, SyncError> {
        self.sync_op(region, |r| words::event_is_set(r, offset))
    }

    fn event_wait(
        &mut self,
        region: u32,
        offset: u64,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<bool, SyncError>> {
        let waited = self.blocking(region, timeout_ms, |r, d| words::event_wait(r, offset, d));
        self.waiting(waited)
    }

    fn condition_wait(
        &mut self,
        region: u32,
        offset: u64,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<bool, SyncError>> {
        let waited = self.blocking(region, timeout_ms, |r, d| words::condition_wait(r, offset, d));
        self.waiting(waited)
    }

    fn condition_notify(&mut self, region: u32, offset: u64, count: u32) -> Result<(), SyncError> {
        self.sync_op(region, |r| words::condition_notify(r, offset, count))
    }

    fn barrier_wait(
        &mut self,
        region: u32,
        offset: u64,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<u32, SyncError>> {
        self.blocking(region, timeout_ms, |r, d| words::barrier_wait(r, offset, d))
    }

    fn barrier_abort(&mut self, region: u32, offset: u64) -> Result<(), SyncError> {
        self.sync_op(region, |r| words::barrier_abort(r, offset))
    }

    fn barrier_reset(&mut self, region: u32, offset: u64) -> Result<(), SyncError> {
        self.sync_op(region, |r| words::barrier_reset(r, offset))
    }
}
