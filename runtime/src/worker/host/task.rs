//! The `wasmproc:task/types` and `wasmproc:task/host` interfaces: a chunk's outcomes, and the
//! guest's panic report.

use super::super::GuestState;
use super::wasmproc::task::{host, types};
use wasmproc_wire::outcome;

impl types::Host for GuestState {}

impl host::Host for GuestState {
    fn emit(&mut self, first: u32, mut buf: Vec<u8>) {
        // The SDK emits each outcome once, in order. A hand-written guest that does not is recorded
        // (and its chunk failed) rather than trusted to line up.
        if self.emit_error.is_some() {
            return;
        }
        match outcome::count(&buf) {
            Ok(n) if first == self.emitted_count => {
                super::super::instance::append(&mut self.emitted, &mut buf);
                self.emitted_count += n as u32;
            }
            Ok(_) => {
                self.emit_error =
                    Some(format!("guest emitted outcomes from {first} where {} was expected", self.emitted_count))
            }
            Err(e) => self.emit_error = Some(format!("guest emitted a malformed outcome buffer: {e}")),
        }
    }

    fn panicked(&mut self, message: String) {
        self.panic = Some(message);
    }
}
