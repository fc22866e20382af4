//! `Pool`: Python's `multiprocessing.Pool` for wasm tasks.
//!
//! Pieces, split by concern as tokio splits its scheduler:
//! - [`dispatcher`]: the shared state (queue, slots) and what callers do to it;
//! - [`assign`]: the pure policy of which worker runs which chunk;
//! - [`slot`]: one worker's place, and its phase;
//! - [`pump`]: who takes a worker's frames (a thread worker's, its own thread) and what each does;
//! - [`reader`]: the thread per slot that waits on its worker and replaces it when it ends;
//! - [`respawn`]: replacing a worker that died; [`watchdog`]: killing one stuck past its timeout;
//! - [`options`]: what the builder set; [`results`]: `AsyncResult` and `IMap`.

mod assign;
mod backend;
mod dispatcher;
mod options;
mod pump;
mod reader;
mod respawn;
mod results;
mod slot;
mod watchdog;

use crate::job::{ChunkDone, Job, Watch};
use backend::Backend;
pub(crate) use options::PoolOptions;
pub use results::{AsyncResult, IMap};

/// A pool's backend, held by futures so that `cancel` can withdraw their queued job.
#[derive(Clone)]
pub(crate) struct PoolHandle(Backend);

impl PoolHandle {
    /// Removes the not-yet-started job whose cancel flag is `cancel` (it answers `Terminated`);
    /// whether there was one.
    pub(crate) fn withdraw(&self, cancel: &Arc<AtomicBool>) -> bool {
        self.0.withdraw(|c| Arc::ptr_eq(c, cancel)) > 0
    }
}

use crate::config::StartMethod;
use crate::context::{Context, ContextInner};
use crate::error::{Error, Result};
use crate::keep;
use crate::module::{Module, Task};
use crate::spawn;
use dispatcher::Dispatcher;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// A pool of worker processes running wasm tasks: Python's `multiprocessing.Pool`.
///
/// Each worker is a separate OS process with its own wasmtime instance; a task that panics, traps
/// or is killed never takes the pool down. Every method that waits has an async twin (`*_async`
/// results are awaitable; [`IMap`] is a `Stream`).
///
/// Dropping the pool terminates it, like leaving Python's `with Pool() as pool:` block: work still
/// running is stopped and its results become [`Error::Terminated`]. Call [`Pool::join`] first to let
/// queued work finish.
///
/// ```no_run
/// # fn main() -> wasmproc::Result<()> {
/// let ctx = wasmproc::Context::new()?;
/// let square = ctx.load("tasks.wasm")?.task::<u64, u64>("square")?;
/// let pool = wasmproc::Pool::new(&ctx)?;
/// assert_eq!(pool.map(&square, 0..5)?, vec![0, 1, 4, 9, 16]);
/// # Ok(()) }
/// ```
pub struct Pool {
    backend: Backend,
    /// What the pool was built with (its engine, limits, sandbox).
    options: PoolOptions,
    processes: usize,
    /// Disconnects when every reader thread has ended (all workers reaped).
    done: flume::Receiver<()>,
    terminated: AtomicBool,
    _ctx: Arc<ContextInner>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool").field("processes", &self.processes).field("pids", &self.pids()).finish()
    }
}

impl Pool {
    /// Starts a pool with the context's default number of processes (the CPU count unless set).
    pub fn new(ctx: &Context) -> Result<Pool> {
        Pool::builder(ctx).build()
    }

    /// Starts a pool of `processes` workers (at least one), like `Pool(processes=n)`. Returns once
    /// every worker has started, or with the reason one could not. A worker forked by the
    /// context's fork server (the default start method on Linux) is not waited for: work sent to
    /// it follows its start, and if it fails after the fork (it says why on stderr), its job
    /// fails as if it had died ([`FailureKind::WorkerDied`](crate::FailureKind::WorkerDied)) and
    /// a replacement is started and waited for.
    pub fn with_processes(ctx: &Context, processes: usize) -> Result<Pool> {
        Pool::builder(ctx).processes(processes).build()
    }

