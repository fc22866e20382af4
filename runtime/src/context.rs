//! `Context`: the engine, the module cache, and the settings pools start workers with.

use crate::broker::Broker;
use crate::cache::Cache;
use crate::cluster::{self, Cluster};
use crate::config::{Settings, StartMethod};
use crate::engine::{self, Flavor};
use crate::error::{Error, Result};
use crate::module::{self, Module, ModuleInner, Source};
use crate::spawn;
use crate::worker::{self, GuestState};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wasmtime::Engine;
use wasmtime::component::Linker;

/// Where wasmproc's work happens: a compiler for task modules, a cache of compiled modules, and the
/// settings pools use to start worker processes.
///
/// Build one per program and share it (it is cheap to clone); every [`Pool`](crate::Pool) and
/// [`Module`] refers to one.
///
/// ```no_run
/// # fn main() -> wasmproc::Result<()> {
/// let ctx = wasmproc::Context::builder().processes(4).build()?;
/// let module = ctx.load("tasks.wasm")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Context {
    pub(crate) inner: Arc<ContextInner>,
}

pub(crate) struct ContextInner {
    /// Compiles what workers run (see `engine::Flavor`).
    fast: Engine,
    fast_key: String,
    /// Compiles and runs the task listing; its epoch ticks while the context lives.
    listing: Arc<Engine>,
    listing_key: String,
    linker: Linker<GuestState>,
    /// Compiles for pools with a fuel budget; made on first need.
    metered: std::sync::OnceLock<(Engine, String)>,
    cache: Cache,
    next_module: AtomicU64,
    /// The queues and managed objects of this context, shared with its workers.
    pub(crate) broker: Arc<Broker>,
    pub(crate) settings: Arc<Settings>,
    /// The modules loaded last, newest last: a fork server loads their compiled artifacts before
    /// it forks a pool's worker, which will likely load one of them.
    recent: std::sync::Mutex<Vec<std::sync::Weak<ModuleInner>>>,
    /// The cluster this context's pools run on, if it was built with one.
    pub(crate) cluster: Option<Arc<cluster::Connection>>,
}

/// How many recently loaded modules a new pool worker finds loaded.
const PRELOAD_RECENT: usize = 4;

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context").field("settings", &self.inner.settings).field("cache", &self.inner.cache).finish()
    }
}

/// Builds a [`Context`]. Every setting has a default.
#[derive(Debug, Default, Clone)]
pub struct ContextBuilder {
    worker_executable: Option<PathBuf>,
    processes: Option<usize>,
    cache_dir: Option<PathBuf>,
    stdout_to_stderr: bool,
    start_timeout: Option<Duration>,
    start_method: StartMethod,
    cluster: Option<Cluster>,
}

impl ContextBuilder {
    /// The program started for each worker process. Default: the current executable, which works for
    /// any program that links the `wasmproc` library (the library recognizes a worker start before
    /// `main` runs). Set it only to use a different program that also links `wasmproc`.
    pub fn worker_executable(mut self, path: impl Into<PathBuf>) -> Self {
        self.worker_executable = Some(path.into());
        self
    }

