//! The host side of the `wasmproc:task/host` interface.

use super::GuestState;
use super::bindings::wasmproc::task::{host, process, types};
use crate::outcomes;

impl types::Host for GuestState {}

impl host::Host for GuestState {
    fn emit(&mut self, first: u32, buf: Vec<u8>) {
        // The SDK emits each outcome once, in order. A hand-written guest that does not is recorded
        // (and its chunk failed) rather than trusted to line up.
        if self.emit_error.is_some() {
            return;
        }
        match outcomes::count(&buf) {
            Some(n) if first == self.emitted_count => {
                self.emitted.extend_from_slice(&buf);
                self.emitted_count += n as u32;
            }
            Some(_) => {
                self.emit_error =
                    Some(format!("guest emitted outcomes from {first} where {} was expected", self.emitted_count))
            }
            None => self.emit_error = Some("guest emitted a malformed outcome buffer".into()),
        }
    }

    fn panicked(&mut self, message: String) {
        self.panic = Some(message);
    }
}

impl process::Host for GuestState {
    fn current(&mut self) -> process::ProcessInfo {
        let p = &self.process;
        process::ProcessInfo { name: p.name.to_string(), pid: p.pid, worker_id: p.worker_id, parent_pid: p.parent_pid }
    }
}
