//! What the asynchronous pool methods hand back: [`AsyncResult`] for one value (or one list), and
//! [`IMap`] for a stream of results that pulls its input lazily.

use super::Pool;
use super::backend::Backend;
use crate::error::{Error, Result};
use crate::job::{ChunkDone, ChunkOutcome, Job, Leading, Watch};
use crate::module::{Decoder, Task};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

/// Turns the chunks of a call into its value: each chunk is decoded as it arrives, while later
/// chunks still run, and the value is made once every chunk is in.
pub(crate) struct Gather<R, F> {
    decoder: Decoder<R>,
    /// Each arrived chunk's results (or the first error among them), with its first input's
    /// index, in arrival order (an `apply` has one, and allocates nothing here for it).
    parts: Vec<(usize, Result<Vec<R>>)>,
    finish: F,
}

impl<R, F> Gather<R, F> {
    /// Decodes results with `decoder`; `finish` makes the value of all of them, in input order.
    pub(crate) fn new(decoder: Decoder<R>, finish: F) -> Gather<R, F> {
        Gather { decoder, parts: Vec::new(), finish }
    }
}

/// A [`Gather`] with its result type erased.
pub(crate) trait Gathers<T>: Send {
    /// Decodes one arrived chunk.
    fn chunk(&mut self, chunk: &ChunkDone);
    /// The value, once every chunk is in: the first failure in input order, if any.
    fn finish(self: Box<Self>) -> Result<T>;
}

impl<R, T, F> Gathers<T> for Gather<R, F>
where
    R: DeserializeOwned + Send,
    F: FnOnce(Vec<R>) -> Result<T> + Send,
{
    fn chunk(&mut self, chunk: &ChunkDone) {
        let decoded = chunk.items().map(|item| self.decoder.decode(item?)).collect();
        self.parts.push((chunk.base, decoded));
    }

    fn finish(self: Box<Self>) -> Result<T> {
        let Gather { mut parts, finish, .. } = *self;
        if parts.len() == 1 {
            let (_, only) = parts.pop().expect("one part");
            return finish(only?);
        }
        // Chunks mostly arrive in order, which the sort finds at once.
        parts.sort_by_key(|(base, _)| *base);
        let mut out = Vec::with_capacity(parts.iter().map(|(_, p)| p.as_ref().map_or(0, Vec::len)).sum());
        for (_, part) in parts {
            out.append(&mut part?);
        }
        finish(out)
    }
}

/// The pending result of [`Pool::apply_async`] or [`Pool::map_async`]: Python's `AsyncResult`.
///
/// Block on it with [`get`](AsyncResult::get), poll it with [`ready`](AsyncResult::ready), or
/// `.await` it from async code.
pub struct AsyncResult<T> {
    rx: flume::Receiver<ChunkDone>,
    cancel: Arc<AtomicBool>,
    /// Where the call's chunks were given: a waiting caller takes that worker's answers itself.
    watch: Arc<Watch>,
    state: Mutex<State<T>>,
}

struct State<T> {
    /// Inputs whose chunk has not arrived.
    missing: usize,
    gather: Option<Box<dyn Gathers<T>>>,
    /// Set once every chunk is in: the value, until it is taken.
    done: Option<Result<T>>,
    taken: bool,
}

impl<T> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult").finish_non_exhaustive()
    }
}

