//! Named shared memory: a mapping other processes can attach by name.
//!
//! - Unix: a POSIX shared memory object (`shm_open`), mapped `MAP_SHARED`. Its name lives until
//!   [`unlink`]; macOS limits names to 31 bytes.
//! - Windows: a named file mapping backed by the paging file (`CreateFileMappingW` under
//!   `Local\`). Windows has no unlink: the name lives while any process has the mapping open, and
//!   [`unlink`] does nothing.
//!
//! macOS and Windows report an object's size rounded up to whole pages (so Python's
//! `SharedMemory` attached by name there can be longer than its creator asked for). Here the
//! creator makes the object a whole number of pages with room for a trailer, the last 8 bytes,
//! holding the size it asked for, and an attacher reads it back: a region is the same size in
//! every process on every platform. (Linux needs no trailer: `fstat` gives the exact size.)

use std::io;

/// A mapping of a named shared memory object. Dropping it unmaps it (the name stays).
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: *mut u8,
    /// The size the creator asked for.
    len: usize,
    /// How much is mapped (`len`, or more: see the module docs); Windows unmaps without it.
    #[cfg_attr(windows, allow(dead_code))]
    mapped: usize,
    #[cfg(windows)]
    _handle: std::os::windows::io::OwnedHandle,
}

// SAFETY: the mapping is plain shared memory; `Mapping` hands out only its address, and every
// access through it is a raw copy or an atomic, which may happen from any thread.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

/// Whether objects carry the size trailer (see the module docs).
const TRAILER: bool = cfg!(not(any(target_os = "linux", target_os = "android")));

/// How much to map for a region of `len` bytes: with the trailer, whole pages.
fn mapped_len(len: usize) -> io::Result<usize> {
    if !TRAILER {
        return Ok(len);
    }
    #[cfg(unix)]
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096).max(4096);
    #[cfg(windows)]
    let page = 4096;
    len.checked_add(8 + page - 1).map(|n| n / page * page).ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))
}

impl Mapping {
    /// A mapping of `mapped` bytes at `ptr` whose creator asked for `len` (`None`: read it from
    /// the trailer). Writes the trailer of a new object.
    fn trailer(ptr: *mut u8, mapped: usize, len: Option<usize>) -> io::Result<(*mut u8, usize)> {
        if !TRAILER || mapped == 0 {
            return Ok((ptr, len.unwrap_or(mapped)));
        }
        let at = mapped.checked_sub(8).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no size trailer"))?;
        // SAFETY: `ptr` maps `mapped` ≥ 8 bytes; the trailer is read and written unaligned, by
        // copy, and only by this code.
        unsafe {
            let trailer = ptr.add(at).cast::<[u8; 8]>();
            match len {
                Some(len) => {
                    trailer.write_unaligned((len as u64).to_le_bytes());
                    Ok((ptr, len))
                }
                None => {
                    let len = u64::from_le_bytes(trailer.read_unaligned());
                    match usize::try_from(len) {
                        Ok(len) if len <= at => Ok((ptr, len)),
                        _ => {
                            Err(io::Error::new(io::ErrorKind::InvalidData, "not a wasmproc region (bad size trailer)"))
                        }
                    }
                }
            }
        }
    }

    /// The first mapped byte (dangling but aligned when `len` is 0).
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// How many bytes the region has (what its creator asked for).
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(unix)]
mod imp {
    use super::Mapping;
    use rustix::fs::Mode;
    use rustix::mm::{MapFlags, ProtFlags};
    use rustix::shm::OFlags;
    use std::io;
    use std::os::fd::OwnedFd;

    impl Mapping {
        /// Creates the object `name` with `len` zeroed bytes and maps it; fails if the name exists.
        pub(crate) fn create(name: &str, len: usize) -> io::Result<Mapping> {
            let size = super::mapped_len(len)?;
            let fd = rustix::shm::open(name, OFlags::CREATE | OFlags::EXCL | OFlags::RDWR, Mode::RUSR | Mode::WUSR)?;
            let mapped = rustix::fs::ftruncate(&fd, size as u64)
                .map_err(io::Error::from)
                .and_then(|()| map(&fd, size, Some(len)));
            if mapped.is_err() {
                let _ = rustix::shm::unlink(name);
            }
            mapped
        }

        /// Maps the existing object `name`, whatever its size.
        pub(crate) fn attach(name: &str) -> io::Result<Mapping> {
            let fd = rustix::shm::open(name, OFlags::RDWR, Mode::empty())?;
            let size = usize::try_from(rustix::fs::fstat(&fd)?.st_size)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a region of negative size"))?;
            map(&fd, size, None)
        }
    }

    /// Maps `size` bytes of `fd` shared, read-write (`len`: see `Mapping::trailer`); a zero-length
    /// region maps nothing.
    fn map(fd: &OwnedFd, size: usize, len: Option<usize>) -> io::Result<Mapping> {
        if size == 0 {
            return Ok(Mapping { ptr: std::ptr::NonNull::<u64>::dangling().as_ptr().cast(), len: 0, mapped: 0 });
        }
        // SAFETY: a fresh shared mapping of our descriptor at an address the kernel picks; nothing
        // else refers to that address range yet.
        let ptr = unsafe {
            rustix::mm::mmap(std::ptr::null_mut(), size, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED, fd, 0)
        }?;
        let mapping = |(ptr, len)| Mapping { ptr, len, mapped: size };
        match Mapping::trailer(ptr.cast(), size, len) {
            Ok(parts) => Ok(mapping(parts)),
            Err(e) => {
                drop(mapping((ptr.cast(), 0)));
                Err(e)
            }
        }
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            if self.mapped > 0 {
                // SAFETY: unmapping the mapping this handle created; no references into it outlive
                // it (users borrow the `Mapping`).
                let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), self.mapped) };
            }
        }
    }

    pub(super) fn unlink(name: &str) -> io::Result<()> {
        Ok(rustix::shm::unlink(name)?)
    }
}

