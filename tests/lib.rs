//! Shared helpers of wasmproc's integration tests and benchmark.

/// The fixture component built by `build.rs` from `tests/fixtures`.
pub const FIXTURES_WASM: &str = env!("WASMPROC_FIXTURES_WASM");
