//! Compiles the example tasks (examples/tasks) and the example plugins (examples/plugins/*) to
//! components for the example programs.

use std::path::PathBuf;

const PLUGINS: [&str; 5] = ["upper", "looper", "hog", "snoop", "crasher"];

fn main() {
    let wasm = wasmproc_guest_build::Guest::new("tasks")
        .watch("../guest-sdk")
        .watch("../wit")
        .watch("../wire")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    println!("cargo:rustc-env=WASMPROC_EXAMPLE_TASKS={}", wasm.display());

    // A directory of plugins for `plugin_host`, with one file that is not a plugin at all.
    let dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("plugins");
    std::fs::create_dir_all(&dir).expect("create the plugin directory");
    for name in PLUGINS {
        let built = wasmproc_guest_build::Guest::new(format!("plugins/{name}"))
            .watch("plugins/Cargo.toml")
            .watch("../guest-sdk")
            .watch("../wit")
            .watch("../wire")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(&built, dir.join(format!("{name}.wasm"))).expect("copy a plugin");
    }
    std::fs::write(dir.join("notes.wasm"), "these are notes, not WebAssembly\n").expect("write a non-plugin");
    println!("cargo:rustc-env=WASMPROC_EXAMPLE_PLUGINS={}", dir.display());
}
