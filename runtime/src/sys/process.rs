//! Processes: stopping a worker "by signal", reading how it ended, waiting for it without reaping
//! it, ending one at once, and making sure none outlives its host.
//!
//! Signals are the vocabulary on every platform (`Process::terminate` is SIGTERM, `kill` SIGKILL,
//! and an exit code of `-N` means "stopped by signal N", as in Python). Windows has no signals:
//! stopping a worker with signal N is `TerminateProcess` with exit code `0x10000 + N`, and
//! [`signal_of`] reads that back, so a terminated process reports -15 and a killed one -9 there
//! too (Python uses exit code `0x10000` for its `terminate` on Windows).
//!
//! Orphans: on Unix a worker exits when its channel reaches end of file (the host died). On
//! Windows every worker process is also put in a Job object that the host holds and that kills
//! its processes when it closes ([`kill_with_host`]), so a worker stuck in a guest ends with its
//! host too.

use std::process::{Child, ExitStatus};

/// The exit code base of a Windows worker stopped "by signal" N (`0x10000 + N`).
#[cfg(windows)]
pub(crate) const SIGNALLED: u32 = 0x1_0000;

/// Stops process `pid` with `signal` (see the module docs for Windows). The caller has not
/// reaped it, so the pid cannot have been reused.
pub(crate) fn kill(pid: u32, signal: i32) {
    imp::kill(pid, signal)
}

/// The signal that stopped the process, if one did.
pub(crate) fn signal_of(status: &ExitStatus) -> Option<i32> {
    #[cfg(unix)]
    {
        std::os::unix::process::ExitStatusExt::signal(status)
    }
    #[cfg(windows)]
    {
        let code = status.code()? as u32;
        (code & !0xff == SIGNALLED).then_some((code & 0xff) as i32)
    }
}

/// The status of a worker that was stopped by `signal` (if not 0) or exited with `code`: what a
/// thread worker reports, so that it reads like a process's.
pub(crate) fn status(signal: i32, code: i32) -> ExitStatus {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if signal != 0 { ExitStatus::from_raw(signal) } else { ExitStatus::from_raw((code & 0xff) << 8) }
    }
    #[cfg(windows)]
    {
        use std::os::windows::process::ExitStatusExt;
        if signal != 0 { ExitStatus::from_raw(SIGNALLED + signal as u32) } else { ExitStatus::from_raw(code as u32) }
    }
}

/// Blocks until child `pid` has exited, leaving it unreaped (its pid stays reserved).
pub(crate) fn wait_exited(pid: u32) {
    imp::wait_exited(pid)
}

/// Ends this process at once with `code`, without atexit handlers or thread-local destructors
/// (stdout is flushed first).
pub(crate) fn quick_exit(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    imp::quick_exit(code)
}

/// Makes sure `child` dies when this process does, however it ends (Windows; on Unix a worker
/// sees its channel close and exits by itself).
pub(crate) fn kill_with_host(child: &Child) {
    imp::kill_with_host(child)
}

/// Something to wait on until process `pid` has exited (Windows: a handle to the process).
#[cfg(windows)]
pub(crate) fn exit_waiter(pid: u32) -> std::io::Result<imp::ExitWaiter> {
    imp::ExitWaiter::open(pid)
}

/// This machine's name.
pub(crate) fn hostname() -> String {
    imp::hostname()
}

#[cfg(unix)]
mod imp {
    use rustix::process::{Pid, Signal, WaitId, WaitIdOptions};
    use std::process::Child;

    pub(super) fn kill(pid: u32, signal: i32) {
        if let (Some(pid), Some(sig)) = (Pid::from_raw(pid as i32), Signal::from_named_raw(signal)) {
            let _ = rustix::process::kill_process(pid, sig);
        }
    }

    pub(super) fn wait_exited(pid: u32) {
        let Some(pid) = Pid::from_raw(pid as i32) else { return };
        while let Err(rustix::io::Errno::INTR) =
            rustix::process::waitid(WaitId::Pid(pid), WaitIdOptions::EXITED | WaitIdOptions::NOWAIT)
        {}
    }

    pub(super) fn quick_exit(code: i32) -> ! {
        // SAFETY: `_exit` has no preconditions; it ends the process without running any code of it.
        unsafe { libc::_exit(code) }
    }

    pub(super) fn kill_with_host(_child: &Child) {}

    pub(super) fn hostname() -> String {
        rustix::system::uname().nodename().to_string_lossy().into_owned()
    }
}

