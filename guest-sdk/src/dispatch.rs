//! The exported `guest` interface: list the registered tasks, run a chunk of one task.

use crate::bindings::exports::wasmproc::task::guest::Guest;
use crate::bindings::wasmproc::task::host;
use crate::bindings::wasmproc::task::types::{Codec, Param, TaskError, TaskInfo};
use crate::registry;
use std::sync::Once;

pub(crate) struct Dispatcher;

impl Guest for Dispatcher {
    fn tasks() -> Vec<TaskInfo> {
        let mut tasks: Vec<TaskInfo> = registry::all()
            .map(|t| TaskInfo {
                name: t.name.to_string(),
                params: t
                    .params
                    .iter()
                    .map(|(name, ty)| Param {
                        name: name.to_string(),
                        ty: ty.to_string(),
                    })
                    .collect(),
                returns: t.returns.to_string(),
                doc: t.doc.to_string(),
            })
            .collect();
        tasks.sort_by(|a, b| a.name.cmp(&b.name));
        tasks
    }

    fn run(task: String, codec: Codec, args: Vec<Vec<u8>>) -> Result<(), TaskError> {
        install_panic_hook();
        let Some(def) = registry::find(&task) else {
            return Err(TaskError::UnknownTask(task));
        };
        for (index, input) in args.iter().enumerate() {
            let outcome = (def.call)(codec, input);
            host::emit(index as u32, outcome.as_deref().map_err(|e| e));
        }
        Ok(())
    }
}

/// Reports panics to the host before the guest aborts (guests build with `panic = "abort"`, and an
/// unwinding panic cannot cross the component boundary anyway). The host turns the resulting trap
/// into a task error carrying this message and starts a fresh instance for the next item.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
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
