//! A shared memory region: a named shared memory object (`sys::shm`) mapped into the host and into
//! every worker that attaches it by name.
//!
//! Only a raw pointer into the mapping is held: another process may write it at any time, so a
//! `&[u8]` over it would be unsound. Bytes are copied in and out (`read`/`write`); words are
//! accessed through atomics, which is also what the futex calls need. Every access is bounds and
//! alignment checked (`wasmproc_wire::shm`), so a bad offset is a [`ShmError`], never a crash.

use crate::sys::shm::{self, Mapping};
use std::io;
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering};
use wasmproc_wire::ShmError;
use wasmproc_wire::shm::{check_atomic, check_bounds};

/// A mapped region. Dropping it unmaps it (and unlinks the name if this handle owns it).
#[derive(Debug)]
pub(crate) struct Region {
    name: String,
    /// Where the mapping starts, and how long it is (copied out of `mapping`: read on every access).
    ptr: *mut u8,
    len: usize,
    owner: bool,
    _mapping: Mapping,
}

// SAFETY: the region is plain shared memory; every access goes through raw-pointer copies or
// atomics, which may happen from any thread.
unsafe impl Send for Region {}
// SAFETY: as above: no `&`/`&mut` to the bytes is ever handed out except atomics.
unsafe impl Sync for Region {}

/// The `shm_open` name for a user-facing name (`/` is prepended, as POSIX wants).
pub(crate) fn os_name(name: &str) -> String {
    if name.starts_with('/') { name.to_string() } else { format!("/{name}") }
}

impl Region {
    /// Whether any of a call's `objects` is a region (a `SharedMemory`, `Value`, `Array` or lock).
    pub(crate) fn among(objects: &crate::keep::KeepAlive) -> bool {
        objects.iter().any(|o| o.downcast_ref::<Region>().is_some())
    }

    /// Creates a new region of `len` bytes (zeroed) under `name`; fails if the name exists.
    /// `owner`: unlink the name when this handle is dropped.
    pub(crate) fn create(name: &str, len: usize, owner: bool) -> io::Result<Region> {
        let mapping = Mapping::create(name, len)?;
        Ok(Region { name: name.to_string(), ptr: mapping.ptr(), len: mapping.len(), owner, _mapping: mapping })
    }

    /// Maps the existing region `name`, whatever its size.
    pub(crate) fn attach(name: &str) -> io::Result<Region> {
        let mapping = Mapping::attach(name)?;
        Ok(Region { name: name.to_string(), ptr: mapping.ptr(), len: mapping.len(), owner: false, _mapping: mapping })
    }

