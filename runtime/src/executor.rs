//! `Executor`: Python's `concurrent.futures.ProcessPoolExecutor` on top of a [`Pool`].
//!
//! Each `submit` is one single-input job whose answer comes back on the executor's one reply
//! channel, tagged with the future's id. One completion thread per executor receives every answer,
//! decodes it, stores it in its future, wakes whoever waits (blocking callers, `await`ers,
//! `as_completed`/`wait` listeners) and runs the future's callbacks. Invariant: every future is
//! completed exactly once, because every job answers exactly once (see `pool/job.rs`) — a worker
//! that dies fails only the futures it held, and the pool replaces it.

use crate::error::{Error, Result};
use crate::job::ChunkDone;
use crate::module::Task;
use crate::pool::{Pool, PoolHandle};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

type Completer = Box<dyn FnOnce(ChunkDone) + Send>;

/// What the completion thread needs: the completers of the futures still running.
struct Shared {
    pending: Mutex<HashMap<usize, Completer>>,
}

/// A pool of worker processes that runs submitted calls and hands back [`Future`]s —
/// `concurrent.futures.ProcessPoolExecutor`. Where Python's executor breaks for good when a worker
/// dies (`BrokenProcessPool`), this one replaces the worker and fails only the futures it held.
///
/// ```no_run
/// # fn demo(ctx: &wasmproc::Context, square: &wasmproc::Task<u64, u64>) -> wasmproc::Result<()> {
/// let executor = wasmproc::Executor::new(ctx, 4)?;
/// let futures: Vec<_> = (0..10).map(|x| executor.submit(square, x)).collect();
/// for done in wasmproc::as_completed(futures, None) {
///     println!("{}", done?.result()?);
/// }
/// executor.shutdown(true, false);
/// # Ok(()) }
/// ```
pub struct Executor {
    pool: Pool,
    next: AtomicUsize,
    shared: Arc<Shared>,
    reply: flume::Sender<ChunkDone>,
    /// Set by `shutdown`: submissions fail from then on.
    shut: AtomicBool,
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor").field("processes", &self.pool.processes()).finish()
    }
}

impl Executor {
    /// An executor with `max_workers` worker processes — `ProcessPoolExecutor(max_workers)`.
    pub fn new(ctx: &crate::context::Context, max_workers: usize) -> Result<Executor> {
        Ok(Executor::from_pool(Pool::with_processes(ctx, max_workers)?))
    }

    /// An executor over a pool built with any [`PoolBuilder`](crate::PoolBuilder) options
    /// (timeouts, memory limits, sandbox, `initializer`, …).
    pub fn from_pool(pool: Pool) -> Executor {
        let (reply, rx) = flume::unbounded::<ChunkDone>();
        let shared = Arc::new(Shared { pending: Mutex::new(HashMap::new()) });
        let completions = shared.clone();
        std::thread::Builder::new()
            .name("wasmproc-executor".into())
            .spawn(move || {
                // Ends when the executor and every job (the senders) are gone: every future that
                // was submitted has been answered by then.
                for done in rx.iter() {
                    let completer = lock(&completions.pending).remove(&done.base);
                    if let Some(complete) = completer {
                        complete(done);
                    }
                }
            })
            .expect("spawn the executor's completion thread");
        Executor { pool, next: AtomicUsize::new(0), shared, reply, shut: AtomicBool::new(false) }
    }