    /// A pool with more options: Python's `maxtasksperchild`, plus per-task timeouts, a memory
    /// limit, and retries of work whose worker died.
    ///
    /// ```no_run
    /// # fn main() -> wasmproc::Result<()> {
    /// let ctx = wasmproc::Context::new()?;
    /// let pool = wasmproc::Pool::builder(&ctx)
    ///     .processes(4)
    ///     .timeout(std::time::Duration::from_secs(5))
    ///     .max_memory(64 << 20)
    ///     .max_tasks_per_child(100)
    ///     .retries(2)
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn builder(ctx: &Context) -> PoolBuilder<'_> {
        PoolBuilder { ctx, processes: None, options: PoolOptions::default() }
    }

    fn spawn(ctx: &Context, processes: usize, mut options: PoolOptions) -> Result<Pool> {
        let processes = processes.max(1);
        options.threads = ctx.inner.settings.start_method == StartMethod::Thread;
        options.preload = ctx.inner.recent_artifacts(options.flavor());
        let settings = ctx.inner.settings.clone();
        let pool_name = format!("pool{}", POOL_COUNTER.fetch_add(1, Ordering::Relaxed));
        // Start the workers in parallel: each start is a fork (the fork server takes the requests
        // back to back) or an exec, plus an engine setup. A forked worker is not waited for: the
        // first frames for it follow its `Init`, and its `Ready` is taken by its link. One that
        // fails after the fork is seen as a worker that died (its job fails, a replacement is
        // started and waited for, three times at most), not as this call's start error.
        let started: Vec<Result<spawn::Spawned>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..processes)
                .map(|slot| {
                    let (settings, preload) = (&settings, &options.preload);
                    let init = options.worker_init(format!("{pool_name}-{slot}"), slot);
                    s.spawn(move || spawn::spawn_worker_unconfirmed(settings, &init, preload))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(Error::Internal("worker start panicked".into()))))
                .collect()
        });
        let mut workers = Vec::with_capacity(processes);
        let mut failure = None;
        for s in started {
            match s {
                Ok(w) => workers.push(w),
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        if let Some(e) = failure {
            for mut w in workers {
                let _ = w.child.kill();
                let _ = w.child.wait();
            }
            return Err(e);
        }

        let (done_tx, done) = flume::bounded::<()>(1);
        let dispatcher = Dispatcher::start(ctx.inner.clone(), options.clone(), pool_name, workers, done_tx);
        let backend = Backend::Local(dispatcher);
        Ok(Pool { backend, options, processes, done, terminated: AtomicBool::new(false), _ctx: ctx.inner.clone() })
    }

    /// A pool whose workers are the nodes of the context's cluster; `processes` (for chunk sizes)
    /// defaults to the slots of the nodes up now.
    fn on_cluster(
        ctx: &Context,
        conn: &Arc<crate::cluster::Connection>,
        processes: Option<usize>,
        options: PoolOptions,
    ) -> Result<Pool> {
        let processes = match processes {
            Some(n) => n,
            None => conn.nodes()?.iter().map(|n| n.slots as usize).sum::<usize>().max(1),
        };
        let name = format!(
            "{}{}",
            POOL_COUNTER.fetch_add(1, Ordering::Relaxed),
            nuid::next().to_string().to_ascii_lowercase()
        );
        // Each node's workers run the initializer: its module goes to the store now.
        let init = match &options.initializer {
            Some(_) if crate::shm::raw::Region::among(&options.keep) => {
                return Err(crate::cluster::regions_refused(conn, "a pool initializer"));
            }
            Some((module, call)) => {
                let (up, m) = (conn.clone(), module.clone());
                crate::cluster::runtime::wait(async move { up.upload(&m.hash, &m.name, || m.bytes()).await })?;
                Some(crate::cluster::message::Init {
                    module: module.hash.clone(),
                    module_name: module.name.clone(),
                    call: call.clone(),
                })
            }
            None => None,
        };
        let limits = crate::cluster::message::Limits {
            timeout_ms: options.timeout.map(|t| t.as_millis().min(u128::from(u64::MAX)) as u64),
            max_memory: options.max_memory.map(|m| m as u64),
            fuel: options.fuel,
            retries: options.retries,
            max_tasks_per_child: options.max_tasks_per_child,
            dirs: (options.sandbox.dirs().iter())
                .map(|d| (d.guest.clone(), d.access == crate::config::DirAccess::ReadOnly))
                .collect(),
            env: options.sandbox.envs().to_vec(),
            args: options.sandbox.args().to_vec(),
        };
        let (done_tx, done) = flume::bounded::<()>(1);
        let cluster = crate::cluster::ClusterPool::start(conn.clone(), limits, init, name, done_tx)?;
        let backend = Backend::Cluster(cluster);
        Ok(Pool { backend, options, processes, done, terminated: AtomicBool::new(false), _ctx: ctx.inner.clone() })
    }

    /// [`Pool::with_processes`] for async code: starts the workers without blocking the caller's
    /// executor thread.
    pub async fn with_processes_async(ctx: &Context, processes: usize) -> Result<Pool> {
        let ctx = ctx.clone();
        let (tx, rx) = flume::bounded(1);
        std::thread::Builder::new()
            .name("wasmproc-pool-start".into())
            .spawn(move || {
                let _ = tx.send(Pool::with_processes(&ctx, processes));
            })
            .map_err(|e| Error::Internal(format!("pool start thread: {e}")))?;
        rx.recv_async().await.map_err(|_| Error::Internal("pool start thread ended without a pool".into()))?
    }

    /// The number of worker processes.
    pub fn processes(&self) -> usize {
        self.processes
    }

    /// The current process id of each worker (0 for a slot whose worker is being replaced; none
    /// on a cluster, whose workers are on the nodes).
    pub fn pids(&self) -> Vec<u32> {
        self.backend.pids()
    }

    /// Compiles `module` for this pool's workers now (once per module and engine; the result is
    /// cached on disk) instead of at the first call that uses it. A large module takes seconds
    /// (a Python component ~19 MB: ~10 s); the CLI calls this to show progress meanwhile.
    ///
    /// ```no_run
    /// # fn main() -> wasmproc::Result<()> {
    /// let ctx = wasmproc::Context::new()?;
    /// let module = ctx.load("tasks.wasm")?;
    /// let pool = wasmproc::Pool::with_processes(&ctx, 4)?;
    /// pool.prepare(&module)?; // compiles now, not in the first map
    /// # Ok(()) }
    /// ```
    pub fn prepare(&self, module: &Module) -> Result<()> {
        match &self.backend {
            Backend::Local(_) => self._ctx.ensure_compiled(&module.inner, self.options.flavor()).map(drop),
            // On a cluster: uploads it (each node compiles it when it first runs it).
            Backend::Cluster(_) => {
                let conn = self._ctx.cluster.clone().expect("a cluster pool's context has a cluster");
                let m = module.inner.clone();
                crate::cluster::runtime::wait(async move { conn.upload(&m.hash, &m.name, || m.bytes()).await })
            }
        }
    }

    /// Whether `module` is compiled for this pool's workers already (then [`prepare`](Pool::prepare)
    /// does not block). A cluster pool's modules are compiled by the nodes: never here.
    pub(crate) fn prepared(&self, module: &Module) -> bool {
        matches!(self.backend, Backend::Local(_)) && module.inner.artifact_for(self.options.flavor()).is_some()
    }

    /// Applies `task` to every item and returns the results in order — `pool.map(func, iterable)`.
    ///
    /// The items are sent in chunks of Python's default size (about four chunks per worker); each
    /// chunk is one call into the guest, sent as soon as it is encoded. Waits for every item; if any
    /// failed, returns the failure of the lowest index. An item that cannot be encoded fails the
    /// call with [`Error::Codec`] naming it, and the chunks not yet started are withdrawn.
    pub fn map<A, R>(&self, task: &Task<A, R>, items: impl IntoIterator<Item = A>) -> Result<Vec<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.map_async(task, items).get()
    }

    /// `map` with a wall-clock limit for the whole call: after `timeout` it returns
    /// [`Error::Timeout`] and the chunks that have not started are cancelled (chunks already
    /// running finish; bound them with [`PoolBuilder::timeout`]).
    ///
    /// ```no_run
    /// # fn demo(pool: &wasmproc::Pool, square: &wasmproc::Task<u64, u64>) -> wasmproc::Result<()> {
    /// match pool.map_timeout(square, 0..1_000_000, std::time::Duration::from_secs(2)) {
    ///     Ok(squares) => assert_eq!(squares.len(), 1_000_000),
    ///     Err(wasmproc::Error::Timeout) => eprintln!("gave up after 2 s"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn map_timeout<A, R>(
        &self,
        task: &Task<A, R>,
        items: impl IntoIterator<Item = A>,
        timeout: Duration,
    ) -> Result<Vec<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        let pending = self.map_async(task, items);
        match pending.get_timeout(timeout) {
            Err(Error::Timeout) => {
                pending.cancel();
                Err(Error::Timeout)
            }
            other => other,
        }
    }

    /// `map` for a task of several parameters, each item a tuple of arguments — `pool.starmap`.
    /// (In wasmproc a multi-parameter task already takes a tuple, so this is `map` by its Python name.)
    pub fn starmap<A, R>(&self, task: &Task<A, R>, items: impl IntoIterator<Item = A>) -> Result<Vec<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.map(task, items)
    }

    /// Starts a `map` and returns at once — `pool.map_async`. `.await` the result in async code.
    pub fn map_async<A, R>(&self, task: &Task<A, R>, items: impl IntoIterator<Item = A>) -> AsyncResult<Vec<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.map_chunked(task, items, None)
    }

    /// `starmap` without waiting — `pool.starmap_async`.
    pub fn starmap_async<A, R>(&self, task: &Task<A, R>, items: impl IntoIterator<Item = A>) -> AsyncResult<Vec<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.map_async(task, items)
    }

    /// Runs `task` once and waits for its result — `pool.apply(func, args)`.
    pub fn apply<A, R>(&self, task: &Task<A, R>, args: A) -> Result<R>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.apply_async(task, args).get()
    }

    /// Starts `task` once and returns at once — `pool.apply_async(func, args)`.
    ///
    /// ```no_run
    /// # async fn demo(pool: &wasmproc::Pool, add: &wasmproc::Task<(i64, i64), i64>) -> wasmproc::Result<()> {
    /// let pending = pool.apply_async(add, (3, 4));
    /// assert_eq!(pending.await?, 7);
    /// # Ok(()) }
    /// ```
    pub fn apply_async<A, R>(&self, task: &Task<A, R>, args: A) -> AsyncResult<R>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.start(task, std::iter::once(args), Some(1), |results: Vec<R>| {
            results.into_iter().next().ok_or_else(|| Error::Internal("apply produced no result".into()))
        })
    }

    /// Results in input order, pulling `items` lazily — `pool.imap(func, iterable)` (chunksize 1).
    pub fn imap<I, R>(&self, task: &Task<I::Item, R>, items: I) -> IMap<I::IntoIter, R>
    where
        I: IntoIterator,
        I::Item: Serialize,
        R: DeserializeOwned,
    {
        IMap::new(self, task, items.into_iter(), 1, true)
    }

    /// Results in completion order, pulling `items` lazily — `pool.imap_unordered(func, iterable)`.
    pub fn imap_unordered<I, R>(&self, task: &Task<I::Item, R>, items: I) -> IMap<I::IntoIter, R>
    where
        I: IntoIterator,
        I::Item: Serialize,
        R: DeserializeOwned,
    {
        IMap::new(self, task, items.into_iter(), 1, false)
    }

    /// The same methods with an explicit `chunksize` — `pool.map(func, iterable, chunksize=k)`.
    ///
    /// ```no_run
    /// # fn demo(pool: &wasmproc::Pool, square: &wasmproc::Task<u64, u64>) -> wasmproc::Result<()> {
    /// let squares = pool.chunksize(100).map(square, 0..10_000)?;
    /// assert_eq!(squares[99], 99 * 99);
    /// # Ok(()) }
    /// ```
    pub fn chunksize(&self, chunksize: usize) -> Chunked<'_> {
        Chunked { pool: self, chunksize: chunksize.max(1) }
    }

    /// Stops accepting work; queued work still runs — `pool.close()`.
    pub fn close(&self) {
        self.backend.close();
    }

    /// Waits for the workers to finish the queued work and exit — `pool.join()`. Unlike Python, it
    /// closes the pool first if that was not done.
    pub fn join(&self) {
        self.close();
        // Each reader thread holds a sender; the channel disconnects when the last one has reaped
        // its worker.
        let _ = self.done.recv();
    }

    /// [`Pool::join`] for async code.
    pub async fn join_async(&self) {
        self.close();
        let _ = self.done.recv_async().await;
    }

    /// Stops the workers now (SIGKILL), without finishing queued work — `pool.terminate()`.
    /// Outstanding results become [`Error::Terminated`]. Returns once the workers are reaped.
    pub fn terminate(&self) {
        self.terminated.store(true, Ordering::Release);
        self.backend.terminate();
        let _ = self.done.recv_timeout(Duration::from_secs(10));
    }

    fn map_chunked<A, R>(
        &self,
        task: &Task<A, R>,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
    ) -> AsyncResult<Vec<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.start(task, items, chunksize, Ok)
    }

    /// Encodes and submits every item in chunks; `finish` turns the decoded results into the value.
    /// Runs one chunk of inputs already encoded with `codec` for `task` of `module`; the answer
    /// arrives on `reply` (a cluster node's way in).
    pub(crate) fn submit_encoded(
        &self,
        module: &Module,
        task: &str,
        codec: wasmproc_wire::Codec,
        args: Vec<u8>,
        lens: Vec<u32>,
        reply: flume::Sender<ChunkDone>,
    ) -> Result<()> {
        let sig = Arc::new(module.signature(task)?.clone());
        self.backend.submit(Job::encoded(module.inner.clone(), sig, codec, args, lens, reply))
    }

    /// Submits one call as a single-input job answered on `reply` with chunk index `id`; the
    /// executor's way in. `cancel` withdraws it while it has not started.
    pub(crate) fn submit_one<A: Serialize, R: DeserializeOwned>(
        &self,
        task: &Task<A, R>,
        args: &A,
        id: usize,
        cancel: Arc<AtomicBool>,
        reply: flume::Sender<ChunkDone>,
    ) -> Result<()> {
        let mut bytes = Vec::new();
        let (len, keep) = task.encode_into(args, &mut bytes)?;
        let mut job = Job::new(task, id, bytes, vec![len], keep, reply);
        job.cancel = Some(cancel);
        self.backend.submit(job)
    }

    /// A handle that can withdraw this pool's queued jobs (for futures).
    pub(crate) fn clone_handle(&self) -> PoolHandle {
        PoolHandle(self.backend.clone())
    }

    /// Removes every job that has not started.
    pub(crate) fn withdraw_all(&self) -> usize {
        self.backend.withdraw(|_| true)
    }

    fn start<A, R, T>(
        &self,
        task: &Task<A, R>,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
        finish: impl FnOnce(Vec<R>) -> Result<T> + Send + 'static,
    ) -> AsyncResult<T>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
        T: Send + 'static,
    {
        // Each chunk is submitted as soon as it is encoded, so workers start while later inputs are
        // still being encoded (as Python's task handler feeds them). An input that cannot be
        // encoded fails the call, as an unpicklable item fails Python's `map`: the chunks already
        // submitted are cancelled (those not yet given to a worker never run).
        let (tx, rx) = flume::unbounded();
        let cancel = Arc::new(AtomicBool::new(false));
        let watch = Arc::new(Watch::default());
        let submitted = self.encode_chunks(task, items, chunksize, |base, args, lens, keep| {
            let mut job = Job::new(task, base, args, lens, keep, tx.clone());
            job.cancel = Some(cancel.clone());
            job.watch = Some(watch.clone());
            self.backend.submit(job)
        });
        let len = match submitted {
            Ok(len) => len,
            Err(e) => {
                cancel.store(true, Ordering::Release);
                return AsyncResult::failed(e);
            }
        };
        drop(tx);
        AsyncResult::new(rx, cancel, watch, len, Box::new(results::Gather::new(task.decoder(), finish)))
    }
}

