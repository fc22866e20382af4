//! Compiles the example tasks (examples/tasks) to a component for the example programs.

fn main() {
    let wasm = wasmproc_guest_build::Guest::new("tasks")
        .watch("../guest-sdk")
        .watch("../wit")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    println!("cargo:rustc-env=WASMPROC_EXAMPLE_TASKS={}", wasm.display());
}
