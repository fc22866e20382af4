//! The host side of the `wasmproc:task` world: the single `bindgen!` call, the linker, and one
//! file per WIT interface (`task`: `types` and `host`; `process`; `queue`; `manager`; `shm`;
//! `sync`), and `poll`, which bounds WASI's own waits by the task's deadline.

mod manager;
mod poll;
mod process;
mod queue;
mod shm;
mod sync;
mod task;

use super::GuestState;
use wasmtime::Engine;
use wasmtime::component::{HasSelf, Linker};

wasmtime::component::bindgen!({
    path: "../wit",
    world: "task",
    // Blocking queue, shm and sync calls trap (as a timeout) when the task's own deadline passes
    // while they wait: epochs cannot interrupt a guest that is inside a host call.
    imports: {
        "wasmproc:task/queue.put": trappable,
        "wasmproc:task/queue.get": trappable,
        "wasmproc:task/queue.len": trappable,
        "wasmproc:task/queue.close": trappable,
        "wasmproc:task/queue.is-closed": trappable,
        "wasmproc:task/queue.task-done": trappable,
        "wasmproc:task/queue.unfinished": trappable,
        "wasmproc:task/shm.wait": trappable,
        "wasmproc:task/sync.lock-acquire": trappable,
        "wasmproc:task/sync.value-add": trappable,
        "wasmproc:task/sync.rlock-acquire": trappable,
        "wasmproc:task/sync.semaphore-acquire": trappable,
        "wasmproc:task/sync.event-wait": trappable,
        "wasmproc:task/sync.condition-wait": trappable,
        "wasmproc:task/sync.barrier-wait": trappable,
    },
});

pub(crate) use self::wasmproc::task::types::TaskInfo;
pub(super) use self::wasmproc::task::types::{Codec as WitCodec, TaskError};

/// A linker with WASI (p2, sync) and every interface of the task world.
pub(crate) fn new_linker(engine: &Engine) -> wasmtime::Result<Linker<GuestState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    poll::add_to_linker(&mut linker)?;
    Task::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker, |s| s)?;
    Ok(linker)
}

/// The WIT codec of a wire codec.
pub(super) fn wit_codec(codec: wasmproc_wire::Codec) -> WitCodec {
    match codec {
        wasmproc_wire::Codec::Postcard => WitCodec::Postcard,
        wasmproc_wire::Codec::Json => WitCodec::Json,
    }
}
