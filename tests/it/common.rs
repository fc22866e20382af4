use std::sync::OnceLock;
use wasmproc::{Context, Module};

/// One context and module for the whole test binary (compiling the fixture once).
pub(crate) fn ctx() -> &'static Context {
    static CTX: OnceLock<Context> = OnceLock::new();
    CTX.get_or_init(|| {
        let cache =
            std::env::temp_dir().join(format!("wasmproc-test-cache-{}", std::process::id()));
        Context::builder()
            .processes(2)
            .cache_dir(cache)
            .build()
            .expect("context")
    })
}

pub(crate) fn fixtures() -> &'static Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE.get_or_init(|| {
        ctx()
            .load(wasmproc_tests::FIXTURES_WASM)
            .expect("load fixtures")
    })
}