    /// Default number of worker processes for pools: like Python's `Pool(processes=None)`, the
    /// number of CPUs when unset.
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = Some(n.max(1));
        self
    }

    /// Where compiled modules are cached. Default: `$WASMPROC_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/wasmproc`, else `~/.cache/wasmproc`. The directory must be private to this
    /// user (it holds machine code).
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Send what guests print on stdout to this process's stderr instead of its stdout (the CLI does,
    /// so results on stdout stay clean).
    pub fn stdout_to_stderr(mut self, yes: bool) -> Self {
        self.stdout_to_stderr = yes;
        self
    }

    /// How long a worker may take to start and report ready. Default: 20 s.
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = Some(timeout);
        self
    }

    /// How workers start — Python's `set_start_method`: [`StartMethod::Process`] (the default) or
    /// [`StartMethod::Thread`]. Every pool, `Process` and executor of this context uses it.
    ///
    /// [`StartMethod::Process`]: crate::StartMethod::Process
    /// [`StartMethod::Thread`]: crate::StartMethod::Thread
    pub fn start_method(mut self, method: StartMethod) -> Self {
        self.start_method = method;
        self
    }

    /// Runs this context's pools on a cluster: the nodes started with `wasmproc node` against the
    /// same NATS server run their chunks; everything else about a pool stays the same (`map`,
    /// `imap`, `apply_async`, the executor, timeouts and limits, which each node caps). `build`
    /// connects, and fails within the cluster's connect timeout if it cannot. Processes still
    /// start on this machine.
    ///
    /// ```no_run
    /// # fn main() -> wasmproc::Result<()> {
    /// let ctx = wasmproc::Context::builder().cluster("nats://10.0.0.5:4222").build()?;
    /// let square = ctx.load("tasks.wasm")?.task::<u64, u64>("square")?;
    /// let pool = wasmproc::Pool::new(&ctx)?; // as many workers as the nodes have slots
    /// assert_eq!(pool.map(&square, 0..4)?, vec![0, 1, 4, 9]);
    /// # Ok(()) }
    /// ```
    pub fn cluster(mut self, cluster: impl Into<Cluster>) -> Self {
        self.cluster = Some(cluster.into());
        self
    }

    /// Creates the engine and opens the cache.
    pub fn build(self) -> Result<Context> {
        let engine_err = |e: wasmtime::Error| Error::Internal(format!("wasmtime engine: {e:#}"));
        let fast = engine::new_engine(Flavor::Fast).map_err(engine_err)?;
        let listing = Arc::new(engine::new_engine(Flavor::Interruptible).map_err(engine_err)?);
        engine::start_ticker(Arc::downgrade(&listing));
        let linker = worker::new_linker(&listing).map_err(|e| Error::Internal(format!("linker: {e:#}")))?;
        let cache = Cache::open(self.cache_dir.unwrap_or_else(Cache::default_dir))?;
        let worker_executable = match self.worker_executable {
            Some(p) => p,
            None => std::env::current_exe().map_err(|e| Error::WorkerStart {
                reason: format!("cannot find the current executable to start workers from: {e}"),
            })?,
        };
        let processes =
            self.processes.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
        let settings = Arc::new(Settings {
            worker_executable,
            processes,
            stdout_to_stderr: self.stdout_to_stderr,
            start_timeout: self.start_timeout.unwrap_or(Duration::from_secs(20)),
            start_method: self.start_method,
        });
        let broker = Arc::<crate::broker::Broker>::default();
        let cluster = self.cluster.as_ref().map(cluster::Connection::open).transpose()?.map(Arc::new);
        if let Some(conn) = &cluster {
            conn.serve_broker(broker.clone())?;
        }
        // Its fork server starts meanwhile (while modules load), so the first worker does not wait.
        spawn::start_early(&settings);
        Ok(Context {
            inner: Arc::new(ContextInner {
                fast_key: engine::compatibility_key(&fast),
                fast,
                listing_key: engine::compatibility_key(&listing),
                listing,
                linker,
                metered: std::sync::OnceLock::new(),
                recent: std::sync::Mutex::default(),
                cache,
                next_module: AtomicU64::new(1),
                broker,
                settings,
                cluster,
            }),
        })
    }
}

impl Context {
    /// A context with every default.
    pub fn new() -> Result<Context> {
        ContextBuilder::default().build()
    }

    /// Starts building a context.
    pub fn builder() -> ContextBuilder {
        ContextBuilder::default()
    }

    /// The nodes of this context's cluster that are up now (none without a cluster): whom its
    /// pools' work goes to.
    pub fn nodes(&self) -> Result<Vec<crate::cluster::NodeStatus>> {
        match &self.inner.cluster {
            Some(conn) => conn.nodes(),
            None => Ok(Vec::new()),
        }
    }

    /// The default number of processes of this context's pools.
    pub fn processes(&self) -> usize {
        self.inner.settings.processes
    }

    /// Loads a task module from a `.wasm` file: checks it is a component implementing the wasmproc
    /// task world, compiles it for reading its task listing (or reuses the cached compilation),
    /// and reads the listing. What workers run is compiled when a pool or process first needs it,
    /// for the engine it needs, and cached ([`Context::precompile`] does it ahead of time).
    ///
    /// A file loaded before and unchanged since (same inode, size, modification and change time)
    /// is not read again: its hash and listing come from the cache.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let inner = &self.inner;
        let remembered = inner.cache.known_hash(path).and_then(|hash| Some((inner.cached_listing(&hash)?, hash)));
        if let Some((tasks, hash)) = remembered {
            return Ok(inner.module(name, hash, Source::File(path.to_path_buf()), tasks));
        }
        let identity = Cache::identity(path);
        let bytes = std::fs::read(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
        let module = self.load_bytes(name, &bytes)?;
        if let Some(identity) = identity {
            inner.cache.remember_hash(path, &identity, &module.inner.hash);
        }
        Ok(module)
    }

