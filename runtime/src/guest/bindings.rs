//! The single `bindgen!` call for the `task` world in `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "task",
});