#[cfg(windows)]
mod imp {
    use std::os::windows::io::AsRawHandle;
    use std::process::Child;
    use std::sync::OnceLock;
    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
    use windows_sys::Win32::System::JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation, SetInformationJobObject,
    };
    use windows_sys::Win32::System::Threading::{
        INFINITE, OpenProcess, PROCESS_SYNCHRONIZE, PROCESS_TERMINATE, TerminateProcess, WaitForSingleObject,
    };

    pub(super) fn kill(pid: u32, signal: i32) {
        // SAFETY: plain calls on a handle we open and close.
        unsafe {
            let h = OpenProcess(PROCESS_TERMINATE, 0, pid);
            if !h.is_null() {
                TerminateProcess(h, super::SIGNALLED + signal as u32);
                CloseHandle(h);
            }
        }
    }

    pub(super) fn wait_exited(pid: u32) {
        if let Ok(waiter) = ExitWaiter::open(pid) {
            waiter.wait();
        }
    }

    pub(super) fn quick_exit(code: i32) -> ! {
        std::process::exit(code)
    }

    /// A process handle to wait on.
    #[derive(Debug)]
    pub(crate) struct ExitWaiter(std::os::windows::io::OwnedHandle);

    impl ExitWaiter {
        pub(super) fn open(pid: u32) -> std::io::Result<ExitWaiter> {
            use std::os::windows::io::FromRawHandle;
            // SAFETY: opening a process handle that we then own.
            let h = unsafe { OpenProcess(PROCESS_SYNCHRONIZE, 0, pid) };
            if h.is_null() {
                return Err(std::io::Error::last_os_error());
            }
            // SAFETY: `h` is a fresh handle nothing else owns.
            Ok(ExitWaiter(unsafe { std::os::windows::io::OwnedHandle::from_raw_handle(h) }))
        }

        /// Blocks until the process has exited.
        pub(crate) fn wait(&self) {
            // SAFETY: waiting on a live handle we own.
            unsafe { WaitForSingleObject(self.0.as_raw_handle(), INFINITE) };
        }
    }

    /// The host's job: created on first use, never closed (it closes when the host ends).
    struct Job(HANDLE);
    // SAFETY: a job handle may be used from any thread.
    unsafe impl Send for Job {}
    // SAFETY: as above.
    unsafe impl Sync for Job {}

    pub(super) fn kill_with_host(child: &Child) {
        static JOB: OnceLock<Option<Job>> = OnceLock::new();
        let job = JOB.get_or_init(|| {
            // SAFETY: creating an unnamed job and setting a plain-data limit on it.
            unsafe {
                let job = CreateJobObjectW(std::ptr::null(), std::ptr::null());
                if job.is_null() {
                    return None;
                }
                let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = std::mem::zeroed();
                limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
                let ok = SetInformationJobObject(
                    job,
                    JobObjectExtendedLimitInformation,
                    (&raw const limits).cast(),
                    std::mem::size_of_val(&limits) as u32,
                );
                if ok == 0 {
                    CloseHandle(job);
                    return None;
                }
                Some(Job(job))
            }
        });
        if let Some(Job(job)) = job {
            // SAFETY: both handles are live; failing (the child already in another job that does
            // not allow nesting) leaves the child to end with its channel, as on Unix.
            unsafe { AssignProcessToJobObject(*job, child.as_raw_handle()) };
        }
    }

    pub(super) fn hostname() -> String {
        std::env::var("COMPUTERNAME").unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_synthetic_status_reads_back() {
        assert_eq!(signal_of(&status(9, 0)), Some(9));
        assert_eq!(signal_of(&status(0, 3)), None);
        assert_eq!(status(0, 3).code(), Some(3));
    }

    /// The Job object on its own: a child that is not a worker (nothing watches a channel) still
    /// ends when its host is killed.
    #[cfg(windows)]
    #[test]
    fn a_child_in_the_hosts_job_ends_when_the_host_is_killed() {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        use std::time::Duration;
        const ROLE: &str = "WASMPROC_TEST_JOB_ROLE";
        let name = "sys::process::tests::a_child_in_the_hosts_job_ends_when_the_host_is_killed";
        let exe = std::env::current_exe().unwrap();
        let this_test = |role: &str| {
            let mut cmd = Command::new(&exe);
            cmd.args(["--exact", name, "--nocapture", "--test-threads=1"]).env(ROLE, role);
            cmd
        };
        match std::env::var(ROLE).as_deref() {
            Ok("child") => return std::thread::sleep(Duration::from_secs(60)),
            Ok("host") => {
                let mut child = this_test("child").stdout(Stdio::null()).spawn().unwrap();
                kill_with_host(&child);
                println!("CHILD {}", child.id());
                std::thread::sleep(Duration::from_secs(60));
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            _ => {}
        }
        let mut host = this_test("host").stdout(Stdio::piped()).spawn().unwrap();
        let mut out = std::io::BufReader::new(host.stdout.take().unwrap());
        let mut line = String::new();
        let child: u32 = loop {
            line.clear();
            assert!(out.read_line(&mut line).unwrap() > 0, "the host exited before it started its child");
            // libtest may print the test's name on the same line.
            if let Some(pid) = line.trim().split("CHILD ").nth(1) {
                break pid.parse().unwrap();
            }
        };
        let waiter = exit_waiter(child).expect("the child runs while its host does");
        host.kill().unwrap();
        host.wait().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            waiter.wait();
            let _ = tx.send(());
        });
        assert!(rx.recv_timeout(Duration::from_secs(10)).is_ok(), "child {child} outlived its killed host");
    }
}
