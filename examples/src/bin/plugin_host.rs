//! An application that runs untrusted plugins: it loads every `.wasm` file in a directory, shows
//! what each offers, and calls its `transform(text: String) -> String` in a sandbox with limits.
//! Plugins that loop forever, eat memory, crash or reach for files are stopped and reported; the
//! application and the other plugins carry on.
//!
//! Run: `cargo run --release -p wasmproc-examples --bin plugin_host [DIR]` (default: the example
//! plugins from `examples/plugins`, plus a file that is not a plugin at all).

use std::path::PathBuf;
use std::time::Duration;
use wasmproc::{Context, Error, FailureKind, Pool};

fn main() -> anyhow::Result<()> {
    let dir = std::env::args_os().nth(1).map(PathBuf::from).unwrap_or_else(|| env!("WASMPROC_EXAMPLE_PLUGINS").into());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    files.sort();

    let ctx = Context::new()?;
    // One worker process for all plugins, with no files, environment or network (the default
    // sandbox), 1 s per call and 32 MiB of memory per plugin instance.
    let pool = Pool::builder(&ctx).processes(1).timeout(Duration::from_secs(1)).max_memory(32 << 20).build()?;

    let mut worked = 0;
    for file in &files {
        let name = file.file_stem().unwrap_or_default().to_string_lossy();
        let plugin = match ctx.load(file) {
            Ok(p) => p,
            Err(e) => {
                println!("[{name}] not loaded: {e}");
                continue;
            }
        };
        let offers: Vec<String> = plugin.tasks().iter().map(|t| t.to_string()).collect();
        println!("[{name}] offers {}", offers.join(", "));
        let transform = match plugin.task::<String, String>("transform") {
            Ok(t) => t,
            Err(e) => {
                println!("[{name}] unusable: {e}");
                continue;
            }
        };
        match pool.apply(&transform, "hello, plugins".to_string()) {
            Ok(out) => {
                worked += 1;
                println!("[{name}] transform(\"hello, plugins\") = {out:?}");
            }
            Err(Error::Task(f)) => {
                let why = match f.kind {
                    FailureKind::Timeout => "stopped: it ran past its 1 s",
                    FailureKind::MemoryLimit => "stopped: it wanted more than its 32 MiB",
                    FailureKind::Panicked | FailureKind::Trapped => "crashed",
                    FailureKind::Failed => "returned an error",
                    _ => "failed",
                };
                println!("[{name}] {why}: {}", f.message.lines().next().unwrap_or_default());
            }
            Err(e) => println!("[{name}] failed: {e}"),
        }
    }
    println!("{worked} of {} plugin files worked; the host is still standing", files.len());
    Ok(())
}
