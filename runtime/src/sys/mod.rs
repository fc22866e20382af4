//! The platform layer: everything the host and its workers need from the operating system that
//! differs between Linux, macOS and Windows, one mechanism per file. Nothing above this module
//! names an OS; nothing here knows about pools, brokers or guests.
//!
//! | mechanism | Linux | macOS | Windows |
//! |---|---|---|---|
//! | [`channel`]: host ↔ worker byte stream | UDS socketpair, child end as fd 0 | same | loopback TCP, the worker connects back with a one-time token |
//! | [`bell`]: wake a thread polling a channel; poll for its end alone | eventfd, `POLLRDHUP` | none (the reader blocks in `read`) | none |
//! | [`futex`]: wait/wake on a shared word | shared futex | `os_sync_wait_on_address` (shared; macOS 14.4+) | polling with backoff (no cross-process wait-on-address exists) |
//! | [`shm`]: named shared memory | `shm_open` + `mmap` | same | named file mapping (`CreateFileMappingW`) |
//! | [`thread`]: lock owners | `gettid`, `kill(tid, 0)` | pid + thread number, `kill(pid, 0)` | `GetCurrentThreadId`, `OpenThread` |
//! | [`process`]: signals, exit statuses, reaping, orphans | signals, `waitid`, socket EOF | same | `TerminateProcess` with exit code `0x10000 + signal`, a kill-on-close Job object |
//!
//! The fork server (`spawn::forkserver`, `worker::forkserver`, `ipc::forkserver`) uses pidfds and
//! is Linux only; elsewhere `StartMethod::Process` starts workers as `StartMethod::Spawn` does.

pub(crate) mod bell;
pub(crate) mod channel;
pub(crate) mod futex;
pub(crate) mod process;
pub(crate) mod shm;
pub(crate) mod thread;