    /// Schedules `task(args)` and returns its future at once — `executor.submit(fn, *args)`.
    /// A submission that cannot be made (shut down, unencodable arguments) gives a future that
    /// already failed.
    pub fn submit<A, R>(&self, task: &Task<A, R>, args: A) -> Future<R>
    where
        A: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let cancel = Arc::new(AtomicBool::new(false));
        let slot = Arc::new(Slot { state: Mutex::new(State::Pending(Vec::new())), cond: Condvar::new(), cancel });
        let future = Future { slot: slot.clone(), pool: Some(self.pool.clone_handle()) };
        if self.shut.load(Ordering::Acquire) {
            slot.complete(Err(Error::PoolClosed));
            return future;
        }
        let decoder = task.decoder();
        lock(&self.shared.pending).insert(
            id,
            Box::new(move |done: ChunkDone| {
                let result = match done.item(0) {
                    Ok(bytes) => decoder.decode(bytes),
                    Err(Error::Terminated) if slot.cancel.load(Ordering::Acquire) => Err(Error::Cancelled),
                    Err(e) => Err(e),
                };
                slot.complete(result);
            }),
        );
        if let Err(e) = self.pool.submit_one(task, &args, id, future.slot.cancel.clone(), self.reply.clone()) {
            lock(&self.shared.pending).remove(&id);
            future.slot.complete(Err(e));
        }
        future
    }

    /// Runs `task` over `inputs` and yields the results in input order —
    /// `executor.map(fn, iterable, timeout=…)`. Every call is submitted at once; with a
    /// `timeout` (counted from this call), a result not ready by then yields [`Error::Timeout`]
    /// and the calls not yet started are cancelled.
    pub fn map<I, R>(&self, task: &Task<I::Item, R>, inputs: I, timeout: Option<Duration>) -> MapResults<R>
    where
        I: IntoIterator,
        I::Item: Serialize,
        R: DeserializeOwned + Send + 'static,
    {
        let futures = inputs.into_iter().map(|a| self.submit(task, a)).collect();
        MapResults { futures, deadline: timeout.map(|t| Instant::now() + t), expired: false }
    }

    /// Stops taking submissions — `executor.shutdown(wait, cancel_futures)`. With
    /// `cancel_futures`, calls that have not started are cancelled (their futures report
    /// [`Error::Cancelled`]); with `wait`, returns once every started call has finished and the
    /// workers have exited.
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.shut.store(true, Ordering::Release);
        if cancel_futures {
            self.pool.withdraw_all();
        }
        self.pool.close();
        if wait {
            self.pool.join();
        }
    }

    /// The pool underneath.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// Dropping an executor is `shutdown(wait=True)`, like leaving Python's `with` block: calls
/// already submitted still run to the end.
impl Drop for Executor {
    fn drop(&mut self) {
        self.shutdown(true, false);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Results of [`Executor::map`], in input order.
pub struct MapResults<R> {
    futures: VecDeque<Future<R>>,
    deadline: Option<Instant>,
    expired: bool,
}

impl<R> fmt::Debug for MapResults<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapResults").field("left", &self.futures.len()).finish()
    }
}

impl<R: Send + 'static> Iterator for MapResults<R> {
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        if self.expired {
            return None;
        }
        let next = self.futures.pop_front()?;
        let result = match self.deadline {
            None => next.result(),
            Some(d) => next.result_timeout(d.saturating_duration_since(Instant::now())),
        };
        if matches!(result, Err(Error::Timeout)) {
            self.expired = true;
            next.cancel();
            self.futures.iter().for_each(|f| {
                f.cancel();
            });
        }
        Some(result)
    }
}

type Callback<R> = Box<dyn FnOnce(&Future<R>) + Send>;

enum State<R> {
    /// Not answered yet: what to run or wake when it is.
    Pending(Vec<Listener<R>>),
    /// Answered; `None` once the value was taken.
    Done(Option<Result<R>>),
}

enum Listener<R> {
    Callback(Callback<R>),
    Waker(Waker),
    /// `as_completed`/`wait`: tell this channel the future's index.
    Index(flume::Sender<usize>, usize),
}

struct Slot<R> {
    state: Mutex<State<R>>,
    cond: Condvar,
    cancel: Arc<AtomicBool>,
}

impl<R> Slot<R> {
    fn complete(self: &Arc<Self>, result: Result<R>) {
        let listeners = {
            let mut st = lock(&self.state);
            match std::mem::replace(&mut *st, State::Done(Some(result))) {
                State::Pending(l) => l,
                // Answered twice would be a bug; keep the first answer.
                done @ State::Done(_) => {
                    *st = done;
                    return;
                }
            }
        };
        self.cond.notify_all();
        let future = Future { slot: self.clone(), pool: None };
        for l in listeners {
            match l {
                Listener::Callback(f) => f(&future),
                Listener::Waker(w) => w.wake(),
                Listener::Index(tx, i) => {
                    let _ = tx.send(i);
                }
            }
        }
    }
}

/// The pending result of [`Executor::submit`] — `concurrent.futures.Future`. Wait for it with
/// [`result`](Future::result), poll it with [`done`](Future::done), `.await` it, or hand a set of
/// them to [`as_completed`] or [`wait`].
///
/// The value is moved out by the first `result`/`await` that returns it; a second one returns
/// [`Error::AlreadyTaken`] (Python copies it instead). Clones share the same result.
pub struct Future<R> {
    slot: Arc<Slot<R>>,
    /// For `cancel`: the pool whose queue may still hold the call.
    pool: Option<PoolHandle>,
}

