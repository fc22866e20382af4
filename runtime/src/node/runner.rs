//! Running one chunk on this node: the module, fetched from the cluster's store by its digest
//! (verified, kept on disk, compiled once), and a local pool per distinct set of limits.

use super::policy::NodeOptions;
use crate::broker::Broker;
use crate::cluster::Connection;
use crate::cluster::bridge::Forwarder;
use crate::cluster::message::{Answer, Chunk, Init, Limits};
use crate::config::Sandbox;
use crate::context::Context;
use crate::error::{Error, FailureKind};
use crate::job::ChunkOutcome;
use crate::module::Module;
use crate::pool::Pool;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// A client pool's name, the subject its client serves its objects on, the limits, and the
/// initializer.
type PoolKey = (String, String, Limits, Option<Init>);

pub(super) struct Runner {
    pub(super) ctx: Context,
    pub(super) options: NodeOptions,
    pub(super) conn: Arc<Connection>,
    modules: Mutex<HashMap<String, Module>>,
    /// A pool per client pool (its name) and set of limits, retired when the client's pool is
    /// gone; its workers' queue and Manager requests go to the client (its broker subject).
    pools: Mutex<HashMap<PoolKey, Arc<Pool>>>,
    /// Where fetched modules are kept, by digest.
    dir: PathBuf,
}

fn failed(kind: FailureKind, message: String) -> Answer {
    Answer::Failed { kind, message }
}