impl Pool {
    /// Encodes `items` into chunks of `chunksize` (the default for their number if `None`), each
    /// straight into its own buffer, and hands each to `submit` as it is made: its first input's
    /// index, the arguments back to back, their lengths, and the objects they refer to. Returns
    /// how many inputs there were. An iterator that does not know its length is collected first,
    /// as Python's `map` makes a list of it.
    fn encode_chunks<A: Serialize, R: DeserializeOwned>(
        &self,
        task: &Task<A, R>,
        items: impl IntoIterator<Item = A>,
        chunksize: Option<usize>,
        submit: impl FnMut(usize, Vec<u8>, Vec<u32>, keep::KeepAlive) -> Result<()>,
    ) -> Result<usize> {
        let items = items.into_iter();
        match items.size_hint() {
            (lo, Some(hi)) if lo == hi => self.encode_known(task, items, lo, chunksize, submit),
            _ => {
                let items: Vec<A> = items.collect();
                let len = items.len();
                self.encode_known(task, items.into_iter(), len, chunksize, submit)
            }
        }
    }

    /// [`encode_chunks`](Pool::encode_chunks) for `len` items.
    fn encode_known<A: Serialize, R: DeserializeOwned>(
        &self,
        task: &Task<A, R>,
        mut items: impl Iterator<Item = A>,
        len: usize,
        chunksize: Option<usize>,
        mut submit: impl FnMut(usize, Vec<u8>, Vec<u32>, keep::KeepAlive) -> Result<()>,
    ) -> Result<usize> {
        let size = chunksize.unwrap_or_else(|| default_chunksize(len, self.processes())).max(1);
        let mut count = 0;
        // Bytes per input so far, to size each chunk's buffer once.
        let mut per_input = 0;
        loop {
            let n = size.min(len.saturating_sub(count)).max(1);
            let (mut args, mut lens) = (Vec::with_capacity(n * per_input), Vec::with_capacity(n));
            let (encoded, keep) = keep::collecting(|| {
                for item in items.by_ref().take(size) {
                    let len = task.encode_uncollected(&item, &mut args).map_err(|e| match e {
                        Error::Codec { task, reason } => {
                            Error::Codec { task, reason: format!("{reason} (input {})", count + lens.len()) }
                        }
                        other => other,
                    })?;
                    lens.push(len);
                }
                Ok::<_, Error>(())
            });
            encoded?;
            if lens.is_empty() {
                return Ok(count);
            }
            per_input = args.len().div_ceil(lens.len());
            let base = count;
            count += lens.len();
            submit(base, args, lens, keep)?;
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if !self.terminated.load(Ordering::Acquire) {
            // Already-joined pools have no workers left; this returns at once for them.
            self.terminate();
        }
    }
}

static POOL_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Python's default `chunksize` for `map` over `len` items on `processes` workers: about four
/// chunks per worker (`divmod(len, 4 * processes)`, rounded up).
///
/// ```
/// assert_eq!(wasmproc::default_chunksize(10_000, 2), 1250);
/// assert_eq!(wasmproc::default_chunksize(17, 4), 2);
/// ```
pub fn default_chunksize(len: usize, processes: usize) -> usize {
    let per = processes.max(1) * 4;
    len / per + usize::from(!len.is_multiple_of(per))
}

/// Configures a [`Pool`]; from [`Pool::builder`].
#[derive(Debug)]
pub struct PoolBuilder<'a> {
    ctx: &'a Context,
    processes: Option<usize>,
    options: PoolOptions,
}

