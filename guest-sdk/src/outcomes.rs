//! The current chunk's outcomes: framed into one buffer (`wasmproc_wire::outcome`; see `host.emit`
//! in `wit/task.wit`) as each input finishes, and handed to the host in one call at the end of the
//! chunk — or from the panic hook, so a panic loses only its own input.
//!
//! A result is encoded straight into the buffer by the task's wrapper ([`push_result`]), after the
//! task has returned: no borrow of the buffer is held while a task runs, so the panic hook can
//! always emit what finished before a panic.

use crate::bindings::wasmproc::task::host;
use crate::bindings::wasmproc::task::types::TaskError;
use serde::Serialize;
use std::cell::RefCell;
use wasmproc_wire::outcome::{self, Tag};

/// Outcomes of the current chunk not yet emitted, and the index of the first of them.
struct Pending {
    first: u32,
    buf: Vec<u8>,
}

thread_local! {
    static PENDING: RefCell<Pending> = const { RefCell::new(Pending { first: 0, buf: Vec::new() }) };
}

/// Starts a chunk of `inputs` inputs whose arguments take `arg_bytes` bytes.
pub(crate) fn start(inputs: usize, arg_bytes: usize) {
    PENDING.with_borrow_mut(|p| {
        p.first = 0;
        p.buf.clear();
        // Results are usually about as long as their arguments: one allocation per chunk.
        p.buf.reserve(arg_bytes + inputs * outcome::HEAD);
    });
}

/// Appends the current input's result, encoded in place with `codec`; on failure nothing is
/// appended and serde's message is returned.
pub(crate) fn push_result<R: Serialize>(codec: wasmproc_wire::Codec, value: &R) -> Result<(), String> {
    PENDING.with_borrow_mut(|p| {
        outcome::push_with(&mut p.buf, |buf| wasmproc_wire::codec::encode_into(codec, value, buf))
            .map_err(|e| e.to_string())
    })
}

/// Appends the current input's error.
pub(crate) fn push_error(error: &TaskError) {
    let (tag, message) = match error {
        TaskError::BadArgument(m) => (Tag::BadArgument, m),
        TaskError::Failed(m) => (Tag::Failed, m),
        TaskError::BadResult(m) => (Tag::BadResult, m),
        TaskError::UnknownTask(m) => (Tag::UnknownTask, m),
    };
    PENDING.with_borrow_mut(|p| outcome::push(&mut p.buf, tag, message.as_bytes()));
}

/// Hands the pending outcomes to the host.
pub(crate) fn flush() {
    PENDING.with_borrow_mut(|p| {
        if !p.buf.is_empty() {
            host::emit(p.first, &p.buf);
        }
        p.buf.clear();
    });
}

/// [`flush`] from the panic hook. A panic while the buffer is borrowed (a `Serialize` impl
/// panicking inside [`push_result`]) skips it: the host then blames the first unreported input of
/// the chunk and re-runs the ones after it on a fresh instance.
pub(crate) fn flush_from_panic() {
    let _ = PENDING.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut()
            && !p.buf.is_empty()
        {
            host::emit(p.first, &p.buf);
            p.buf.clear();
        }
    });
}
