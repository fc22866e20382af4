//! Shared helpers of wasmproc's integration tests and benchmark.

/// The fixture component built by `build.rs` from `tests/fixtures`.
///
/// ```
/// let wasm = std::path::Path::new(wasmproc_tests::FIXTURES_WASM);
/// assert!(wasm.is_file() && wasm.extension().is_some_and(|e| e == "wasm"));
/// ```
pub const FIXTURES_WASM: &str = env!("WASMPROC_FIXTURES_WASM");
