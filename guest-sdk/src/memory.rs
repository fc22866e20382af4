//! `SharedMemory` inside a task: the host's region, mapped into this task's worker and accessed
//! through the `shm` interface.

use crate::bindings::wasmproc::task::shm as wit;
use crate::region::{Mapped, from_wit};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use wasmproc_wire::ShmError;

/// A block of memory shared with the host and other tasks — the host's
/// `wasmproc::SharedMemory`, passed as an argument. Same methods; accesses are bounds checked.
///
/// ```no_run
/// #[wasmproc_guest::task]
/// fn fill(shm: wasmproc_guest::SharedMemory, byte: u8) {
///     shm.write(0, &vec![byte; shm.len()]).unwrap();
/// }
/// ```
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SharedMemory {
    map: Mapped,
}

impl SharedMemory {
    /// The region's name.
    pub fn name(&self) -> &str {
        &self.map.name
    }

    /// The size in bytes.
    pub fn len(&self) -> usize {
        wit::size(self.map.handle).unwrap_or(0) as usize
    }

    /// Whether the region has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies `out.len()` bytes at `offset` into `out`.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), ShmError> {
        let bytes = self.read_vec(offset, out.len())?;
        out.copy_from_slice(&bytes);
        Ok(())
    }

    /// `len` bytes at `offset`, copied out.
    pub fn read_vec(&self, offset: usize, len: usize) -> Result<Vec<u8>, ShmError> {
        wit::read(self.map.handle, offset as u64, len as u64).map_err(from_wit)
    }

    /// Copies `data` to `offset`.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), ShmError> {
        wit::write(self.map.handle, offset as u64, data).map_err(from_wit)
    }

    /// Atomic load of the u32 at `offset`.
    pub fn load_u32(&self, offset: usize) -> Result<u32, ShmError> {
        wit::load(self.map.handle, offset as u64, 4).map(|v| v as u32).map_err(from_wit)
    }

    /// Atomic load of the u64 at `offset`.
    pub fn load_u64(&self, offset: usize) -> Result<u64, ShmError> {
        wit::load(self.map.handle, offset as u64, 8).map_err(from_wit)
    }

    /// Atomic store of a u32.
    pub fn store_u32(&self, offset: usize, value: u32) -> Result<(), ShmError> {
        wit::store(self.map.handle, offset as u64, 4, u64::from(value)).map_err(from_wit)
    }

    /// Atomic store of a u64.
    pub fn store_u64(&self, offset: usize, value: u64) -> Result<(), ShmError> {
        wit::store(self.map.handle, offset as u64, 8, value).map_err(from_wit)
    }

    /// Atomic wrapping add to a u32; returns the previous value.
    pub fn fetch_add_u32(&self, offset: usize, delta: u32) -> Result<u32, ShmError> {
        wit::fetch_add(self.map.handle, offset as u64, 4, u64::from(delta)).map(|v| v as u32).map_err(from_wit)
    }

    /// Atomic wrapping add to a u64; returns the previous value.
    pub fn fetch_add_u64(&self, offset: usize, delta: u64) -> Result<u64, ShmError> {
        wit::fetch_add(self.map.handle, offset as u64, 8, delta).map_err(from_wit)
    }

    /// Atomic compare-and-exchange of a u32: `Ok(previous)` if it was `expected`, else
    /// `Err(current)`.
    pub fn compare_exchange_u32(&self, offset: usize, expected: u32, new: u32) -> Result<Result<u32, u32>, ShmError> {
        let prev = wit::compare_exchange(self.map.handle, offset as u64, 4, u64::from(expected), u64::from(new))
            .map_err(from_wit)? as u32;
        Ok(if prev == expected { Ok(prev) } else { Err(prev) })
    }

    /// Atomic compare-and-exchange of a u64.
    pub fn compare_exchange_u64(&self, offset: usize, expected: u64, new: u64) -> Result<Result<u64, u64>, ShmError> {
        let prev = wit::compare_exchange(self.map.handle, offset as u64, 8, expected, new).map_err(from_wit)?;
        Ok(if prev == expected { Ok(prev) } else { Err(prev) })
    }

    /// Sleeps while the u32 at `offset` equals `expected`, until a notify or `timeout`; may
    /// return early (check again).
    pub fn wait_u32(&self, offset: usize, expected: u32, timeout: Option<Duration>) -> Result<(), ShmError> {
        wit::wait(self.map.handle, offset as u64, expected, timeout.map(|t| t.as_millis() as u64)).map_err(from_wit)
    }

    /// Wakes up to `count` waiters on the u32 at `offset`.
    pub fn notify(&self, offset: usize, count: u32) -> Result<u32, ShmError> {
        wit::notify(self.map.handle, offset as u64, count).map_err(from_wit)
    }
}