    /// Loads a task module from bytes; `name` is used in messages.
    pub fn load_bytes(&self, name: impl Into<String>, bytes: &[u8]) -> Result<Module> {
        let name = name.into();
        module::check_header(&name, bytes)?;
        let inner = &self.inner;
        let hash = format!("{:x}", Sha256::digest(bytes));
        let bytes: Arc<[u8]> = Arc::from(bytes);
        if let Some(tasks) = inner.cached_listing(&hash) {
            return Ok(inner.module(name, hash, Source::Bytes(bytes), tasks));
        }
        // Validate and read the listing on the interruptible engine (a listing that never returns
        // is stopped): a module that cannot be used is reported before anything else is compiled.
        let listing_artifact =
            inner.compiled(&inner.listing, &inner.listing_key, &hash, &name, || Ok(bytes.clone()))?;
        // SAFETY: `compiled` returns only artifacts this program wrote into the private cache,
        // named by content hash and this engine's compatibility key (see `cache.rs`).
        let component = match unsafe { crate::engine::load_artifact(&inner.listing, &listing_artifact) } {
            Ok(c) => c,
            Err(e) => {
                return Err(Error::Internal(format!("loading a module compiled just now: {e:#}")));
            }
        };
        let listing = worker::list_tasks(&inner.listing, &inner.linker, &component)
            .map_err(|reason| Error::NotATaskModule { name: name.clone(), reason })?;
        let tasks = module::tasks_from_listing(listing);
        // Best effort: without it, the next load reads the listing from the guest again.
        let _ = inner.cache.store(&inner.cache.listing_path(&hash), module::listing_to_json(&tasks).as_bytes());
        let module = inner.module(name, hash, Source::Bytes(bytes), tasks);
        module.inner.set_artifact(Flavor::Interruptible, listing_artifact);
        Ok(module)
    }

    /// Loads a module and compiles it now for every engine that pools and processes without a fuel
    /// budget use, so that later loads and starts only read the cache (`wasmproc compile`). A
    /// large component (a Python one is ~19 MB) takes seconds per engine.
    pub fn precompile(&self, path: impl AsRef<Path>) -> Result<Module> {
        let module = self.load(path)?;
        for flavor in [Flavor::Interruptible, Flavor::Fast] {
            self.inner.ensure_compiled(&module.inner, flavor)?;
        }
        Ok(module)
    }
}

impl ContextInner {
    fn module(&self, name: String, hash: String, source: Source, tasks: Vec<module::TaskSignature>) -> Module {
        let inner = Arc::new(ModuleInner {
            id: self.next_module.fetch_add(1, Ordering::Relaxed),
            name,
            artifacts: Default::default(),
            source,
            hash,
            tasks,
        });
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.retain(|m| m.strong_count() > 0);
        if recent.len() == PRELOAD_RECENT {
            recent.remove(0);
        }
        recent.push(Arc::downgrade(&inner));
        Module { inner }
    }

    /// The listing kept for the module with `hash`, if there is one.
    fn cached_listing(&self, hash: &str) -> Option<Vec<module::TaskSignature>> {
        let text = std::fs::read_to_string(self.cache.listing_path(hash)).ok()?;
        module::listing_from_json(&text)
    }

    /// The directory compiled modules are cached in.
    pub(crate) fn cache_dir(&self) -> &Path {
        self.cache.dir()
    }

    /// The compiled artifacts of the modules loaded last, for engines of `flavor`, newest first.
    pub(crate) fn recent_artifacts(&self, flavor: Flavor) -> Vec<PathBuf> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.iter().rev().filter_map(|m| m.upgrade()?.artifact_for(flavor)).collect()
    }

    /// The path of the component with `hash` precompiled by `engine`: from the cache when a usable
    /// artifact is there, compiled (from `bytes()`) and stored otherwise.
    pub(crate) fn compiled(
        &self,
        engine: &Engine,
        key: &str,
        hash: &str,
        name: &str,
        bytes: impl FnOnce() -> Result<Arc<[u8]>>,
    ) -> Result<PathBuf> {
        let artifact = self.cache.path_for(hash, key);
        // SAFETY: `artifact` lies in the private cache directory under a name derived from the
        // sha256 of the component's bytes and this engine's compatibility key; only this program
        // writes there (see `cache.rs`). wasmtime additionally checks engine compatibility on load.
        if artifact.is_file() && unsafe { crate::engine::load_artifact(engine, &artifact) }.is_ok() {
            return Ok(artifact);
        }
        let compiled = engine
            .precompile_component(&bytes()?)
            .map_err(|e| Error::InvalidComponent { name: name.to_string(), reason: format!("{e:#}") })?;
        self.cache.store(&artifact, &compiled)?;
        Ok(artifact)
    }

    /// The artifact of `module` for engines of `flavor`, compiled now if it was not yet.
    pub(crate) fn ensure_compiled(&self, module: &ModuleInner, flavor: Flavor) -> Result<PathBuf> {
        if let Some(artifact) = module.artifact_for(flavor) {
            return Ok(artifact);
        }
        let (engine, key) = match flavor {
            Flavor::Fast => (&self.fast, &self.fast_key),
            Flavor::Interruptible => (&*self.listing, &self.listing_key),
            Flavor::Metered => {
                let (engine, key) = match self.metered.get() {
                    Some(m) => m,
                    None => {
                        let engine = engine::new_engine(Flavor::Metered)
                            .map_err(|e| Error::Internal(format!("wasmtime engine: {e:#}")))?;
                        let key = engine::compatibility_key(&engine);
                        let _ = self.metered.set((engine, key));
                        self.metered.get().expect("just set")
                    }
                };
                (engine, key)
            }
        };
        let artifact = self.compiled(engine, key, &module.hash, &module.name, || module.bytes())?;
        module.set_artifact(flavor, artifact.clone());
        Ok(artifact)
    }
}
