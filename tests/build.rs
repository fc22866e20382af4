//! Builds the guest fixtures once per change, for the integration tests and the benchmark.

fn main() {
    let wasm = wasmproc_guest_build::Guest::new("fixtures")
        .watch("../guest-sdk")
        .watch("../wit")
        .watch("../wire")
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    println!("cargo:rustc-env=WASMPROC_FIXTURES_WASM={}", wasm.display());
}
