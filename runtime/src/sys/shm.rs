//! Named shared memory: a mapping other processes can attach by name.
//!
//! - Unix: a POSIX shared memory object (`shm_open`), mapped `MAP_SHARED`. Its name lives until
//!   [`unlink`]; macOS limits names to 31 bytes.
//! - Windows: a named file mapping backed by the paging file (`CreateFileMappingW` under
//!   `Local\`). Windows has no unlink: the name lives while any process has the mapping open, and
//!   [`unlink`] does nothing.
//!
//! macOS and Windows report an attached mapping's size rounded up to whole pages, so a region
//! attached by name there may be longer than its creator asked for (Python's `SharedMemory` has
//! the same caveat).

use std::io;

/// A mapping of a named shared memory object. Dropping it unmaps it (the name stays).
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: *mut u8,
    len: usize,
    #[cfg(windows)]
    _handle: std::os::windows::io::OwnedHandle,
}

// SAFETY: the mapping is plain shared memory; `Mapping` hands out only its address, and every
// access through it is a raw copy or an atomic, which may happen from any thread.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// The first mapped byte (dangling but aligned when `len` is 0).
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    /// How many bytes are mapped.
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
            let fd = rustix::shm::open(name, OFlags::CREATE | OFlags::EXCL | OFlags::RDWR, Mode::RUSR | Mode::WUSR)?;
            let mapped = rustix::fs::ftruncate(&fd, len as u64).map_err(io::Error::from).and_then(|()| map(&fd, len));
            if mapped.is_err() {
                let _ = rustix::shm::unlink(name);
            }
            mapped
        }

        /// Maps the existing object `name`, whatever its size.
        pub(crate) fn attach(name: &str) -> io::Result<Mapping> {
            let fd = rustix::shm::open(name, OFlags::RDWR, Mode::empty())?;
            let len = usize::try_from(rustix::fs::fstat(&fd)?.st_size)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a region of negative size"))?;
            map(&fd, len)
        }
    }

    /// Maps `len` bytes of `fd` shared, read-write; a zero-length region maps nothing.
    fn map(fd: &OwnedFd, len: usize) -> io::Result<Mapping> {
        if len == 0 {
            return Ok(Mapping { ptr: std::ptr::NonNull::<u64>::dangling().as_ptr().cast(), len });
        }
        // SAFETY: a fresh shared mapping of our descriptor at an address the kernel picks; nothing
        // else refers to that address range yet.
        let ptr = unsafe {
            rustix::mm::mmap(std::ptr::null_mut(), len, ProtFlags::READ | ProtFlags::WRITE, MapFlags::SHARED, fd, 0)
        }?;
        Ok(Mapping { ptr: ptr.cast(), len })
    }

    impl Drop for Mapping {
        fn drop(&mut self) {
            if self.len > 0 {
                // SAFETY: unmapping the mapping this handle created; no references into it outlive
                // it (users borrow the `Mapping`).
                let _ = unsafe { rustix::mm::munmap(self.ptr.cast(), self.len) };
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
            // A paging-file mapping cannot be empty: a 0-byte region still holds one byte.
            let size = len.max(1) as u64;
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
                view(handle, Some(len))
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
                view(OwnedHandle::from_raw_handle(h), None)
            }
        }
    }

    /// Maps all of `handle`; `len`: the size to report, else what the system says.
    unsafe fn view(handle: OwnedHandle, len: Option<usize>) -> io::Result<Mapping> {
        use std::os::windows::io::AsRawHandle;
        // SAFETY: a fresh view of a mapping we hold open, at an address the system picks.
        let view = unsafe { MapViewOfFile(handle.as_raw_handle(), FILE_MAP_ALL_ACCESS, 0, 0, 0) };
        if view.Value.is_null() {
            return Err(io::Error::last_os_error());
        }
        let len = match len {
            Some(len) => len,
            None => {
                // SAFETY: querying our own view; the struct is plain data.
                let mut info: MEMORY_BASIC_INFORMATION = unsafe { std::mem::zeroed() };
                let got = unsafe { VirtualQuery(view.Value, &mut info, std::mem::size_of_val(&info)) };
                if got == 0 {
                    return Err(io::Error::last_os_error());
                }
                info.RegionSize
            }
        };
        Ok(Mapping { ptr: view.Value.cast(), len, _handle: handle })
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
        assert!(b.len() >= 64);
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
