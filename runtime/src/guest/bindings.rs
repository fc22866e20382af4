//! The single `bindgen!` call for the `task` world in `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "task",
    // Blocking queue calls trap (as a timeout) when the task's own deadline passes while they
    // wait: epochs cannot interrupt a guest that is inside a host call.
    imports: {
        "wasmproc:task/queue.put": trappable,
        "wasmproc:task/queue.get": trappable,
        "wasmproc:task/queue.len": trappable,
        "wasmproc:task/queue.close": trappable,
        "wasmproc:task/queue.is-closed": trappable,
        "wasmproc:task/queue.task-done": trappable,
        "wasmproc:task/queue.unfinished": trappable,
    },
});
