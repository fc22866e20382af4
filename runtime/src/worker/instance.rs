//! A module loaded in a worker, with at most one warm instance, and running a chunk of calls on it.
//!
//! Instances stay warm across chunks (like a Python worker's globals); an instance that traps is
//! discarded and the rest of its chunk runs on a fresh one, so a panic costs exactly one result.
//! With a timeout or fuel, each input is its own call with its own allowance.
//!
//! Invariant: [`Loaded::run`] produces exactly one framed outcome per input, in input order: those
//! it reported as `Progress` while it ran, then those it returns.

use super::Stop;
use super::attachments::Attachments;
use super::host::{Task, TaskError, TaskPre, wit_codec};
use super::line::Line;
use super::listing::describe_link_error;
use super::state::{GuestState, ProcessIdentity};
use crate::config::Sandbox;
use crate::ipc::protocol::{FromWorker, InitCall};
use std::sync::Arc;
use std::time::Duration;
use wasmproc_wire::outcome::{self, Outcomes};
use wasmproc_wire::{Codec, FailureKind};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

/// What a worker enforces on, and grants to, every instance.
#[derive(Clone, Default)]
pub(super) struct RunSettings {
    /// Epoch ticks an input may run (interruptible engines only).
    pub(super) timeout_ticks: Option<u64>,
    /// Most linear memory an instance may have.
    pub(super) max_memory: Option<usize>,
    /// The engine checks epochs: every call needs a deadline.
    pub(super) epochs: bool,
    /// Send `Progress` while a chunk runs (the pool stops this worker at a timeout by killing it).
    pub(super) reports_progress: bool,
    /// Fuel each input gets (metered engines only).
    pub(super) fuel: Option<u64>,
    /// The per-input timeout, as a duration (blocking host calls give up at it).
    pub(super) timeout: Option<Duration>,
    /// The worker's line to the host's broker.
    pub(super) line: Option<Arc<Line>>,
    /// The shared regions the worker has mapped (kept across instances).
    pub(super) attachments: Attachments,
    /// What the guest may touch.
    pub(super) sandbox: Arc<Sandbox>,
    /// Who the worker is (`process.current`, and the prefix of output lines).
    pub(super) process: ProcessIdentity,
    /// A thread worker's stop switch, checked at every epoch tick.
    pub(super) stop: Option<Arc<Stop>>,
    /// Where guests' stdout goes (1, or 2).
    pub(super) stdout_fd: i32,
}

impl RunSettings {
    /// Gives a store the allowance of one input: its deadline and its fuel.
    fn arm(&self, store: &mut Store<GuestState>) {
        store.data_mut().deadline = self.timeout.map(|t| std::time::Instant::now() + t);
        match (&self.stop, self.epochs) {
            // A thread worker: look at the stop switch every tick, and count the timeout down.
            (Some(stop), true) => {
                let stop = stop.clone();
                let mut left = self.timeout_ticks;
                store.set_epoch_deadline(1);
                store.epoch_deadline_callback(move |_| {
                    if stop.stopped() {
                        return Err(wasmtime::Trap::Interrupt.into());
                    }
                    if let Some(l) = left.as_mut() {
                        *l = l.saturating_sub(1);
                        if *l == 0 {
                            return Err(wasmtime::Trap::Interrupt.into());
                        }
                    }
                    Ok(wasmtime::UpdateDeadline::Continue(1))
                });
            }
            (_, true) => store.set_epoch_deadline(self.timeout_ticks.unwrap_or(1 << 40)),
            (_, false) => {}
        }
        if let Some(fuel) = self.fuel {
            let _ = store.set_fuel(fuel);
        }
    }

    /// Whether each input needs its own call (its own deadline or fuel).
    fn per_input(&self) -> bool {
        self.timeout_ticks.is_some() || self.fuel.is_some()
    }
}

/// A module loaded in a worker, with at most one warm instance.
pub(super) struct Loaded {
    engine: Engine,
    pre: TaskPre<GuestState>,
    warm: Option<(Store<GuestState>, Task)>,
    settings: RunSettings,
    init: Option<InitCall>,
}

/// What of a chunk has been reported to the pool as `Progress`.
struct Progress {
    /// The reported outcomes: the first `bytes` of the chunk's, `count` of them.
    bytes: usize,
    count: usize,
}

impl Progress {
    /// Reports the outcomes in `out` past those already reported (`done` in all). Buffered: the
    /// line's flusher writes it within its flush delay (many quick inputs share one write), which
    /// is far inside the grace the pool gives an input before it kills the worker.
    fn report(&mut self, line: Option<&Line>, out: &[u8], done: usize) {
        let Some(line) = line else { return };
        let message = FromWorker::Progress { count: (done - self.count) as u32 };
        // A failed write means the host is gone; the worker is about to find out and exit.
        let _ = line.write_soon(&message, &[&out[self.bytes..]]);
        *self = Progress { bytes: out.len(), count: done };
    }
}

