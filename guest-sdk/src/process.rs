//! Python's `multiprocessing.current_process()` inside a task.

/// The process a task runs in — Python's `multiprocessing.current_process()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// The process's name: `pool<N>-<slot>` for a pool worker, or the name a `Process` was given.
    pub name: String,
    /// The operating-system process id of the worker.
    pub pid: u32,
    /// The worker's slot in its pool (0 for a `Process`).
    pub worker_id: u32,
    /// The process id of the host program that started the worker.
    pub parent_pid: u32,
}

/// Information about the current process, as `multiprocessing.current_process()` gives it.
///
/// ```no_run
/// #[wasmproc_guest::task]
/// fn whoami() -> String {
///     let me = wasmproc_guest::current_process();
///     format!("{} (pid {}, parent {})", me.name, me.pid, me.parent_pid)
/// }
/// ```
pub fn current_process() -> ProcessInfo {
    let info = crate::bindings::wasmproc::task::process::current();
    ProcessInfo { name: info.name, pid: info.pid, worker_id: info.worker_id, parent_pid: info.parent_pid }
}