impl<T: Send + 'static> AsyncResult<T> {
    pub(crate) fn new(
        rx: flume::Receiver<ChunkDone>,
        cancel: Arc<AtomicBool>,
        watch: Arc<Watch>,
        len: usize,
        gather: Box<dyn Gathers<T>>,
    ) -> AsyncResult<T> {
        let mut state = State { missing: len, gather: Some(gather), done: None, taken: false };
        if len == 0 {
            state.finish();
        }
        AsyncResult { rx, cancel, watch, state: Mutex::new(state) }
    }

    /// An already failed result (a submission error).
    pub(crate) fn failed(err: Error) -> AsyncResult<T> {
        let (_, rx) = flume::bounded(1);
        let state = State { missing: 0, gather: None, done: Some(Err(err)), taken: false };
        AsyncResult { rx, cancel: Arc::new(AtomicBool::new(true)), watch: Arc::default(), state: Mutex::new(state) }
    }

    /// Gives up on the chunks that have not started yet: they are never run, and the result
    /// becomes [`Error::Terminated`] unless it was already complete. Chunks already running
    /// finish. Use it to bound a whole `map` in time (see [`Pool::map_timeout`]).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Release);
    }

    /// Whether the result has arrived (Python's `ready()`).
    pub fn ready(&self) -> bool {
        self.pump(Some(Instant::now()))
    }

    /// Blocks until the result has arrived.
    pub fn wait(&self) {
        self.pump(None);
    }

    /// Blocks until the result has arrived or `timeout` passed; returns whether it arrived.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.pump(Some(Instant::now() + timeout))
    }

    /// Whether the call succeeded: `None` while it is not ready (where Python raises `ValueError`).
    pub fn successful(&self) -> Option<bool> {
        if !self.ready() {
            return None;
        }
        let state = self.state.lock().expect("AsyncResult lock");
        Some(matches!(state.done, Some(Ok(_))))
    }

    /// Blocks until the result arrives and returns it; a failed task returns its error.
    pub fn get(self) -> Result<T> {
        self.pump(None);
        self.take()
    }

    /// Like [`get`](AsyncResult::get), but gives up after `timeout` with [`Error::Timeout`], leaving
    /// the result to arrive later. Once it has returned the value, later calls return
    /// [`Error::AlreadyTaken`].
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        if !self.pump(Some(Instant::now() + timeout)) {
            return Err(Error::Timeout);
        }
        self.take()
    }

    fn take(&self) -> Result<T> {
        let mut state = self.state.lock().expect("AsyncResult lock");
        if state.taken {
            return Err(Error::AlreadyTaken);
        }
        state.taken = true;
        state.done.take().unwrap_or_else(|| Err(Error::Internal("AsyncResult taken before it was done".into())))
    }

    /// Receives chunks until done or `deadline`; returns whether done.
    fn pump(&self, deadline: Option<Instant>) -> bool {
        loop {
            {
                let state = self.state.lock().expect("AsyncResult lock");
                if state.done.is_some() || state.taken {
                    return true;
                }
            }
            // A wait that may block spins first: the answer to a short call comes within µs. While
            // it spins, it takes the answers of the worker its chunk went to (see `pump`), and
            // hands that back to the worker's reader when it stops.
            // The channel is looked at only when the count of answers has changed since the last
            // look: polling it would take its lock, which the answering thread needs.
            let mut leading = Leading::default();
            let mut seen = None;
            let spun = crate::spin::spin_before(deadline, || {
                leading.lead(&self.watch);
                let answered = self.watch.answered();
                if seen == Some(answered) {
                    return None;
                }
                seen = Some(answered);
                self.rx.try_recv().ok()
            });
            leading.step_down(spun.is_some());
            let chunk = match (spun, deadline) {
                (Some(chunk), _) => Some(chunk),
                (None, None) => self.rx.recv().ok(),
                (None, Some(d)) => match self.rx.recv_deadline(d) {
                    Ok(c) => Some(c),
                    Err(flume::RecvTimeoutError::Timeout) => return false,
                    Err(flume::RecvTimeoutError::Disconnected) => None,
                },
            };
            self.state.lock().expect("AsyncResult lock").accept(chunk);
        }
    }
}

impl<T> State<T> {
    /// Files one chunk (`None`: the senders are gone, which `Job`'s drop guard rules out unless the
    /// runtime itself went away).
    fn accept(&mut self, chunk: Option<ChunkDone>) {
        match chunk {
            Some(ChunkDone { outcome: ChunkOutcome::Terminated, .. }) | None => {
                self.gather = None;
                self.done = Some(Err(Error::Terminated));
            }
            Some(chunk) => {
                self.missing = self.missing.saturating_sub(chunk.len);
                if let Some(gather) = &mut self.gather {
                    gather.chunk(&chunk);
                }
                if self.missing == 0 {
                    self.finish();
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some(gather) = self.gather.take() {
            self.done = Some(gather.finish());
        }
    }
}

impl<T: Send + 'static> IntoFuture for AsyncResult<T> {
    type Output = Result<T>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T>> + Send>>;

    /// Awaits the result without blocking a thread.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            loop {
                {
                    let state = self.state.lock().expect("AsyncResult lock");
                    if state.done.is_some() || state.taken {
                        break;
                    }
                }
                let chunk = self.rx.recv_async().await.ok();
                self.state.lock().expect("AsyncResult lock").accept(chunk);
            }
            self.take()
        })
    }
}

