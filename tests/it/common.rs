use std::sync::OnceLock;
use wasmproc::{Context, Module};

/// One context and module for the whole test binary (compiling the fixture once), with a private
/// cache directory so tests never touch the user's cache.
pub(crate) fn ctx() -> &'static Context {
    static CTX: OnceLock<Context> = OnceLock::new();
    CTX.get_or_init(|| Context::builder().processes(2).cache_dir(cache_dir()).build().expect("context"))
}

/// A context whose workers are threads of this process, and its copy of the fixtures.
pub(crate) fn thread_ctx() -> &'static (Context, Module) {
    static CTX: OnceLock<(Context, Module)> = OnceLock::new();
    CTX.get_or_init(|| {
        let ctx = Context::builder()
            .processes(2)
            .cache_dir(cache_dir())
            .start_method(wasmproc::StartMethod::Thread)
            .build()
            .expect("thread context");
        let module = ctx.load(wasmproc_tests::FIXTURES_WASM).expect("load fixtures");
        (ctx, module)
    })
}

/// A new, empty cache directory of this test process's own.
pub(crate) fn fresh_cache(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmproc-test-cache-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub(crate) fn cache_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("wasmproc-test-cache-{}", std::process::id()))
}

pub(crate) fn fixtures() -> &'static Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE.get_or_init(|| ctx().load(wasmproc_tests::FIXTURES_WASM).expect("load fixtures"))
}

pub(crate) use wasmproc_tests::os::process_gone;

/// Waits up to `secs` seconds for `cond`.
pub(crate) fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    cond()
}

/// The `wasmproc` command (the test build of the CLI), to run in `cwd` with this test process's
/// module cache.
#[cfg_attr(windows, allow(dead_code))] // Used by modules that run on Unix only.
pub(crate) fn cli_in(cwd: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_wasmproc-test-cli"));
    cmd.current_dir(cwd).env("WASMPROC_CACHE_DIR", cache_dir());
    cmd
}

/// Output bytes as text.
#[cfg_attr(windows, allow(dead_code))] // Used by modules that run on Unix only.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh, empty scratch directory unique to this test process.
#[cfg_attr(windows, allow(dead_code))] // Used by modules that run on Unix only.
pub(crate) fn fresh_dir(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A scratch file path unique to this test process.
pub(crate) fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wasmproc-test-scratch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(name)
}
