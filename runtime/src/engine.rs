//! The wasmtime configurations shared by the host (which compiles) and the workers (which load what
//! the host compiled): both sides must agree, or `deserialize_file` refuses the artifact.
//!
//! Three flavours. [`Flavor::Fast`] runs tasks in worker processes, timed or not: no epoch checks
//! in loops (they cost 1.2–1.5× on a tight loop, measured with the benchmark's `compute_heavy`); a
//! pool stops an overrunning worker process by killing it. [`Flavor::Interruptible`] adds epoch
//! interruption, for guest code that nothing else can stop: thread workers, a timed pool's
//! initializer, a timed `Process`, the host reading a module's task listing. [`Flavor::Metered`] adds fuel. Artifacts of each differ
//! and are cached under different keys.

use std::path::Path;
use std::sync::Weak;
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// How often the epoch advances; deadlines are counted in these ticks.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// Which engine configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Flavor {
    /// No epoch checks: tasks run at full speed and cannot be interrupted.
    Fast,
    /// Epoch interruption, for timeouts.
    Interruptible,
    /// Epoch interruption and fuel metering, for fuel budgets (fuel costs the most).
    Metered,
}

impl Flavor {
    pub(crate) fn has_epochs(self) -> bool {
        self != Flavor::Fast
    }
}

pub(crate) fn new_engine(flavor: Flavor) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(flavor.has_epochs());
    config.consume_fuel(flavor == Flavor::Metered);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    // Every function starts on a 64-byte boundary (Cranelift's default is 32 on x86-64, and it does
    // not align loops). Then a function's hot loop sits the same way across instruction-fetch
    // windows whatever else the module holds, so a task runs at the same speed after an unrelated
    // change to its module. Measured: the fixtures' `compute_heavy` loop (identical machine code)
    // took 0.064–0.073 s per 10⁸ iterations when an SDK change moved it to offset 32, and
    // 0.040–0.067 s (median 0.051) aligned to 64.
    // SAFETY: alignment does not change what the code does; wasmtime lists this flag among those
    // that cannot affect a module's interface or behaviour.
    unsafe {
        config.cranelift_flag_set("log2_min_function_alignment", "6");
    }
    // The default on-demand instance allocator, not the pooling one: a worker instantiates each
    // module once and keeps the instance warm, so pooling's faster instantiation buys little, while
    // its reservations made every worker start 1.3 ms slower (engine creation 1.3 ms vs 10 µs).
    Engine::new(&config)
}

/// Advances `engine`'s epoch every [`TICK`] until the engine's owner drops it.
pub(crate) fn start_ticker(engine: Weak<Engine>) {
    std::thread::Builder::new()
        .name("wasmproc-epoch".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .expect("spawn the epoch ticker thread");
}

/// A stable key for "artifacts compiled by this engine can be loaded by an engine built the same
/// way": part of every cache file name.
pub(crate) fn compatibility_key(engine: &Engine) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Loads a compiled component from `artifact`. On Unix the file is mapped copy-on-write (70–80 µs,
/// shared between workers); on Windows it is read into memory, because wasmtime's mapping of it
/// fails under Wine ("failed change pages to `PAGE_READONLY`: Access denied").
///
/// # Safety
/// `artifact` must be a file this program wrote with `precompile_component` of an engine
/// configured like `engine` (wasmtime's `Component::deserialize_file` contract).
pub(crate) unsafe fn load_artifact(engine: &Engine, artifact: &Path) -> wasmtime::Result<Component> {
    #[cfg(unix)]
    {
        // SAFETY: the caller's contract.
        unsafe { Component::deserialize_file(engine, artifact) }
    }
    #[cfg(windows)]
    {
        let bytes = std::fs::read(artifact)?;
        // SAFETY: the caller's contract.
        unsafe { Component::deserialize(engine, bytes) }
    }
}