impl<R> Clone for Future<R> {
    fn clone(&self) -> Self {
        Future { slot: self.slot.clone(), pool: self.pool.clone() }
    }
}

impl<R> fmt::Debug for Future<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Future").field("done", &self.done()).finish()
    }
}

impl<R> Future<R> {
    /// Whether the call finished (or was cancelled) — `future.done()`.
    pub fn done(&self) -> bool {
        matches!(*lock(&self.slot.state), State::Done(_))
    }

    /// Whether the call was cancelled — `future.cancelled()`.
    pub fn cancelled(&self) -> bool {
        matches!(*lock(&self.slot.state), State::Done(Some(Err(Error::Cancelled))))
    }

    /// Cancels the call if it has not started — `future.cancel()`. Returns whether it was
    /// cancelled (also true if it already was); a running or finished call is not.
    pub fn cancel(&self) -> bool {
        match &*lock(&self.slot.state) {
            State::Done(Some(Err(Error::Cancelled))) => return true,
            State::Done(_) => return false,
            State::Pending(_) => {}
        }
        // Withdrawing marks the call cancelled; a call already handed to a worker runs to the
        // end (as in Python).
        if !self.pool.as_ref().is_some_and(|p| p.withdraw(&self.slot.cancel)) {
            return false;
        }
        // The withdrawn job answers `Terminated` on the completion thread; wait for that.
        self.wait_until(None);
        self.cancelled()
    }

    /// Blocks until the call is done, or `deadline`; returns whether it is.
    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        // The answer to a short call comes within µs: look for it before sleeping on the condvar.
        if crate::spin::spin_on(deadline, &self.slot.state, |st| matches!(st, State::Done(_))) {
            return true;
        }
        let mut st = lock(&self.slot.state);
        loop {
            if let State::Done(_) = *st {
                return true;
            }
            st = match deadline {
                None => self.slot.cond.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    self.slot.cond.wait_timeout(st, d - now).unwrap_or_else(|p| p.into_inner()).0
                }
            };
        }
    }

    fn take(&self) -> Result<R> {
        match &mut *lock(&self.slot.state) {
            State::Done(result) => result.take().unwrap_or(Err(Error::AlreadyTaken)),
            State::Pending(_) => Err(Error::Timeout),
        }
    }

    /// Waits for the call and returns its value or error — `future.result()`.
    pub fn result(&self) -> Result<R> {
        self.wait_until(None);
        self.take()
    }

    /// Like [`result`](Future::result), giving up after `timeout` with [`Error::Timeout`] (the
    /// call goes on) — `future.result(timeout)`.
    pub fn result_timeout(&self, timeout: Duration) -> Result<R> {
        if !self.wait_until(Some(Instant::now() + timeout)) {
            return Err(Error::Timeout);
        }
        self.take()
    }

    /// Waits for the call; its error if it failed (the error stays for `result`), `None` if it
    /// succeeded — `future.exception()`.
    pub fn exception(&self) -> Option<Error> {
        self.wait_until(None);
        match &*lock(&self.slot.state) {
            State::Done(Some(Err(e))) => Some(e.duplicate()),
            _ => None,
        }
    }

    /// Whether the finished call failed; `None` while it runs (or once its value was taken).
    fn failed(&self) -> Option<bool> {
        match &*lock(&self.slot.state) {
            State::Done(Some(r)) => Some(r.is_err()),
            _ => None,
        }
    }

    /// Runs `callback` with this future once it is done — `future.add_done_callback(fn)`. It runs
    /// at once (on this thread) if the future is already done, otherwise on the executor's
    /// completion thread: keep it short.
    pub fn add_done_callback(&self, callback: impl FnOnce(&Future<R>) + Send + 'static) {
        let mut st = lock(&self.slot.state);
        match &mut *st {
            State::Pending(listeners) => listeners.push(Listener::Callback(Box::new(callback))),
            State::Done(_) => {
                drop(st);
                callback(self);
            }
        }
    }

    /// Sends `index` on `tx` once done (at once if it is).
    fn notify_on(&self, tx: &flume::Sender<usize>, index: usize) {
        let mut st = lock(&self.slot.state);
        match &mut *st {
            State::Pending(listeners) => listeners.push(Listener::Index(tx.clone(), index)),
            State::Done(_) => {
                let _ = tx.send(index);
            }
        }
    }
}

