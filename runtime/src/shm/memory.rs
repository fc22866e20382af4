//! `SharedMemory`: Python's `multiprocessing.shared_memory.SharedMemory`.

use super::raw::region::{Region, os_name};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::sys::futex;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wasmproc_wire::ShmError;
use wasmproc_wire::handle::RegionHandle;

static NEXT_REGION: AtomicU64 = AtomicU64::new(0);

/// Creates an anonymous region of `len` bytes, unlinked when its last holder is gone.
pub(super) fn anonymous(len: usize) -> Result<Arc<Region>> {
    loop {
        let name = format!("/wasmproc-{}-{}", std::process::id(), NEXT_REGION.fetch_add(1, Ordering::Relaxed));
        match Region::create(&name, len, true) {
            Ok(r) => return Ok(Arc::new(r)),
            // A stale name left by an earlier process with our pid: take the next number.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(Error::SharedMemory { name, source }),
        }
    }
}

/// A block of memory shared by the host and any guests — Python's `SharedMemory`.
///
/// Pass it to a task as an argument (`wasmproc_guest::SharedMemory` there, with the same methods);
/// every process sees every other's writes. Accesses are bounds checked: an access past the end
/// is an [`ShmError`], never a crash. Words can be used atomically (`fetch_add_u64`,
/// `compare_exchange_u32`, …) and waited on (`wait_u32`/`notify`), which is how the lock types
/// of this crate are built.
///
/// Lifetime: an anonymous region ([`SharedMemory::new`]) is removed when its last holder is gone
/// (host handles, and tasks it was passed to). A named one ([`SharedMemory::create`]) stays until
/// [`unlink`](SharedMemory::unlink), as in Python, and other programs can
/// [`attach`](SharedMemory::attach) it by name.
///
/// Like every shared object (`Queue::new(&ctx)`, `Lock::new(&ctx)`, …) it is made with the
/// [`Context`] whose tasks will use it, as Python's `ctx.SharedMemory` would be. A region is
/// mapped by name, so any task on this machine can use it whatever its context.
///
/// ```
/// # fn main() -> wasmproc::Result<()> {
/// # let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
/// let shm = wasmproc::SharedMemory::new(&ctx, 64)?;
/// shm.write(0, b"hello")?;
/// assert_eq!(shm.read_vec(0, 5)?, b"hello");
/// assert_eq!(shm.fetch_add_u64(8, 5)?, 0);
/// assert_eq!(shm.load_u64(8)?, 5);
/// assert!(shm.write(62, b"four").is_err(), "out of bounds");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SharedMemory {
    pub(crate) region: Arc<Region>,
}

impl fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedMemory").field("name", &self.name()).field("len", &self.len()).finish()
    }
}

/// A region is sent to tasks as its name (the task maps it).
impl Serialize for SharedMemory {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        crate::keep::with_call(self.region.clone());
        RegionHandle(self.region.name().to_string()).serialize(serializer)
    }
}

impl SharedMemory {
    /// An anonymous zeroed region of `len` bytes — `SharedMemory(create=True, size=len)`.
    pub fn new(ctx: &Context, len: usize) -> Result<SharedMemory> {
        let _ = ctx; // see the type's docs: every shared object is made with its context
        Ok(SharedMemory { region: anonymous(len)? })
    }

    /// A new zeroed region called `name`, which stays until [`unlink`](SharedMemory::unlink) —
    /// `SharedMemory(name, create=True, size=len)`. Fails if the name exists.
    pub fn create(ctx: &Context, name: &str, len: usize) -> Result<SharedMemory> {
        let _ = ctx;
        let os = os_name(name);
        let region = Region::create(&os, len, false).map_err(|source| Error::SharedMemory { name: os, source })?;
        Ok(SharedMemory { region: Arc::new(region) })
    }

    /// Maps the existing region `name` — `SharedMemory(name)`.
    pub fn attach(ctx: &Context, name: &str) -> Result<SharedMemory> {
        let _ = ctx;
        let os = os_name(name);
        let region = Region::attach(&os).map_err(|source| Error::SharedMemory { name: os, source })?;
        Ok(SharedMemory { region: Arc::new(region) })
    }

