//! Shared setup of the example programs in `src/bin/`. Run one with
//! `cargo run --release -p wasmproc-examples --bin NAME`.

use wasmproc::{Context, Module};

/// The example tasks component, built by `build.rs` from `examples/tasks`.
pub const TASKS_WASM: &str = env!("WASMPROC_EXAMPLE_TASKS");

/// A context with default settings and the example tasks loaded.
pub fn setup() -> wasmproc::Result<(Context, Module)> {
    let ctx = Context::new()?;
    let module = ctx.load(TASKS_WASM)?;
    Ok((ctx, module))
}
