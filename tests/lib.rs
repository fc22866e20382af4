//! Shared helpers of wasmproc's integration tests and benchmark.

/// The fixture component built by `build.rs` from `tests/fixtures`.
pub const FIXTURES_WASM: &str = env!("WASMPROC_FIXTURES_WASM");

/// The path of the wasmproc CLI binary in this build's target directory, if it has been built.
pub fn cli_path() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test binary> → target/<profile>/wasmproc
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target profile dir");
    profile_dir.join("wasmproc")
}
