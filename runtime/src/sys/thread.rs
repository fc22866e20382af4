//! Who owns a lock: a number for the calling thread that is unique on this machine while the
//! thread lives, and whether the owner behind such a number still lives. Lock words hold it in
//! their low 31 bits (bit 31 marks waiters).
//!
//! - Linux: the kernel thread id (`gettid`, below `pid_max` ≤ 2²²); alive if `kill(tid, 0)` finds
//!   it.
//! - macOS has no machine-wide 32-bit thread id: the number is the process id shifted left by 12
//!   plus the thread's number within its process (so 4096 threads per process before numbers
//!   repeat); a lock whose owner's *process* is gone is taken over, one whose owner thread ended
//!   inside a live process is not.
//! - Windows: `GetCurrentThreadId` (thread ids are unique across the machine); alive while
//!   `OpenThread` finds the thread and it has not exited.

/// The calling thread's number (cached: a system call per lock operation would cost more than the
/// lock).
pub(crate) fn id() -> u32 {
    thread_local! {
        static ID: u32 = imp::id();
    }
    let id = ID.with(|t| *t);
    debug_assert!(id != 0 && id < 1 << 31, "a thread number fits a lock word's 31 bits and is never 0");
    id
}

/// Whether the thread numbered `id` (see [`id`]) still exists, anywhere on this machine.
pub(crate) fn alive(id: u32) -> bool {
    imp::alive(id)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    pub(super) fn id() -> u32 {
        rustix::thread::gettid().as_raw_nonzero().get() as u32
    }

    pub(super) fn alive(tid: u32) -> bool {
        super::exists(tid as i32)
    }
}

/// Whether process (or, on Linux, thread) `pid` exists: signal 0 only checks for existence, and
/// EPERM means it exists but is not ours.
#[cfg(unix)]
fn exists(pid: i32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid) else { return false };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
mod imp {
    use std::sync::atomic::{AtomicU32, Ordering};

    const THREAD_BITS: u32 = 12;

    pub(super) fn id() -> u32 {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed) & ((1 << THREAD_BITS) - 1);
        (std::process::id() << THREAD_BITS) | n
    }

    pub(super) fn alive(id: u32) -> bool {
        super::exists((id >> THREAD_BITS) as i32)
    }
}

#[cfg(windows)]
mod imp {
    use windows_sys::Win32::Foundation::{CloseHandle, ERROR_ACCESS_DENIED, GetLastError, STILL_ACTIVE};
    use windows_sys::Win32::System::Threading::{
        GetCurrentThreadId, GetExitCodeThread, OpenThread, THREAD_QUERY_LIMITED_INFORMATION,
    };

    pub(super) fn id() -> u32 {
        // SAFETY: no preconditions.
        unsafe { GetCurrentThreadId() }
    }

    pub(super) fn alive(tid: u32) -> bool {
        // SAFETY: plain calls on a handle we own and close.
        unsafe {
            let handle = OpenThread(THREAD_QUERY_LIMITED_INFORMATION, 0, tid);
            if handle.is_null() {
                // Not ours to look at, but there.
                return GetLastError() == ERROR_ACCESS_DENIED;
            }
            let mut code = 0u32;
            let running = GetExitCodeThread(handle, &mut code) != 0 && code == STILL_ACTIVE as u32;
            CloseHandle(handle);
            running
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_alive_until_it_ends_and_numbers_differ() {
        let me = id();
        assert!(alive(me));
        let (other, join) = {
            let (tx, rx) = std::sync::mpsc::channel();
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let join = std::thread::spawn(move || {
                tx.send(id()).unwrap();
                let _ = go_rx.recv();
            });
            let other = rx.recv().unwrap();
            assert!(alive(other), "a running thread is alive");
            drop(go_tx);
            (other, join)
        };
        join.join().unwrap();
        assert_ne!(me, other);
        #[cfg(not(target_vendor = "apple"))]
        assert!(!alive(other), "an ended thread is not");
    }
}
