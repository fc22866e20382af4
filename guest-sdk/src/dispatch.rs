//! The exported `guest` interface: list the registered tasks, run a chunk of one task (its
//! outcomes gathered by `outcomes`).

use crate::bindings::exports::wasmproc::task::guest::Guest;
use crate::bindings::wasmproc::task::host;
use crate::bindings::wasmproc::task::types::{Codec, Param, TaskError, TaskInfo};
use crate::{outcomes, registry};
use std::sync::Once;

/// The component's export of the `guest` interface.
pub(crate) struct Dispatcher;

crate::bindings::export!(Dispatcher with_types_in crate::bindings);

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
        outcomes::start(lens.len(), args.len());
        let mut offset = 0usize;
        for len in lens {
            let end = offset + len as usize;
            let Some(input) = args.get(offset..end) else {
                return Err(TaskError::BadArgument("input lengths exceed the argument buffer".into()));
            };
            offset = end;
            // A result is appended by the task's wrapper (`outcomes::push_result`), an error here.
            if let Err(e) = (def.call)(codec, input) {
                outcomes::push_error(&e);
            }
        }
        // std holds a partial line of stdout until its newline, and a guest never exits to flush
        // it: the host gets it now, and writes it when the line ends or the worker does.
        let _ = std::io::Write::flush(&mut std::io::stdout());
        outcomes::flush();
        Ok(())
    }
}

/// Reports panics to the host before the guest aborts (guests build with `panic = "abort"`, and an
/// unwinding panic cannot cross the component boundary anyway): first the outcomes finished so
/// far, then the message. The host turns the trap into a task error for the panicking input and
/// runs the rest of the chunk on a fresh instance.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            outcomes::flush_from_panic();
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
