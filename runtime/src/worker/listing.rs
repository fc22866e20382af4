//! Reading a module's task listing, and saying why a component is not a task module. The host runs
//! this when it loads a module, in a throwaway store that cannot hang or exhaust it.

use super::host::TaskPre;
use super::state::{GuestState, ProcessIdentity};
use crate::config::Sandbox;
use std::sync::Arc;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

pub(crate) use super::host::TaskInfo;

/// Why a component cannot serve as a task module, in words for `Error::NotATaskModule`.
pub(super) fn describe_link_error(err: &wasmtime::Error) -> String {
    let text = format!("{err:#}");
    if text.contains("no exported instance named") || text.contains("wasmproc:task/guest") {
        "it does not export the `wasmproc:task/guest` interface".to_string()
    } else if text.contains("matching implementation was not found in the linker") || text.contains("import") {
        format!("it imports something wasmproc does not provide ({text})")
    } else {
        text
    }
}

/// Lists a component's tasks in a throwaway store with a 5 s deadline and 256 MiB of memory, so a
/// module cannot hang or exhaust the host while it is being inspected. `engine` must be of the
/// interruptible flavour, with its epoch ticking.
pub(crate) fn list_tasks(
    engine: &Engine,
    linker: &Linker<GuestState>,
    component: &Component,
) -> Result<Vec<TaskInfo>, String> {
    let pre = linker.instantiate_pre(component).map_err(|e| describe_link_error(&e))?;
    let pre = TaskPre::new(pre).map_err(|e| describe_link_error(&e))?;
    let inspector = ProcessIdentity { name: Arc::from("inspect"), pid: std::process::id(), ..Default::default() };
    let state = GuestState::new(&Sandbox::default(), &inspector, Some(256 << 20), 2)?;
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(500);
    let task = pre.instantiate(&mut store).map_err(|e| format!("instantiation failed: {e:#}"))?;
    task.wasmproc_task_guest().call_tasks(&mut store).map_err(|e| format!("listing its tasks failed: {e:#}"))
}