impl PoolBuilder<'_> {
    /// Number of worker processes (at least one). Default: the context's, which is the CPU count
    /// unless set.
    pub fn processes(mut self, n: usize) -> Self {
        self.processes = Some(n.max(1));
        self
    }

    /// Replace each worker after it has run `n` chunks — Python's `maxtasksperchild`, for tasks
    /// that leak or accumulate state. (A chunk is one call into the guest; `apply` is a chunk of
    /// one.)
    pub fn max_tasks_per_child(mut self, n: u64) -> Self {
        self.options.max_tasks_per_child = Some(n.max(1));
        self
    }

    /// When a worker dies while running a chunk, run that chunk again on another worker up to `n`
    /// times before failing its inputs with [`FailureKind::WorkerDied`](crate::FailureKind).
    /// Default 0: a task that kills its worker (e.g. by exhausting memory) fails at once. Chunks
    /// that were queued behind it at that worker never ran and are always resent.
    pub fn retries(mut self, n: u32) -> Self {
        self.options.retries = n;
        self
    }

    /// Interrupt any input that runs longer than `timeout`; it fails with
    /// [`FailureKind::Timeout`](crate::FailureKind::Timeout) and the worker goes on with the next
    /// one. Tasks run on an engine with epoch interruption (measured at about 1.5× the time of a
    /// tight loop without it). An input blocked inside a host call, where interruption cannot
    /// reach, is stopped by killing and replacing its worker one second after the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// The most linear memory a task instance may use, in bytes; an input that needs more fails
    /// with [`FailureKind::MemoryLimit`](crate::FailureKind::MemoryLimit) and its worker goes on.
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.options.max_memory = Some(bytes);
        self
    }

    /// Give every input this much fuel (about one unit per wasm instruction); an input that uses
    /// it up fails with [`FailureKind::FuelExhausted`](crate::FailureKind::FuelExhausted) and the
    /// worker goes on. Deterministic where a timeout is not, but metering makes tasks slower than
    /// a timeout does (the module is compiled once more for it, on first use).
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.options.fuel = Some(fuel);
        self
    }

    /// A task run once in each worker before any other — Python's `initializer`/`initargs`. It
    /// runs on every fresh instance of its module (after a trap the instance is replaced and
    /// initialized again), so what it stores in guest globals is there for every task of that
    /// module in that worker. If it fails, the tasks of its module fail with
    /// [`FailureKind::Load`](crate::FailureKind::Load) naming the initializer. On a cluster, every
    /// node's workers for this pool run it likewise (`build` uploads its module).
    pub fn initializer<A: Serialize, R: DeserializeOwned>(mut self, task: &Task<A, R>, args: A) -> Result<Self> {
        let mut bytes = Vec::new();
        // An initializer's queue arguments live as long as the pool's options.
        let (_, keep) = task.encode_into(&args, &mut bytes)?;
        self.options.keep.extend(keep);
        let call = crate::ipc::protocol::InitCall { task: task.sig.name().to_string(), codec: task.codec, args: bytes };
        self.options.initializer = Some((task.module.inner.clone(), call));
        Ok(self)
    }

    /// [`initializer`](PoolBuilder::initializer) with its arguments encoded already (a cluster
    /// node's pool, running the initializer of the client's pool).
    pub(crate) fn initializer_call(mut self, module: &Module, call: crate::ipc::protocol::InitCall) -> Self {
        self.options.initializer = Some((module.inner.clone(), call));
        self
    }

    /// What the pool's guests may touch (files, environment, arguments). Default: nothing.
    pub fn sandbox(mut self, sandbox: crate::config::Sandbox) -> Self {
        self.options.sandbox = sandbox;
        self
    }

    /// Sends the workers' queue and manager requests to `broker` instead of the context's.
    pub(crate) fn broker(mut self, broker: Arc<crate::broker::Broker>) -> Self {
        self.options.broker = Some(broker);
        self
    }

    /// Starts the workers; returns once every one has started (see [`Pool::with_processes`]).
    pub fn build(self) -> Result<Pool> {
        if let Some(conn) = &self.ctx.inner.cluster {
            // Host paths mean nothing on the nodes: each maps the guest paths to what it grants.
            return Pool::on_cluster(self.ctx, conn, self.processes, self.options);
        }
        self.options.sandbox.validate()?;
        if let Some((module, _)) = &self.options.initializer {
            self.ctx.inner.ensure_compiled(module, self.options.flavor())?;
        }
        let processes = self.processes.unwrap_or_else(|| self.ctx.processes());
        Pool::spawn(self.ctx, processes, self.options)
    }
}