/// Awaiting a future takes its value (like [`Future::result`], without blocking a thread).
impl<R> std::future::Future for Future<R> {
    type Output = Result<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<R>> {
        let mut st = lock(&self.slot.state);
        match &mut *st {
            State::Done(result) => Poll::Ready(result.take().unwrap_or(Err(Error::AlreadyTaken))),
            State::Pending(listeners) => {
                listeners.retain(|l| !matches!(l, Listener::Waker(w) if w.will_wake(cx.waker())));
                listeners.push(Listener::Waker(cx.waker().clone()));
                Poll::Pending
            }
        }
    }
}

/// Yields `futures` as they complete — `concurrent.futures.as_completed(fs, timeout)`. With a
/// `timeout` (from this call), yields one [`Error::Timeout`] if some are still running then, and
/// stops.
pub fn as_completed<R>(futures: impl IntoIterator<Item = Future<R>>, timeout: Option<Duration>) -> AsCompleted<R> {
    let futures: Vec<Option<Future<R>>> = futures.into_iter().map(Some).collect();
    let (tx, rx) = flume::unbounded();
    for (i, f) in futures.iter().enumerate() {
        f.as_ref().expect("just built").notify_on(&tx, i);
    }
    let left = futures.len();
    AsCompleted { futures, rx, left, deadline: timeout.map(|t| Instant::now() + t) }
}

/// The iterator of [`as_completed`].
pub struct AsCompleted<R> {
    futures: Vec<Option<Future<R>>>,
    rx: flume::Receiver<usize>,
    left: usize,
    deadline: Option<Instant>,
}

impl<R> fmt::Debug for AsCompleted<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsCompleted").field("left", &self.left).finish()
    }
}

impl<R> Iterator for AsCompleted<R> {
    type Item = Result<Future<R>>;

    fn next(&mut self) -> Option<Result<Future<R>>> {
        if self.left == 0 {
            return None;
        }
        let index = match self.deadline {
            None => self.rx.recv().ok(),
            Some(d) => self.rx.recv_deadline(d).ok(),
        };
        match index.and_then(|i| self.futures.get_mut(i).and_then(Option::take)) {
            Some(f) => {
                self.left -= 1;
                Some(Ok(f))
            }
            None => {
                self.left = 0;
                Some(Err(Error::Timeout))
            }
        }
    }
}

/// When [`wait`] returns — `FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnWhen {
    /// As soon as any future is done.
    FirstCompleted,
    /// As soon as any future fails, or when all are done.
    FirstException,
    /// When all are done.
    AllCompleted,
}

/// The futures [`wait`] saw done and the ones still running.
#[derive(Debug)]
pub struct Waited<R> {
    /// Done (finished, failed or cancelled).
    pub done: Vec<Future<R>>,
    /// Still running.
    pub not_done: Vec<Future<R>>,
}

/// Waits for `futures` until `return_when` holds or `timeout` passes —
/// `concurrent.futures.wait(fs, timeout, return_when)`.
pub fn wait<R>(
    futures: impl IntoIterator<Item = Future<R>>,
    timeout: Option<Duration>,
    return_when: ReturnWhen,
) -> Waited<R> {
    let futures: Vec<Future<R>> = futures.into_iter().collect();
    let deadline = timeout.map(|t| Instant::now() + t);
    let (tx, rx) = flume::unbounded();
    for (i, f) in futures.iter().enumerate() {
        f.notify_on(&tx, i);
    }
    drop(tx);
    let mut finished = 0;
    while finished < futures.len() {
        let got = match deadline {
            None => rx.recv().ok(),
            Some(d) => rx.recv_deadline(d).ok(),
        };
        let Some(i) = got else { break };
        finished += 1;
        let stop = match return_when {
            ReturnWhen::FirstCompleted => true,
            ReturnWhen::FirstException => futures[i].failed() == Some(true),
            ReturnWhen::AllCompleted => false,
        };
        if stop {
            break;
        }
    }
    let (done, not_done) = futures.into_iter().partition(Future::done);
    Waited { done, not_done }
}