impl Runner {
    pub(super) fn new(ctx: Context, options: NodeOptions, conn: Arc<Connection>) -> Result<Runner, Error> {
        let dir = ctx.inner.cache_dir().join("cluster-modules");
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::Cache { path: dir.clone(), reason: format!("cannot create it: {e}") })?;
        Ok(Runner { ctx, options, conn, modules: Mutex::default(), pools: Mutex::default(), dir })
    }

    /// Runs `chunk`; `None` if it must go back to the queue (this node's pool was terminated).
    pub(super) async fn run(self: &Arc<Self>, chunk: Chunk) -> Option<Answer> {
        let (limits, sandbox) = match self.options.resolve(&chunk.limits) {
            Ok(resolved) => resolved,
            Err(message) => return Some(failed(FailureKind::Refused, message)),
        };
        let module = match self.module(&chunk.module, &chunk.module_name).await {
            Ok(m) => m,
            Err(answer) => return Some(answer),
        };
        // The initializer's module (usually the same) is needed before the pool can start.
        let init = match &chunk.init {
            Some(init) => match self.module(&init.module, &init.module_name).await {
                Ok(m) => Some(m),
                Err(answer) => return Some(answer),
            },
            None => None,
        };
        let (tx, rx) = flume::bounded(1);
        let key: PoolKey = (chunk.pool, chunk.broker, limits, chunk.init);
        let (task, codec, input, lens) = (chunk.task, chunk.codec, chunk.input, chunk.lens);
        let compile = module.clone();
        let submit = move |pool: &Pool| {
            pool.submit_encoded(&module, &task, codec, input, lens, tx).map_err(|e| match e {
                Error::UnknownTask { .. } => failed(FailureKind::UnknownTask, e.to_string()),
                other => failed(FailureKind::Load, other.to_string()),
            })
        };
        // Once this node's pool for the chunk is up and has compiled its module, nothing blocks:
        // the chunk is submitted here (handing the thread's tasks to another thread, as
        // `block_in_place` does, costs more than a short call).
        let ready = self.pools.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
        let submitted = match ready.filter(|pool| pool.prepared(&compile)) {
            Some(pool) => submit(&pool),
            None => {
                let this = self.clone();
                let (node, name) = (self.options.name.clone(), chunk.module_name);
                // The first time, starting the pool or compiling the module blocks; tokio moves
                // this thread's other tasks meanwhile.
                tokio::task::block_in_place(move || -> Result<(), Answer> {
                    let pool = this
                        .pool(key, sandbox, init)
                        .map_err(|e| failed(FailureKind::Load, format!("cannot start workers: {e}")))?;
                    pool.prepare(&compile)
                        .map_err(|e| failed(FailureKind::Load, format!("node {node} cannot compile {name}: {e}")))?;
                    submit(&pool)
                })
            }
        };
        if let Err(answer) = submitted {
            return Some(answer);
        }
        match rx.recv_async().await.ok()?.outcome {
            ChunkOutcome::Done(outcomes) => Some(Answer::Done(outcomes.into_bytes())),
            ChunkOutcome::Failed { kind, message } => Some(Answer::Failed { kind, message }),
            ChunkOutcome::Terminated => None,
        }
    }

    /// The module whose sha256 is `digest`: loaded already, on disk, or fetched from the store.
    async fn module(&self, digest: &str, name: &str) -> Result<Module, Answer> {
        if let Some(m) = self.modules.lock().unwrap_or_else(|p| p.into_inner()).get(digest) {
            return Ok(m.clone());
        }
        let load = |e: String| failed(FailureKind::Load, e);
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(load(format!("{digest:?} is not a module digest")));
        }
        let path = self.dir.join(format!("{digest}.wasm"));
        if !path.is_file() {
            let mut object = self
                .conn
                .modules
                .get(digest)
                .await
                .map_err(|e| load(format!("{name} ({digest}) is not in the cluster's module store: {e}")))?;
            let mut bytes = Vec::new();
            object.read_to_end(&mut bytes).await.map_err(|e| load(format!("cannot fetch {name}: {e}")))?;
            if format!("{:x}", Sha256::digest(&bytes)) != digest {
                return Err(load(format!("the module store's copy of {name} does not match its digest {digest}")));
            }
            // Chunks of a new module may arrive together: each writes its own file, and the
            // first rename wins (the bytes are the same).
            static PART: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = PART.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let tmp = self.dir.join(format!("{digest}.{}.{n}.part", std::process::id()));
            let written = tokio::fs::write(&tmp, &bytes).await.and_then(|()| std::fs::rename(&tmp, &path));
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                if !path.is_file() {
                    return Err(load(format!("node {} cannot store {name}: {e}", self.options.name)));
                }
            }
        }
        let ctx = self.ctx.clone();
        let loaded = tokio::task::spawn_blocking(move || ctx.load(&path)).await;
        let module = match loaded {
            Ok(Ok(m)) => m,
            Ok(Err(e)) => return Err(load(format!("node {} cannot load {name}: {e}", self.options.name))),
            Err(e) => return Err(load(format!("node error: {e}"))),
        };
        self.modules.lock().unwrap_or_else(|p| p.into_inner()).insert(digest.to_string(), module.clone());
        Ok(module)
    }

    /// The local pool for `key` (started on first use, `slots` workers; its initializer's module
    /// `init`).
    fn pool(&self, key: PoolKey, sandbox: Sandbox, init: Option<Module>) -> Result<Arc<Pool>, Error> {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pool) = pools.get(&key) {
            return Ok(pool.clone());
        }
        let (broker, limits) = (&key.1, &key.2);
        let forwarder = Forwarder::start(self.conn.client.clone(), broker.clone())
            .map_err(|e| self.conn.cluster.error(format!("cannot reach the client's queues: {e}")))?;
        let mut builder = Pool::builder(&self.ctx)
            .processes(self.options.slots as usize)
            .retries(limits.retries)
            .sandbox(sandbox)
            .broker(Arc::new(Broker::forwarding(forwarder)));
        if let Some(ms) = limits.timeout_ms {
            builder = builder.timeout(Duration::from_millis(ms));
        }
        if let Some(bytes) = limits.max_memory {
            builder = builder.max_memory(bytes as usize);
        }
        if let Some(fuel) = limits.fuel {
            builder = builder.fuel(fuel);
        }
        if let Some(n) = limits.max_tasks_per_child {
            builder = builder.max_tasks_per_child(n);
        }
        if let (Some(module), Some(init)) = (init, &key.3) {
            builder = builder.initializer_call(&module, init.call.clone());
        }
        let pool = Arc::new(builder.build()?);
        pools.insert(key, pool.clone());
        Ok(pool)
    }

    /// Forgets the local pools of client pool `name` (it is gone); each stops once the chunks it
    /// runs are done with it. Returns them, to be dropped where blocking is fine.
    pub(super) fn retire(&self, name: &str) -> Vec<Arc<Pool>> {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        let keys: Vec<PoolKey> = pools.keys().filter(|k| k.0 == name).cloned().collect();
        keys.iter().filter_map(|k| pools.remove(k)).collect()
    }

    /// Stops every local pool (their workers exit).
    pub(super) fn shutdown(&self) {
        let pools: Vec<Arc<Pool>> =
            self.pools.lock().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, p)| p).collect();
        for pool in pools {
            pool.join();
        }
    }
}