/// [`Pool`] methods with an explicit chunk size; see [`Pool::chunksize`].
#[derive(Debug)]
pub struct Chunked<'a> {
    pool: &'a Pool,
    chunksize: usize,
}

impl Chunked<'_> {
    /// [`Pool::map`] with this chunk size.
    pub fn map<A, R>(&self, task: &Task<A, R>, items: impl IntoIterator<Item = A>) -> Result<Vec<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.map_async(task, items).get()
    }

    /// [`Pool::starmap`] with this chunk size.
    pub fn starmap<A, R>(&self, task: &Task<A, R>, items: impl IntoIterator<Item = A>) -> Result<Vec<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.map(task, items)
    }

    /// [`Pool::map_async`] with this chunk size.
    pub fn map_async<A, R>(&self, task: &Task<A, R>, items: impl IntoIterator<Item = A>) -> AsyncResult<Vec<R>>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        self.pool.map_chunked(task, items, Some(self.chunksize))
    }

    /// [`Pool::imap`] with this chunk size.
    pub fn imap<I, R>(&self, task: &Task<I::Item, R>, items: I) -> IMap<I::IntoIter, R>
    where
        I: IntoIterator,
        I::Item: Serialize,
        R: DeserializeOwned,
    {
        IMap::new(self.pool, task, items.into_iter(), self.chunksize, true)
    }

    /// [`Pool::imap_unordered`] with this chunk size.
    pub fn imap_unordered<I, R>(&self, task: &Task<I::Item, R>, items: I) -> IMap<I::IntoIter, R>
    where
        I: IntoIterator,
        I::Item: Serialize,
        R: DeserializeOwned,
    {
        IMap::new(self.pool, task, items.into_iter(), self.chunksize, false)
    }
}

#[cfg(test)]
mod tests {
    use super::default_chunksize;

    #[test]
    fn chunksize_follows_python() {
        // divmod(len, 4 * processes), plus one if there is a remainder.
        assert_eq!(default_chunksize(0, 4), 0);
        assert_eq!(default_chunksize(1, 4), 1);
        assert_eq!(default_chunksize(16, 4), 1);
        assert_eq!(default_chunksize(17, 4), 2);
        assert_eq!(default_chunksize(10_000, 2), 1250);
        assert_eq!(default_chunksize(10_001, 2), 1251);
    }
}
