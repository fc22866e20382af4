//! The single `bindgen!` call for the `task` world in `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "task",
    // Blocking queue, shm and sync calls trap (as a timeout) when the task's own deadline passes while they
    // wait: epochs cannot interrupt a guest that is inside a host call.
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
        "wasmproc:task/sync.rlock-acquire": trappable,
        "wasmproc:task/sync.semaphore-acquire": trappable,
        "wasmproc:task/sync.event-wait": trappable,
        "wasmproc:task/sync.condition-wait": trappable,
        "wasmproc:task/sync.barrier-wait": trappable,
    },
});