/// The results of [`Pool::imap`] (in input order) or [`Pool::imap_unordered`] (in completion
/// order), one `Result` per input.
///
/// The input iterator is pulled lazily on the consuming thread: at most four chunks per worker are
/// pulled and not yet yielded (running, queued, or finished out of order), so an endless input runs
/// in bounded memory. A failed input yields
/// its error in place and the iteration goes on, as in Python. Implements both [`Iterator`] and
/// [`futures_core::Stream`].
pub struct IMap<I: Iterator, R> {
    backend: Backend,
    task: Task<I::Item, R>,
    input: I,
    input_done: bool,
    chunksize: usize,
    /// Most inputs pulled but not yet yielded.
    window: usize,
    /// Inputs pulled but not yet yielded.
    outstanding: usize,
    next_index: usize,
    ordered: bool,
    /// Chunks waiting to be yielded: by first index when ordered, in arrival order otherwise.
    by_base: BTreeMap<usize, ChunkDone>,
    arrived: VecDeque<ChunkDone>,
    /// Inputs that failed before reaching a worker (they could not be encoded or submitted).
    local: BTreeMap<usize, Error>,
    /// The chunk being yielded and the position in it.
    current: Option<(ChunkDone, usize)>,
    next_yield: usize,
    tx: flume::Sender<ChunkDone>,
    rx: flume::Receiver<ChunkDone>,
    stream: Option<flume::r#async::RecvStream<'static, ChunkDone>>,
}

impl<I: Iterator, R> fmt::Debug for IMap<I, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IMap").field("task", &self.task.sig.name()).field("ordered", &self.ordered).finish()
    }
}