    /// Removes the name: nobody can attach it any more; existing mappings stay valid —
    /// `shm.unlink()`. On Windows, which has no unlink, this does nothing: a name lives until the
    /// last mapping of it (in any process) is closed, as in Python.
    pub fn unlink(&self) -> Result<()> {
        Region::unlink(self.region.name())
            .map_err(|source| Error::SharedMemory { name: self.region.name().to_string(), source })
    }

    /// The region's name (`/…`).
    pub fn name(&self) -> &str {
        self.region.name()
    }

    /// The size in bytes — `shm.size`.
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Whether the region has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies `out.len()` bytes at `offset` into `out`.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), ShmError> {
        self.region.read(offset as u64, out)
    }

    /// `len` bytes at `offset`, copied out.
    pub fn read_vec(&self, offset: usize, len: usize) -> Result<Vec<u8>, ShmError> {
        let mut out = vec![0u8; len];
        self.read(offset, &mut out)?;
        Ok(out)
    }

    /// Copies `data` to `offset`.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), ShmError> {
        self.region.write(offset as u64, data)
    }

    /// Atomic load of the u32 at `offset` (4-byte aligned).
    pub fn load_u32(&self, offset: usize) -> Result<u32, ShmError> {
        Ok(self.region.load(offset as u64, 4)? as u32)
    }

    /// Atomic load of the u64 at `offset` (8-byte aligned).
    pub fn load_u64(&self, offset: usize) -> Result<u64, ShmError> {
        self.region.load(offset as u64, 8)
    }

    /// Atomic store of a u32.
    pub fn store_u32(&self, offset: usize, value: u32) -> Result<(), ShmError> {
        self.region.store(offset as u64, 4, u64::from(value))
    }

    /// Atomic store of a u64.
    pub fn store_u64(&self, offset: usize, value: u64) -> Result<(), ShmError> {
        self.region.store(offset as u64, 8, value)
    }

    /// Atomic wrapping add to a u32; returns the previous value.
    pub fn fetch_add_u32(&self, offset: usize, delta: u32) -> Result<u32, ShmError> {
        Ok(self.region.fetch_add(offset as u64, 4, u64::from(delta))? as u32)
    }

    /// Atomic wrapping add to a u64; returns the previous value.
    pub fn fetch_add_u64(&self, offset: usize, delta: u64) -> Result<u64, ShmError> {
        self.region.fetch_add(offset as u64, 8, delta)
    }

    /// Atomic compare-and-exchange of a u32: `Ok(previous)` if it was `expected` (and is now
    /// `new`), `Err(current)` otherwise.
    pub fn compare_exchange_u32(&self, offset: usize, expected: u32, new: u32) -> Result<Result<u32, u32>, ShmError> {
        let prev = self.region.compare_exchange(offset as u64, 4, u64::from(expected), u64::from(new))? as u32;
        Ok(if prev == expected { Ok(prev) } else { Err(prev) })
    }

    /// Atomic compare-and-exchange of a u64 (see [`compare_exchange_u32`](Self::compare_exchange_u32)).
    pub fn compare_exchange_u64(&self, offset: usize, expected: u64, new: u64) -> Result<Result<u64, u64>, ShmError> {
        let prev = self.region.compare_exchange(offset as u64, 8, expected, new)?;
        Ok(if prev == expected { Ok(prev) } else { Err(prev) })
    }

    /// Sleeps while the u32 at `offset` equals `expected`, until a [`notify`](Self::notify) or
    /// `timeout`. May return early: check the word again (a futex wait).
    pub fn wait_u32(&self, offset: usize, expected: u32, timeout: Option<Duration>) -> Result<(), ShmError> {
        futex::wait(self.region.word32(offset as u64)?, expected, timeout);
        Ok(())
    }

    /// Wakes up to `count` waiters on the u32 at `offset`; returns how many woke.
    pub fn notify(&self, offset: usize, count: u32) -> Result<u32, ShmError> {
        Ok(futex::wake(self.region.word32(offset as u64)?, count))
    }
}
