//! Shared helpers of wasmproc's integration tests and benchmark.

/// The fixture component built by `build.rs` from `tests/fixtures`.
///
/// ```
/// let wasm = std::path::Path::new(wasmproc_tests::FIXTURES_WASM);
/// assert!(wasm.is_file() && wasm.extension().is_some_and(|e| e == "wasm"));
/// ```
pub const FIXTURES_WASM: &str = env!("WASMPROC_FIXTURES_WASM");

/// The guide (`docs/`): every chapter's code blocks are compiled, and its host examples run, as
/// doc tests of this crate — against the fixtures, with `wasmproc_guest` for the task examples.
#[cfg(doctest)]
pub mod guide {
    #[doc = include_str!("../README.md")]
    pub struct Readme;
    #[doc = include_str!("../docs/README.md")]
    pub struct Index;
    #[doc = include_str!("../docs/tasks.md")]
    pub struct Tasks;
    #[doc = include_str!("../docs/pool.md")]
    pub struct Pools;
    #[doc = include_str!("../docs/processes.md")]
    pub struct Processes;
    #[doc = include_str!("../docs/queues-pipes.md")]
    pub struct QueuesAndPipes;
    #[doc = include_str!("../docs/shared-state.md")]
    pub struct SharedState;
    #[doc = include_str!("../docs/executor.md")]
    pub struct Executor;
    #[doc = include_str!("../docs/sandbox-limits.md")]
    pub struct SandboxAndLimits;
    #[doc = include_str!("../docs/cli.md")]
    pub struct Cli;
    #[doc = include_str!("../docs/plugins.md")]
    pub struct Plugins;
    #[doc = include_str!("../docs/cluster.md")]
    pub struct Cluster;
    #[doc = include_str!("../docs/python.md")]
    pub struct Python;
}