#[cfg(windows)]
mod imp {
    use super::Mapping;
    use std::io;
    use std::os::windows::io::{FromRawHandle, OwnedHandle};
    use windows_sys::Win32::Foundation::{ERROR_ALREADY_EXISTS, GetLastError, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::System::Memory::{
        CreateFileMappingW, FILE_MAP_ALL_ACCESS, MEMORY_BASIC_INFORMATION, MEMORY_MAPPED_VIEW_ADDRESS, MapViewOfFile,
        OpenFileMappingW, PAGE_READWRITE, UnmapViewOfFile, VirtualQuery,
    };

    /// `Local\` + the name without POSIX's leading `/`, as UTF-16 with a terminating 0.
    fn wide(name: &str) -> Vec<u16> {
        format!("Local\\{}", name.trim_start_matches('/')).encode_utf16().chain(Some(0)).collect()
    }

    impl Mapping {
        /// Creates the mapping `name` with `len` zeroed bytes; fails if the name exists.
        pub(crate) fn create(name: &str, len: usize) -> io::Result<Mapping> {
            // With the trailer, never empty (a paging-file mapping cannot be).
            let size = super::mapped_len(len)? as u64;
            // SAFETY: plain calls; the name is a valid, terminated UTF-16 string.
            unsafe {
                let h = CreateFileMappingW(
                    INVALID_HANDLE_VALUE,
                    std::ptr::null(),
                    PAGE_READWRITE,
                    (size >> 32) as u32,
                    size as u32,
                    wide(name).as_ptr(),
                );
                if h.is_null() {
                    return Err(io::Error::last_os_error());
                }
                let exists = GetLastError() == ERROR_ALREADY_EXISTS;
                let handle = OwnedHandle::from_raw_handle(h);
                if exists {
                    return Err(io::Error::from(io::ErrorKind::AlreadyExists));
                }
                view(handle, size as usize, Some(len))
            }
        }

        /// Maps the existing mapping `name`, whatever its size (whole pages, see the module).
        pub(crate) fn attach(name: &str) -> io::Result<Mapping> {
            // SAFETY: as above.
            unsafe {
                let h = OpenFileMappingW(FILE_MAP_ALL_ACCESS, 0, wide(name).as_ptr());
                if h.is_null() {
                    return Err(io::Error::last_os_error());
                }
                view(OwnedHandle::from_raw_handle(h), 0, None)
            }
        }
    }

    /// Maps all of `handle`, `size` bytes (0: as many as the system says); `len`: see
    /// `Mapping::new`.
    unsafe fn view(handle: OwnedHandle, size: usize, len: Option<usize>) -> io::Result<Mapping> {
        use std::os::windows::io::AsRawHandle;
        // SAFETY: a fresh view of a mapping we hold open, at an address the system picks.
        let view = unsafe { MapViewOfFile(handle.as_raw_handle(), FILE_MAP_ALL_ACCESS, 0, 0, 0) };
        if view.Value.is_null() {
            return Err(io::Error::last_os_error());
        }
        let size = match size {
            0 => {
                // SAFETY: querying our own view; the struct is plain data.
                let mut info: MEMORY_BASIC_INFORMATION = unsafe { std::mem::zeroed() };
                let got = unsafe { VirtualQuery(view.Value, &mut info, std::mem::size_of_val(&info)) };
                if got == 0 {
                    return Err(io::Error::last_os_error());
                }
                info.RegionSize
            }
            size => size,
        };
        let (ptr, len) = match Mapping::trailer(view.Value.cast(), size, len) {
            Ok(parts) => parts,
            Err(e) => {
                // SAFETY: unmapping the view made above, which nothing else refers to.
                unsafe { UnmapViewOfFile(view) };
                return Err(e);
            }
        };
        Ok(Mapping { ptr, len, mapped: size, _handle: handle })
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            // SAFETY: unmapping the view this handle created; nothing borrows it past `self`.
            let _ = unsafe { UnmapViewOfFile(MEMORY_MAPPED_VIEW_ADDRESS { Value: self.ptr.cast() }) };
        }
    }

    pub(super) fn unlink(_name: &str) -> io::Result<()> {
        Ok(())
    }
}

/// Removes `name`: it can no longer be attached; existing mappings stay valid. (Nothing on
/// Windows, where the name lives while the mapping is open anywhere.)
pub(crate) fn unlink(name: &str) -> io::Result<()> {
    imp::unlink(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_mapping_is_seen_by_name() {
        let name = format!("/wasmproc-sys-test-{}", std::process::id());
        let a = Mapping::create(&name, 64).unwrap();
        assert_eq!(a.len(), 64);
        assert!(Mapping::create(&name, 64).is_err(), "the name is taken");
        let b = Mapping::attach(&name).unwrap();
        assert_eq!(b.len(), 64, "the size its creator asked for");
        // SAFETY: both point at 64 mapped bytes of the same object; no references are formed.
        unsafe {
            a.ptr().add(3).write_volatile(42);
            assert_eq!(b.ptr().add(3).read_volatile(), 42);
        }
        unlink(&name).unwrap();
        drop((a, b));
        #[cfg(unix)]
        assert!(Mapping::attach(&name).is_err(), "gone once unlinked");
    }
}
