//! The `wasmproc:task/shm` interface: regions are mapped into the worker once (by name, on
//! `attach`) and accessed in place. A wait sleeps at most until the input's deadline, then traps
//! as a timeout.

use super::super::GuestState;
use super::wasmproc::task::shm::{self, Alignment, Bounds, ShmError as WitShmError};
use crate::shm::raw::{Region, words};
use crate::sys::futex;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use wasmproc_wire::ShmError;

/// The WIT form of a shared-memory error.
pub(super) fn to_wit(e: ShmError) -> WitShmError {
    match e {
        ShmError::OutOfBounds { offset, len, size } => WitShmError::OutOfBounds(Bounds { offset, len, size }),
        ShmError::Misaligned { offset, width } => WitShmError::Misaligned(Alignment { offset, width }),
        ShmError::Unknown(m) => WitShmError::Unknown(m),
    }
}

impl GuestState {
    /// Region number `handle`, mapped in this worker.
    pub(super) fn region(&mut self, handle: u32) -> Result<&Arc<Region>, ShmError> {
        self.attachments.get(handle)
    }

    /// The deadline for a wait: the earlier of its own timeout and the input's.
    pub(super) fn wait_deadline(&self, timeout_ms: Option<u64>) -> Option<Instant> {
        let own = timeout_ms.map(|ms| Instant::now() + Duration::from_millis(ms));
        match (own, self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the input's own time is up (a wait that ran out then traps, as if interrupted).
    pub(super) fn input_timed_out(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    fn on_region<T>(&mut self, handle: u32, op: impl FnOnce(&Region) -> Result<T, ShmError>) -> Result<T, WitShmError> {
        self.region(handle).and_then(|r| op(r)).map_err(to_wit)
    }
}

impl shm::Host for GuestState {
    fn attach(&mut self, name: String) -> Result<u32, WitShmError> {
        self.attachments.attach(name).map_err(to_wit)
    }

    fn size(&mut self, region: u32) -> Result<u64, WitShmError> {
        self.on_region(region, |r| Ok(r.len() as u64))
    }

    fn read(&mut self, region: u32, offset: u64, len: u64) -> Result<Vec<u8>, WitShmError> {
        self.on_region(region, |r| {
            wasmproc_wire::shm::check_bounds(offset, len, r.len() as u64)?;
            let mut out = vec![0u8; len as usize];
            r.read(offset, &mut out)?;
            Ok(out)
        })
    }

    fn write(&mut self, region: u32, offset: u64, bytes: Vec<u8>) -> Result<(), WitShmError> {
        self.on_region(region, |r| r.write(offset, &bytes))
    }

    fn load(&mut self, region: u32, offset: u64, width: u8) -> Result<u64, WitShmError> {
        self.on_region(region, |r| r.load(offset, u64::from(width)))
    }

    fn store(&mut self, region: u32, offset: u64, width: u8, value: u64) -> Result<(), WitShmError> {
        self.on_region(region, |r| r.store(offset, u64::from(width), value))
    }

    fn fetch_add(&mut self, region: u32, offset: u64, width: u8, delta: u64) -> Result<u64, WitShmError> {
        self.on_region(region, |r| r.fetch_add(offset, u64::from(width), delta))
    }

    fn compare_exchange(
        &mut self,
        region: u32,
        offset: u64,
        width: u8,
        expected: u64,
        new: u64,
    ) -> Result<u64, WitShmError> {
        self.on_region(region, |r| r.compare_exchange(offset, u64::from(width), expected, new))
    }

    fn wait(
        &mut self,
        region: u32,
        offset: u64,
        expected: u32,
        timeout_ms: Option<u64>,
    ) -> wasmtime::Result<Result<(), WitShmError>> {
        let r = match self.region(region) {
            Ok(r) => r.clone(),
            Err(e) => return Ok(Err(to_wit(e))),
        };
        let word = match r.word32(offset) {
            Ok(w) => w,
            Err(e) => return Ok(Err(to_wit(e))),
        };
        let deadline = self.wait_deadline(timeout_ms);
        // In slices, so the input's deadline is noticed even if nobody notifies.
        while word.load(Ordering::SeqCst) == expected {
            let now = Instant::now();
            let left = match deadline {
                Some(d) if now >= d => break,
                Some(d) => (d - now).min(words::SLICE),
                None => words::SLICE,
            };
            futex::wait(word, expected, Some(left));
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

    fn notify(&mut self, region: u32, offset: u64, count: u32) -> Result<u32, WitShmError> {
        self.on_region(region, |r| Ok(futex::wake(r.word32(offset)?, count)))
    }
}