/// How one call into the guest ended.
enum End {
    /// It returned: inputs it emitted no outcome for get `BadResult`.
    Returned,
    /// The guest refused the rest of the call (an unknown task, bad input lengths).
    Refused(FailureKind, String),
    /// It trapped (the instance is gone): the first input without an outcome failed this way.
    Trapped(FailureKind, String),
    /// It emitted something malformed or out of order: nothing it emitted can be trusted.
    Malformed(String),
}

/// What one call into the guest produced.
struct Call {
    /// The framed outcomes it emitted, in order (framing checked by `host.emit`).
    emitted: Vec<u8>,
    /// How many outcomes `emitted` holds.
    count: usize,
    end: End,
}

impl Loaded {
    /// Links `component`: what [`Loaded::new`] instantiates from.
    pub(super) fn link(linker: &Linker<GuestState>, component: &Component) -> Result<TaskPre<GuestState>, String> {
        let pre = linker.instantiate_pre(component).map_err(|e| describe_link_error(&e))?;
        TaskPre::new(pre).map_err(|e| describe_link_error(&e))
    }

    pub(super) fn new(
        engine: &Engine,
        pre: TaskPre<GuestState>,
        settings: RunSettings,
        init: Option<InitCall>,
    ) -> Result<Loaded, String> {
        let mut loaded = Loaded { engine: engine.clone(), pre, warm: None, settings, init };
        if loaded.init.is_some() {
            // Python runs the initializer when the worker starts: do it now, not at the first task.
            loaded.warm = Some(loaded.instantiate()?);
        }
        Ok(loaded)
    }

    /// Runs `task` on each input (`args` back to back, sizes in `lens`); returns the framed
    /// outcomes not reported as progress on the way (see [`Progress`]), and how many.
    pub(super) fn run(&mut self, task: &str, codec: Codec, args: &[u8], lens: &[u32]) -> (Vec<u8>, usize) {
        let mut out = Vec::new();
        let mut progress = Progress { bytes: 0, count: 0 };
        let (mut done, mut offset) = (0usize, 0usize);
        while done < lens.len() {
            let batch = if self.settings.per_input() { 1 } else { lens.len() - done };
            let batch_lens = &lens[done..done + batch];
            let bytes: usize = batch_lens.iter().map(|l| *l as usize).sum();
            let answered = match self.call(task, codec, &args[offset..offset + bytes], batch_lens) {
                Ok(call) => settle(&mut out, call, batch),
                Err(message) => {
                    for _ in done..lens.len() {
                        outcome::push_failure(&mut out, &FailureKind::Load, &message);
                    }
                    break;
                }
            };
            debug_assert!((1..=batch).contains(&answered), "every call settles at least one input");
            offset += lens[done..done + answered].iter().map(|l| *l as usize).sum::<usize>();
            done += answered;
            if self.settings.reports_progress && done < lens.len() {
                progress.report(self.settings.line.as_deref(), &out, done);
            }
        }
        out.drain(..progress.bytes);
        (out, lens.len() - progress.count)
    }

    /// One call into the guest on the warm instance (a fresh one if there is none); `Err` if no
    /// instance could be made.
    fn call(&mut self, task: &str, codec: Codec, args: &[u8], lens: &[u32]) -> Result<Call, String> {
        let (mut store, instance) = match self.warm.take() {
            Some(warm) => warm,
            None => self.instantiate()?,
        };
        let state = store.data_mut();
        state.emitted.clear();
        state.emitted_count = 0;
        state.emit_error = None;
        state.panic = None;
        state.limits.exceeded = None;
        self.settings.arm(&mut store);
        let result = instance.wasmproc_task_guest().call_run(&mut store, task, wit_codec(codec), args, lens);
        let state = store.data_mut();
        let emitted = std::mem::take(&mut state.emitted);
        let count = (state.emitted_count as usize).min(lens.len());
        let (emit_error, panic, exceeded) = (state.emit_error.take(), state.panic.take(), state.limits.exceeded.take());
        let end = match (emit_error, result) {
            (Some(message), _) => End::Malformed(message),
            (None, Ok(Ok(()))) => End::Returned,
            (None, Ok(Err(e))) => {
                let (kind, message) = convert_error(e);
                End::Refused(kind, message)
            }
            (None, Err(trap)) => {
                let (kind, message) = self.classify(&trap, panic, exceeded);
                End::Trapped(kind, message)
            }
        };
        if matches!(end, End::Returned | End::Refused(..)) {
            self.warm = Some((store, instance));
        }
        Ok(Call { emitted, count, end })
    }

