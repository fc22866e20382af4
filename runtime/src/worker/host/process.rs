//! The `wasmproc:task/process` interface: `current_process()`.

use super::super::GuestState;
use super::wasmproc::task::process;

impl process::Host for GuestState {
    fn current(&mut self) -> process::ProcessInfo {
        let p = &self.process;
        process::ProcessInfo { name: p.name.to_string(), pid: p.pid, worker_id: p.worker_id, parent_pid: p.parent_pid }
    }
}
