//! The module cache: what is compiled when, and what a cached load skips.

use crate::common::{fresh_cache, scratch};
use std::path::Path;
use wasmproc::{Context, Error, Pool};

/// The compiled artifacts in a cache directory.
fn artifacts(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().flatten().filter(|e| e.path().extension().is_some_and(|x| x == "cwasm")).count()
}

#[test]
fn each_engine_is_compiled_when_first_needed_and_precompile_does_all_at_once() {
    let cache = fresh_cache("lazy-flavours");
    let ctx = Context::builder().cache_dir(&cache).build().unwrap();
    let module = ctx.load(wasmproc_tests::FIXTURES_WASM).unwrap();
    assert_eq!(artifacts(&cache), 1, "loading compiles only what reads the listing");
    let square = module.task::<u64, u64>("square").unwrap();
    // A timed pool with an initializer interrupts with epochs: the engine the listing used.
    let answer = module.task::<(), u32>("answer").unwrap();
    let timed = Pool::builder(&ctx)
        .processes(1)
        .timeout(std::time::Duration::from_secs(30))
        .initializer(&answer, ())
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(timed.map(&square, vec![3]).unwrap(), vec![9]);
    assert_eq!(artifacts(&cache), 1);
    let pool = Pool::with_processes(&ctx, 1).unwrap();
    pool.prepare(&module).unwrap();
    assert_eq!(artifacts(&cache), 2, "a plain pool's engine, compiled by prepare");
    assert_eq!(pool.map(&square, vec![4]).unwrap(), vec![16]);

    let cache = fresh_cache("precompile");
    let ctx = Context::builder().cache_dir(&cache).build().unwrap();
    ctx.precompile(wasmproc_tests::FIXTURES_WASM).unwrap();
    assert_eq!(artifacts(&cache), 2);
}

#[test]
fn a_module_file_is_read_again_when_it_changes() {
    let cache = fresh_cache("changed-file");
    let file = scratch("changing.wasm");
    let fixtures = std::fs::read(wasmproc_tests::FIXTURES_WASM).unwrap();
    std::fs::write(&file, &fixtures).unwrap();
    let ctx = Context::builder().cache_dir(&cache).build().unwrap();
    let tasks = ctx.load(&file).unwrap().tasks().len();
    // Unchanged: loaded from what the cache remembers (same tasks).
    assert_eq!(ctx.load(&file).unwrap().tasks().len(), tasks);
    std::fs::write(&file, b"not wasm at all").unwrap();
    assert!(matches!(ctx.load(&file), Err(Error::NotWasm { .. })), "a changed file is read again");
    std::fs::write(&file, &fixtures).unwrap();
    assert_eq!(ctx.load(&file).unwrap().tasks().len(), tasks);

    // Loaded without reading the file (the cache remembers it), then changed before an engine it
    // needs is compiled: a clear error, never code compiled from other bytes than its listing's.
    // (Windows remembers no file: every load reads it.)
    if cfg!(windows) {
        return;
    }
    let ctx = Context::builder().cache_dir(&cache).build().unwrap();
    let module = ctx.load(&file).unwrap();
    std::fs::write(&file, [&fixtures[..], b"trailing"].concat()).unwrap();
    let pool = Pool::with_processes(&ctx, 1).unwrap();
    match pool.prepare(&module) {
        Err(e @ Error::Read { .. }) => assert!(e.to_string().contains("changed since it was loaded"), "{e}"),
        other => panic!("unexpected {other:?}"),
    }
}