    /// Why a call trapped: out of memory, a panic, the timeout, fuel, or a plain trap.
    fn classify(
        &self,
        trap: &wasmtime::Error,
        panic: Option<String>,
        exceeded: Option<usize>,
    ) -> (FailureKind, String) {
        let trap_kind = trap.downcast_ref::<wasmtime::Trap>().copied();
        match (panic, exceeded) {
            (_, Some(asked)) => (
                FailureKind::MemoryLimit,
                format!(
                    "needed {asked} bytes of memory; the limit is {} bytes",
                    self.settings.max_memory.unwrap_or_default()
                ),
            ),
            (Some(message), None) => (FailureKind::Panicked, message),
            (None, None) if trap_kind == Some(wasmtime::Trap::Interrupt) => {
                let stopped = self.settings.stop.as_ref().is_some_and(|s| s.stopped());
                let message = match self.settings.timeout {
                    Some(limit) if !stopped => format!("interrupted after the per-task timeout of {limit:?}"),
                    _ => "interrupted: its worker was stopped".to_string(),
                };
                (FailureKind::Timeout, message)
            }
            (None, None) if trap_kind == Some(wasmtime::Trap::OutOfFuel) => (
                FailureKind::FuelExhausted,
                format!("used up its fuel budget of {}", self.settings.fuel.unwrap_or_default()),
            ),
            (None, None) => (FailureKind::Trapped, trap_message(trap)),
        }
    }

    /// A fresh instance, initialized if the pool has an initializer for this module.
    fn instantiate(&self) -> Result<(Store<GuestState>, Task), String> {
        let s = &self.settings;
        let mut state = GuestState::new(&s.sandbox, &s.process, s.max_memory, s.stdout_fd)?;
        state.line = s.line.clone();
        state.attachments = s.attachments.clone();
        state.stop = s.stop.clone();
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        // What a guest hands the host in one call (a queue item, its outcomes) is already in its
        // linear memory, which `max_memory` bounds; wasmtime's default cap of 128 MiB per call
        // would refuse large messages that the memory limit allows.
        store.set_hostcall_fuel(s.max_memory.unwrap_or(usize::MAX));
        // On an interruptible engine a new store's deadline is "now" and a metered one has no
        // fuel: instantiation (which runs the guest's start code) gets an input's allowance.
        s.arm(&mut store);
        let instance = self.pre.instantiate(&mut store).map_err(|e| format!("instantiation failed: {e:#}"))?;
        if let Some(init) = &self.init {
            initialize(&mut store, &instance, init)
                .map_err(|why| format!("the initializer `{}` failed: {why}", init.task))?;
        }
        Ok((store, instance))
    }
}

/// Runs the pool's initializer on a fresh instance; its one outcome must be a success.
fn initialize(store: &mut Store<GuestState>, instance: &Task, init: &InitCall) -> Result<(), String> {
    let lens = [init.args.len() as u32];
    match instance.wasmproc_task_guest().call_run(&mut *store, &init.task, wit_codec(init.codec), &init.args, &lens) {
        Ok(Ok(())) => {
            let emitted = std::mem::take(&mut store.data_mut().emitted);
            store.data_mut().emitted_count = 0;
            let outcomes = Outcomes::parse(emitted).map_err(|e| e.to_string())?;
            match outcomes.len() {
                1 => outcomes.get(0).map(|_| ()).map_err(|(_, message)| message),
                _ => Err("no outcome".into()),
            }
        }
        Ok(Err(e)) => Err(convert_error(e).1),
        Err(trap) => Err(store.data_mut().panic.take().unwrap_or_else(|| trap_message(&trap))),
    }
}

/// Appends the outcomes `call` settles among its `batch` inputs; returns how many it settled.
fn settle(out: &mut Vec<u8>, mut call: Call, batch: usize) -> usize {
    let fill = |out: &mut Vec<u8>, kind: &FailureKind, message: &str, n: usize| {
        for _ in 0..n {
            outcome::push_failure(out, kind, message);
        }
    };
    match call.end {
        End::Malformed(message) => {
            fill(out, &FailureKind::BadResult, &message, batch);
            batch
        }
        End::Returned => {
            append(out, &mut call.emitted);
            let missing = "the guest returned without a result for this input";
            fill(out, &FailureKind::BadResult, missing, batch - call.count);
            batch
        }
        End::Refused(kind, message) => {
            append(out, &mut call.emitted);
            fill(out, &kind, &message, batch - call.count);
            batch
        }
        End::Trapped(kind, message) => {
            append(out, &mut call.emitted);
            if call.count == batch {
                // Every input was answered before the trap: it costs no result.
                return batch;
            }
            fill(out, &kind, &message, 1);
            call.count + 1
        }
    }
}

/// Moves `emitted` to the end of `out` (without a copy when `out` is empty, as it is for most
/// chunks and most emits).
pub(super) fn append(out: &mut Vec<u8>, emitted: &mut Vec<u8>) {
    if out.is_empty() {
        std::mem::swap(out, emitted);
    } else {
        out.append(emitted);
    }
}

fn convert_error(err: TaskError) -> (FailureKind, String) {
    match err {
        TaskError::UnknownTask(m) => (FailureKind::UnknownTask, m),
        TaskError::BadArgument(m) => (FailureKind::BadArgument, m),
        TaskError::Failed(m) => (FailureKind::Failed, m),
        TaskError::BadResult(m) => (FailureKind::BadResult, m),
    }
}

fn trap_message(err: &wasmtime::Error) -> String {
    match err.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{err:#}"),
    }
}