    /// Removes `name`: it can no longer be attached; existing mappings stay valid.
    pub(crate) fn unlink(name: &str) -> io::Result<()> {
        shm::unlink(name)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// A pointer to `len` bytes at `offset`, bounds checked.
    fn at(&self, offset: u64, len: u64) -> Result<*mut u8, ShmError> {
        check_bounds(offset, len, self.len as u64)?;
        Ok(self.ptr.wrapping_add(offset as usize))
    }

    /// Copies `out.len()` bytes at `offset` into `out`.
    pub(crate) fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), ShmError> {
        let src = self.at(offset, out.len() as u64)?;
        // SAFETY: `src..src+len` is inside the mapping (checked), `out` is a distinct local buffer.
        unsafe { std::ptr::copy_nonoverlapping(src, out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    /// Copies `data` to `offset`.
    pub(crate) fn write(&self, offset: u64, data: &[u8]) -> Result<(), ShmError> {
        let dst = self.at(offset, data.len() as u64)?;
        // SAFETY: `dst..dst+len` is inside the mapping (checked), `data` is a distinct buffer.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len()) };
        Ok(())
    }

    fn aligned(&self, offset: u64, width: u64) -> Result<*mut u8, ShmError> {
        check_atomic(offset, width, self.len as u64)?;
        Ok(self.ptr.wrapping_add(offset as usize))
    }

    /// The 32-bit word at `offset` (aligned, in bounds).
    pub(crate) fn word32(&self, offset: u64) -> Result<&AtomicU32, ShmError> {
        // SAFETY: aligned, in bounds, and the mapping lives as long as `self`; AtomicU32 has the
        // layout of u32 and is the only way this word is accessed in place.
        self.aligned(offset, 4).map(|p| unsafe { AtomicU32::from_ptr(p.cast()) })
    }

    /// Atomic load of a `width`-byte (1, 2, 4, 8) unsigned integer.
    pub(crate) fn load(&self, offset: u64, width: u64) -> Result<u64, ShmError> {
        self.rmw(offset, width, |a| a.load(Ordering::SeqCst))
    }

    /// Atomic store.
    pub(crate) fn store(&self, offset: u64, width: u64, value: u64) -> Result<(), ShmError> {
        self.rmw(offset, width, |a| {
            a.store(value);
            0
        })
        .map(|_| ())
    }

    /// Atomic wrapping add; returns the previous value.
    pub(crate) fn fetch_add(&self, offset: u64, width: u64, delta: u64) -> Result<u64, ShmError> {
        self.rmw(offset, width, |a| a.fetch_add(delta))
    }

    /// Atomic compare-and-exchange; returns the previous value (equal to `expected` on success).
    pub(crate) fn compare_exchange(&self, offset: u64, width: u64, expected: u64, new: u64) -> Result<u64, ShmError> {
        self.rmw(offset, width, |a| a.compare_exchange(expected, new))
    }

    fn rmw(&self, offset: u64, width: u64, f: impl FnOnce(AnyAtomic<'_>) -> u64) -> Result<u64, ShmError> {
        let p = self.aligned(offset, width)?;
        // SAFETY: aligned and in bounds for `width`, one of 1, 2, 4, 8 (checked); see `word32`.
        let atomic = unsafe {
            match width {
                1 => AnyAtomic::W8(AtomicU8::from_ptr(p)),
                2 => AnyAtomic::W16(AtomicU16::from_ptr(p.cast())),
                4 => AnyAtomic::W32(AtomicU32::from_ptr(p.cast())),
                _ => AnyAtomic::W64(AtomicU64::from_ptr(p.cast())),
            }
        };
        Ok(f(atomic))
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if self.owner {
            let _ = Region::unlink(&self.name);
        }
    }
}

/// An atomic of one of the four widths, values widened to u64.
enum AnyAtomic<'a> {
    W8(&'a AtomicU8),
    W16(&'a AtomicU16),
    W32(&'a AtomicU32),
    W64(&'a AtomicU64),
}

impl AnyAtomic<'_> {
    fn load(&self, o: Ordering) -> u64 {
        match self {
            AnyAtomic::W8(a) => u64::from(a.load(o)),
            AnyAtomic::W16(a) => u64::from(a.load(o)),
            AnyAtomic::W32(a) => u64::from(a.load(o)),
            AnyAtomic::W64(a) => a.load(o),
        }
    }

    fn store(&self, v: u64) {
        let o = Ordering::SeqCst;
        match self {
            AnyAtomic::W8(a) => a.store(v as u8, o),
            AnyAtomic::W16(a) => a.store(v as u16, o),
            AnyAtomic::W32(a) => a.store(v as u32, o),
            AnyAtomic::W64(a) => a.store(v, o),
        }
    }

    fn fetch_add(&self, v: u64) -> u64 {
        let o = Ordering::SeqCst;
        match self {
            AnyAtomic::W8(a) => u64::from(a.fetch_add(v as u8, o)),
            AnyAtomic::W16(a) => u64::from(a.fetch_add(v as u16, o)),
            AnyAtomic::W32(a) => u64::from(a.fetch_add(v as u32, o)),
            AnyAtomic::W64(a) => a.fetch_add(v, o),
        }
    }

    fn compare_exchange(&self, expected: u64, new: u64) -> u64 {
        let o = Ordering::SeqCst;
        let either = |r: Result<u64, u64>| r.unwrap_or_else(|v| v);
        match self {
            AnyAtomic::W8(a) => {
                either(a.compare_exchange(expected as u8, new as u8, o, o).map(u64::from).map_err(u64::from))
            }
            AnyAtomic::W16(a) => {
                either(a.compare_exchange(expected as u16, new as u16, o, o).map(u64::from).map_err(u64::from))
            }
            AnyAtomic::W32(a) => {
                either(a.compare_exchange(expected as u32, new as u32, o, o).map(u64::from).map_err(u64::from))
            }
            AnyAtomic::W64(a) => either(a.compare_exchange(expected, new, o, o)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_attach_share_and_bounds() {
        let name = format!("/wasmproc-test-{}-region", std::process::id());
        let a = Region::create(&name, 64, true).unwrap();
        assert!(Region::create(&name, 64, false).is_err(), "names are exclusive");
        let b = Region::attach(&name).unwrap();
        assert_eq!(b.len(), 64);
        a.write(8, b"hello").unwrap();
        let mut out = [0u8; 5];
        b.read(8, &mut out).unwrap();
        assert_eq!(&out, b"hello");
        assert_eq!(b.fetch_add(0, 8, 5).unwrap(), 0);
        assert_eq!(a.load(0, 8).unwrap(), 5);
        assert_eq!(a.compare_exchange(0, 8, 5, 7).unwrap(), 5);
        assert_eq!(a.compare_exchange(0, 8, 5, 9).unwrap(), 7, "a failed exchange returns the current value");
        assert_eq!(a.write(60, b"12345"), Err(ShmError::OutOfBounds { offset: 60, len: 5, size: 64 }));
        assert_eq!(a.load(u64::MAX, 8), Err(ShmError::Misaligned { offset: u64::MAX, width: 8 }));
        assert_eq!(a.load(4, 8), Err(ShmError::Misaligned { offset: 4, width: 8 }));
        assert!(a.word32(64).is_err());
        drop(a);
        // (Windows has no unlink: there the name lives while `b` maps it.)
        #[cfg(unix)]
        assert!(Region::attach(&name).is_err(), "the owner unlinked it");
        let mut still = [0u8; 5];
        b.read(8, &mut still).unwrap();
        assert_eq!(&still, b"hello", "existing mappings outlive the name");
    }
}