impl<I, R> IMap<I, R>
where
    I: Iterator,
    I::Item: Serialize,
    R: DeserializeOwned,
{
    pub(crate) fn new(pool: &Pool, task: &Task<I::Item, R>, input: I, chunksize: usize, ordered: bool) -> Self {
        let (tx, rx) = flume::unbounded();
        IMap {
            backend: pool.backend.clone(),
            task: task.clone(),
            input,
            input_done: false,
            chunksize: chunksize.max(1),
            window: pool.processes() * 4 * chunksize.max(1),
            outstanding: 0,
            next_index: 0,
            ordered,
            by_base: BTreeMap::new(),
            arrived: VecDeque::new(),
            local: BTreeMap::new(),
            current: None,
            next_yield: 0,
            tx,
            rx,
            stream: None,
        }
    }

    /// Submits chunks from the input until the window is full or the input ends.
    fn fill(&mut self) {
        while !self.input_done && self.outstanding + self.chunksize <= self.window {
            let base = self.next_index;
            let mut args = Vec::new();
            let mut lens = Vec::with_capacity(self.chunksize);
            let mut keep = Vec::new();
            while lens.len() < self.chunksize {
                let Some(item) = self.input.next() else {
                    self.input_done = true;
                    break;
                };
                self.outstanding += 1;
                let index = base + lens.len();
                match self.task.encode_into(&item, &mut args) {
                    Ok((len, handles)) => {
                        lens.push(len);
                        keep.extend(handles);
                    }
                    Err(e) => {
                        // An input that cannot be encoded ends its chunk and is reported in place.
                        self.local.insert(index, e);
                        self.next_index = index + 1;
                        break;
                    }
                }
            }
            if !lens.is_empty() {
                self.next_index = self.next_index.max(base + lens.len());
                self.submit(base, args, lens, keep);
            }
        }
    }

    fn submit(&mut self, base: usize, args: Vec<u8>, lens: Vec<u32>, keep: crate::keep::KeepAlive) {
        let len = lens.len();
        match self.backend.submit(Job::new(&self.task, base, args, lens, keep, self.tx.clone())) {
            Ok(()) => {}
            Err(e) => {
                for i in 0..len {
                    let err = match &e {
                        Error::PoolClosed => Error::PoolClosed,
                        Error::WorkerStart { reason } => Error::WorkerStart { reason: reason.clone() },
                        _ => Error::Terminated,
                    };
                    self.local.insert(base + i, err);
                }
            }
        }
    }

    fn accept(&mut self, chunk: ChunkDone) {
        if self.ordered {
            self.by_base.insert(chunk.base, chunk);
        } else {
            self.arrived.push_back(chunk);
        }
    }

    /// The next outcome ready to be yielded, if any.
    fn ready_item(&mut self) -> Option<Result<R>> {
        loop {
            if let Some((chunk, pos)) = &mut self.current {
                if *pos < chunk.len {
                    let i = *pos;
                    *pos += 1;
                    self.outstanding -= 1;
                    if self.ordered {
                        self.next_yield = chunk.base + i + 1;
                    }
                    return Some(chunk.item(i).and_then(|bytes| self.task.decode(bytes)));
                }
                self.current = None;
            }
            if self.ordered {
                if let Some(err) = self.local.remove(&self.next_yield) {
                    self.next_yield += 1;
                    self.outstanding -= 1;
                    return Some(Err(err));
                }
                let chunk = self.by_base.remove(&self.next_yield)?;
                self.current = Some((chunk, 0));
            } else {
                if let Some((_, err)) = self.local.pop_first() {
                    self.outstanding -= 1;
                    return Some(Err(err));
                }
                let chunk = self.arrived.pop_front()?;
                self.current = Some((chunk, 0));
            }
        }
    }

    fn finished(&self) -> bool {
        self.input_done && self.outstanding == 0
    }

    /// The next result, waiting at most `timeout` for it — Python's `IMapIterator.next(timeout)`.
    ///
    /// `None` once every input has been yielded; `Some(Err(Error::Timeout))` if no result came in
    /// time. A timeout loses nothing: the input stays in flight and a later call yields it. To give
    /// up for good, drop the iterator and [`terminate`](Pool::terminate) the pool.
    ///
    /// ```no_run
    /// # fn demo(pool: &wasmproc::Pool, square: &wasmproc::Task<u64, u64>) {
    /// use std::time::Duration;
    /// let mut squares = pool.imap(square, 0..100);
    /// loop {
    ///     match squares.next_timeout(Duration::from_secs(1)) {
    ///         Some(Ok(n)) => println!("{n}"),
    ///         Some(Err(wasmproc::Error::Timeout)) => eprintln!("still waiting…"),
    ///         Some(Err(e)) => eprintln!("failed: {e}"),
    ///         None => break,
    ///     }
    /// }
    /// # }
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<R>> {
        self.next_until(Some(Instant::now() + timeout))
    }

    /// The next result, waiting until `deadline` at most (forever without one).
    fn next_until(&mut self, deadline: Option<Instant>) -> Option<Result<R>> {
        loop {
            self.fill();
            if let Some(item) = self.ready_item() {
                return Some(item);
            }
            if self.finished() {
                return None;
            }
            // Every job answers exactly once (see `Job`), and we hold a sender, so this cannot
            // disconnect while chunks are in flight.
            let chunk = match deadline {
                None => self.rx.recv().map_err(|_| Error::Terminated),
                Some(d) => self.rx.recv_deadline(d).map_err(|e| match e {
                    flume::RecvTimeoutError::Timeout => Error::Timeout,
                    flume::RecvTimeoutError::Disconnected => Error::Terminated,
                }),
            };
            match chunk {
                Ok(chunk) => self.accept(chunk),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<I, R> Iterator for IMap<I, R>
where
    I: Iterator,
    I::Item: Serialize,
    R: DeserializeOwned,
{
    type Item = Result<R>;

    fn next(&mut self) -> Option<Result<R>> {
        self.next_until(None)
    }
}

impl<I, R> futures_core::Stream for IMap<I, R>
where
    I: Iterator + Unpin,
    I::Item: Serialize,
    R: DeserializeOwned + Unpin,
{
    type Item = Result<R>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Result<R>>> {
        let this = self.get_mut();
        loop {
            this.fill();
            if let Some(item) = this.ready_item() {
                return Poll::Ready(Some(item));
            }
            if this.finished() {
                return Poll::Ready(None);
            }
            let stream = this.stream.get_or_insert_with(|| this.rx.clone().into_stream());
            match Pin::new(stream).poll_next(cx) {
                Poll::Ready(Some(chunk)) => this.accept(chunk),
                Poll::Ready(None) => return Poll::Ready(Some(Err(Error::Terminated))),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
