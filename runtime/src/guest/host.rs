//! The host side of the `wasmproc:task/host` interface.

use super::GuestState;
use super::bindings::wasmproc::task::{host, types};

impl types::Host for GuestState {}

impl host::Host for GuestState {
    fn emit(&mut self, index: u32, outcome: Result<Vec<u8>, types::TaskError>) {
        // The SDK emits 0, 1, 2, … in order. A hand-written guest that does not is recorded as an
        // error for that slot rather than trusted to line up.
        if index as usize == self.emitted.len() {
            self.emitted.push(outcome);
        } else {
            self.emitted.push(Err(types::TaskError::BadResult(format!(
                "guest emitted outcome {index} where {} was expected",
                self.emitted.len()
            ))));
        }
    }

    fn panicked(&mut self, message: String) {
        self.panic = Some(message);
    }
}
