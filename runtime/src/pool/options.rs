//! What a pool was asked to do beyond running tasks (see `PoolBuilder`), and what that means for
//! its workers: their engine, their start settings, the frames that load a module.

use crate::config::Sandbox;
use crate::engine::Flavor;
use crate::ipc::protocol::{InitCall, ToWorker, WorkerInit};
use crate::keep::KeepAlive;
use crate::module::ModuleInner;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Default)]
pub(crate) struct PoolOptions {
    /// Resend a job whose worker died this many times before failing it.
    pub(crate) retries: u32,
    /// Replace a worker after it has run this many chunks (Python's `maxtasksperchild`).
    pub(crate) max_tasks_per_child: Option<u64>,
    /// Interrupt an input after this long.
    pub(crate) timeout: Option<Duration>,
    /// Most linear memory an instance may have, in bytes.
    pub(crate) max_memory: Option<usize>,
    /// Fuel each input gets (instructions, roughly).
    pub(crate) fuel: Option<u64>,
    /// What guests may touch.
    pub(crate) sandbox: Sandbox,
    /// What the initializer's arguments refer to.
    pub(crate) keep: KeepAlive,
    /// Run on every fresh instance of this module in each worker (Python's `initializer`).
    pub(crate) initializer: Option<(Arc<ModuleInner>, InitCall)>,
    /// Workers are threads (they need the interruptible engine to be stoppable).
    pub(crate) threads: bool,
    /// Artifacts a new worker will likely load (those of the context's recent modules): a fork
    /// server loads them before it forks one.
    pub(crate) preload: Vec<std::path::PathBuf>,
    /// The broker its workers' queue and manager requests go to, if not the context's (a cluster
    /// node's pool, whose requests go to the client that owns the objects).
    pub(crate) broker: Option<Arc<crate::broker::Broker>>,
}

impl std::fmt::Debug for PoolOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolOptions")
            .field("retries", &self.retries)
            .field("max_tasks_per_child", &self.max_tasks_per_child)
            .field("timeout", &self.timeout)
            .field("max_memory", &self.max_memory)
            .field("fuel", &self.fuel)
            .field("sandbox", &self.sandbox)
            .finish_non_exhaustive()
    }
}

impl PoolOptions {
    /// Which engine this pool's workers run. A timeout needs epochs only where nothing else can
    /// stop a guest: in a thread worker, and in an initializer (it runs while a module loads,
    /// before any input a kill could be blamed on). Other worker processes run the fast engine and
    /// are killed at the timeout (see [`PoolOptions::kills_at_timeout`]); fuel brings epochs with
    /// it anyway.
    pub(crate) fn flavor(&self) -> Flavor {
        let initialized = self.initializer.is_some() && self.timeout.is_some();
        match (self.fuel, self.threads || initialized) {
            (Some(_), _) => Flavor::Metered,
            (None, true) => Flavor::Interruptible,
            (None, false) => Flavor::Fast,
        }
    }

    /// Whether an input that overruns the timeout is stopped by killing its worker (which reports
    /// its progress so that the pool knows when each input started) rather than by epochs.
    pub(crate) fn kills_at_timeout(&self) -> bool {
        self.timeout.is_some() && !self.flavor().has_epochs()
    }

    /// The artifact of `module` for this pool's engine. Invariant: it was compiled before a job
    /// of the module was queued (`Dispatcher::submit`) or the pool was built with it as the
    /// initializer's (`PoolBuilder::build`).
    fn artifact(&self, module: &ModuleInner) -> PathBuf {
        let artifact = module.artifact_for(self.flavor());
        debug_assert!(artifact.is_some(), "a module is compiled for a pool before the pool loads it");
        // Never empty in practice; an empty path would make the worker report a Load failure.
        artifact.unwrap_or_default()
    }

    /// The `Load` frame for `module`, with the initializer if it is the initializer's module.
    pub(crate) fn load(&self, module: &ModuleInner) -> ToWorker {
        let init = self.initializer.as_ref().filter(|(m, _)| m.id == module.id).map(|(_, call)| call.clone());
        ToWorker::Load { module: module.id, artifact: self.artifact(module), init }
    }

    /// What a worker of this pool is told at start.
    pub(crate) fn worker_init(&self, name: String, worker_id: usize) -> WorkerInit {
        WorkerInit {
            name,
            worker_id: worker_id as u32,
            flavor: self.flavor(),
            fuel: self.fuel,
            timeout: self.timeout,
            max_memory: self.max_memory,
            sandbox: self.sandbox.clone(),
            parent_pid: std::process::id(),
            confirm_sends: self.broker.as_ref().is_some_and(|b| b.forwards()),
        }
    }
}
