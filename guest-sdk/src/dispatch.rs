//! The exported `guest` interface: list the registered tasks, run a chunk of one task.
//!
//! A chunk's outcomes are framed into one buffer (`wasmproc_wire::outcome`; see `host.emit` in
//! `wit/task.wit`) and handed to the host in one call at the end — or from the panic hook, so a
//! panic loses only its own input.

use crate::bindings::exports::wasmproc::task::guest::Guest;
use crate::bindings::wasmproc::task::host;
use crate::bindings::wasmproc::task::types::{Codec, Param, TaskError, TaskInfo};
use crate::registry;
use std::cell::RefCell;
use std::sync::Once;
use wasmproc_wire::outcome::{self, Tag};

/// The component's export of the `guest` interface.
pub(crate) struct Dispatcher;

crate::bindings::export!(Dispatcher with_types_in crate::bindings);

/// Outcomes of the current chunk not yet emitted, and the index of the first of them.
struct Pending {
    first: u32,
    buf: Vec<u8>,
}

thread_local! {
    static PENDING: RefCell<Pending> = const { RefCell::new(Pending { first: 0, buf: Vec::new() }) };
}

impl Guest for Dispatcher {
    fn tasks() -> Vec<TaskInfo> {
        let mut tasks: Vec<TaskInfo> = registry::all()
            .map(|t| TaskInfo {
                name: t.name.to_string(),
                params: t
                    .params
                    .iter()
                    .map(|(name, ty)| Param { name: name.to_string(), ty: ty.to_string() })
                    .collect(),
                returns: t.returns.to_string(),
                doc: t.doc.to_string(),
            })
            .collect();
        tasks.sort_by(|a, b| a.name.cmp(&b.name));
        tasks
    }

    fn run(task: String, codec: Codec, args: Vec<u8>, lens: Vec<u32>) -> Result<(), TaskError> {
        install_panic_hook();
        let Some(def) = registry::find(&task) else {
            return Err(TaskError::UnknownTask(task));
        };
        PENDING.with_borrow_mut(|p| {
            p.first = 0;
            p.buf.clear();
        });
        let mut offset = 0usize;
        for len in lens {
            let end = offset + len as usize;
            let Some(input) = args.get(offset..end) else {
                return Err(TaskError::BadArgument("input lengths exceed the argument buffer".into()));
            };
            offset = end;
            // No borrow of PENDING is held while the task runs: its panic hook needs it.
            let result = (def.call)(codec, input);
            PENDING.with_borrow_mut(|p| push_outcome(&mut p.buf, &result));
        }
        flush();
        Ok(())
    }
}

/// Appends one framed outcome.
fn push_outcome(buf: &mut Vec<u8>, result: &Result<Vec<u8>, TaskError>) {
    let (tag, bytes): (Tag, &[u8]) = match result {
        Ok(bytes) => (Tag::Ok, bytes),
        Err(TaskError::BadArgument(m)) => (Tag::BadArgument, m.as_bytes()),
        Err(TaskError::Failed(m)) => (Tag::Failed, m.as_bytes()),
        Err(TaskError::BadResult(m)) => (Tag::BadResult, m.as_bytes()),
        Err(TaskError::UnknownTask(m)) => (Tag::UnknownTask, m.as_bytes()),
    };
    outcome::push(buf, tag, bytes);
}

/// Hands the pending outcomes to the host.
fn flush() {
    PENDING.with_borrow_mut(|p| {
        if !p.buf.is_empty() {
            host::emit(p.first, &p.buf);
        }
        p.buf.clear();
    });
}

/// Reports panics to the host before the guest aborts (guests build with `panic = "abort"`, and an
/// unwinding panic cannot cross the component boundary anyway): first the outcomes finished so
/// far, then the message. The host turns the trap into a task error for the panicking input and
/// runs the rest of the chunk on a fresh instance.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            // A panic while PENDING is borrowed (a `Serialize` impl panicking inside the SDK's own
            // encoding) skips the flush: the host then blames the first unreported input of the
            // chunk and re-runs the ones after it on a fresh instance.
            let _ = PENDING.try_with(|p| {
                if let Ok(mut p) = p.try_borrow_mut()
                    && !p.buf.is_empty()
                {
                    host::emit(p.first, &p.buf);
                    p.buf.clear();
                }
            });
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "Box<dyn Any>".to_string());
            let text = match info.location() {
                Some(at) => format!("panicked at {}:{}: {message}", at.file(), at.line()),
                None => format!("panicked: {message}"),
            };
            host::panicked(&text);
        }));
    });
}
