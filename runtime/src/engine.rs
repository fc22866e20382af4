//! The one wasmtime configuration shared by the host (which compiles) and the workers (which load
//! what the host compiled): both must agree, or `deserialize_file` refuses the artifact.

use std::sync::Weak;
use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; deadlines are counted in these ticks.
pub(crate) const TICK: Duration = Duration::from_millis(10);

pub(crate) fn new_engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    // A few slots per process: a worker keeps one warm instance per module it has seen.
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(32)
        .total_core_instances(256)
        .total_memories(64)
        .total_tables(256)
        .max_memories_per_component(8)
        .max_tables_per_component(32);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
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
