//! Instantiating task components and running chunks of calls on a warm instance.

use super::bindings::{Task, TaskPre};
use super::{Codec, GuestState, ProcessIdentity, TaskError, TaskInfo};
use crate::error::FailureKind;
use crate::outcomes::{self, Outcomes};
use crate::protocol::{InitCall, WireCodec};
use crate::sandbox::Sandbox;
use std::sync::Arc;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

pub(crate) fn new_linker(engine: &Engine) -> wasmtime::Result<Linker<GuestState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    Task::add_to_linker::<GuestState, HasSelf<GuestState>>(&mut linker, |s| s)?;
    Ok(linker)
}

/// Why a component cannot serve as a task module, in words for [`crate::Error::NotATaskModule`].
pub(crate) fn describe_link_error(err: &wasmtime::Error) -> String {
    let text = format!("{err:#}");
    if text.contains("no exported instance named") || text.contains("wasmproc:task/guest") {
        "it does not export the `wasmproc:task/guest` interface".to_string()
    } else if text.contains("matching implementation was not found in the linker") || text.contains("import") {
        format!("it imports something wasmproc does not provide ({text})")
    } else {
        text
    }
}

/// Lists a component's tasks in a throwaway store with a 5 s deadline and 256 MiB of memory, so a
/// module cannot hang or exhaust the host while it is being inspected. `engine` must be of the
/// interruptible flavour, with its epoch ticking.
pub(crate) fn list_tasks(
    engine: &Engine,
    linker: &Linker<GuestState>,
    component: &Component,
) -> Result<Vec<TaskInfo>, String> {
    let pre = linker.instantiate_pre(component).map_err(|e| describe_link_error(&e))?;
    let pre = TaskPre::new(pre).map_err(|e| describe_link_error(&e))?;
    let inspector = ProcessIdentity { name: Arc::from("inspect"), pid: std::process::id(), ..Default::default() };
    let state = GuestState::new(&Sandbox::default(), &inspector, Some(256 << 20), 2)?;
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(500);
    let task = pre.instantiate(&mut store).map_err(|e| format!("instantiation failed: {e:#}"))?;
    task.wasmproc_task_guest().call_tasks(&mut store).map_err(|e| format!("listing its tasks failed: {e:#}"))
}

/// A module loaded in a worker, with at most one warm instance.
pub(crate) struct Loaded {
    engine: Engine,
    pre: TaskPre<GuestState>,
    warm: Option<(Store<GuestState>, Task)>,
    limits: RunSettings,
    init: Option<InitCall>,
}

/// What a worker enforces on, and grants to, every instance.
#[derive(Clone, Default)]
pub(crate) struct RunSettings {
    /// Epoch ticks an input may run (interruptible engines only).
    pub(crate) timeout_ticks: Option<u64>,
    /// Most linear memory an instance may have.
    pub(crate) max_memory: Option<usize>,
    /// The engine checks epochs: every call needs a deadline.
    pub(crate) epochs: bool,
    /// Fuel each input gets (metered engines only).
    pub(crate) fuel: Option<u64>,
    /// The per-input timeout, as a duration (blocking queue calls give up at it).
    pub(crate) timeout: Option<std::time::Duration>,
    /// The worker's line to the host's queues.
    pub(crate) broker: Option<Arc<super::BrokerClient>>,
    /// The shared regions the worker has mapped (kept across instances).
    pub(crate) attachments: super::SharedAttachments,
    /// What the guest may touch.
    pub(crate) sandbox: Arc<Sandbox>,
    /// Who the worker is (`process.current`, and the prefix of output lines).
    pub(crate) process: ProcessIdentity,
    /// A thread worker's stop switch, checked at every epoch tick.
    pub(crate) stop: Option<Arc<crate::spawn::Stop>>,
    /// Where guests' stdout goes (1, or 2).
    pub(crate) stdout_fd: i32,
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
                    if stop.flag.load(std::sync::atomic::Ordering::Acquire) {
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
}

impl Loaded {
    pub(crate) fn new(
        engine: &Engine,
        linker: &Linker<GuestState>,
        component: &Component,
        limits: RunSettings,
        init: Option<InitCall>,
    ) -> Result<Loaded, String> {
        let pre = linker.instantiate_pre(component).map_err(|e| describe_link_error(&e))?;
        let pre = TaskPre::new(pre).map_err(|e| describe_link_error(&e))?;
        let mut loaded = Loaded { engine: engine.clone(), pre, warm: None, limits, init };
        if loaded.init.is_some() {
            // Python runs the initializer when the worker starts: do it now, not at the first task.
            loaded.warm = Some(loaded.instantiate()?);
        }
        Ok(loaded)
    }

    /// Runs `task` on each input (`args` back to back, sizes in `lens`) and returns exactly one
    /// framed outcome per input (see `outcomes`).
    ///
    /// Instances stay warm across calls (like a Python worker's globals); an instance that traps is
    /// discarded and the remaining inputs go to a fresh one, so a panic costs exactly one result.
    /// With a timeout, each input is its own call with its own deadline.
    pub(crate) fn run(&mut self, task: &str, codec: Codec, args: &[u8], lens: &[u32]) -> Vec<u8> {
        let n = lens.len();
        let mut out = Vec::new();
        let mut done = 0usize;
        let mut offset = 0usize;
        while done < n {
            let per_input = self.limits.timeout_ticks.is_some() || self.limits.fuel.is_some();
            let batch = if per_input { 1 } else { n - done };
            let (store, instance) = match self.warm.take() {
                Some(warm) => self.warm.insert(warm),
                None => match self.instantiate() {
                    Ok(warm) => self.warm.insert(warm),
                    Err(message) => {
                        for _ in done..n {
                            outcomes::push_failure(&mut out, &FailureKind::Load, &message);
                        }
                        break;
                    }
                },
            };
            let state = store.data_mut();
            state.emitted.clear();
            state.emitted_count = 0;
            state.emit_error = None;
            state.panic = None;
            state.limits.exceeded = None;
            self.limits.arm(store);
            let batch_lens = &lens[done..done + batch];
            let batch_bytes: usize = batch_lens.iter().map(|l| *l as usize).sum();
            let result = instance.wasmproc_task_guest().call_run(
                &mut *store,
                task,
                codec,
                &args[offset..offset + batch_bytes],
                batch_lens,
            );
            let state = store.data_mut();
            let emitted = std::mem::take(&mut state.emitted);
            let count = (state.emitted_count as usize).min(batch);
            let emit_error = state.emit_error.take();
            let panic = state.panic.take();
            let exceeded = state.limits.exceeded.take();
            let end = done + batch;
            let advance = |done: &mut usize, offset: &mut usize, k: usize| {
                *offset += lens[*done..*done + k].iter().map(|l| *l as usize).sum::<usize>();
                *done += k;
            };
            if let Some(message) = emit_error {
                // Nothing the guest emitted in this call can be trusted.
                for _ in done..end {
                    outcomes::push_failure(&mut out, &FailureKind::BadResult, &message);
                }
                advance(&mut done, &mut offset, batch);
                self.warm = None;
                continue;
            }
            out.extend_from_slice(&emitted);
            advance(&mut done, &mut offset, count);
            match result {
                Ok(Ok(())) => {
                    let missing = "the guest returned without a result for this input";
                    for _ in done..end {
                        outcomes::push_failure(&mut out, &FailureKind::BadResult, missing);
                    }
                    let rest = end - done;
                    advance(&mut done, &mut offset, rest);
                }
                Ok(Err(err)) => {
                    let (kind, message) = convert_error(err);
                    for _ in done..end {
                        outcomes::push_failure(&mut out, &kind, &message);
                    }
                    let rest = end - done;
                    advance(&mut done, &mut offset, rest);
                }
                Err(trap) => {
                    self.warm = None;
                    let trap_kind = trap.downcast_ref::<wasmtime::Trap>().copied();
                    let interrupted = trap_kind == Some(wasmtime::Trap::Interrupt);
                    let (kind, message) = match (panic, exceeded) {
                        (_, Some(asked)) => (
                            FailureKind::MemoryLimit,
                            format!(
                                "needed {asked} bytes of memory; the limit is {} bytes",
                                self.limits.max_memory.unwrap_or_default()
                            ),
                        ),
                        (Some(message), None) => (FailureKind::Panicked, message),
                        (None, None) if interrupted => (
                            FailureKind::Timeout,
                            format!(
                                "interrupted after the per-task timeout of {:?}",
                                crate::engine::TICK * self.limits.timeout_ticks.unwrap_or(1).saturating_sub(1) as u32
                            ),
                        ),
                        (None, None) if trap_kind == Some(wasmtime::Trap::OutOfFuel) => (
                            FailureKind::FuelExhausted,
                            format!("used up its fuel budget of {}", self.limits.fuel.unwrap_or_default()),
                        ),
                        (None, None) => (FailureKind::Trapped, trap_message(&trap)),
                    };
                    outcomes::push_failure(&mut out, &kind, &message);
                    advance(&mut done, &mut offset, 1);
                }
            }
        }
        out
    }

    fn instantiate(&self) -> Result<(Store<GuestState>, Task), String> {
        let state =
            GuestState::new(&self.limits.sandbox, &self.limits.process, self.limits.max_memory, self.limits.stdout_fd)?;
        let mut store = Store::new(&self.engine, state);
        store.data_mut().broker = self.limits.broker.clone();
        store.data_mut().attachments = self.limits.attachments.clone();
        store.limiter(|s| &mut s.limits);
        // What a guest hands the host in one call (a queue item, its outcomes) is already in its
        // linear memory, which `max_memory` bounds; wasmtime's default cap of 128 MiB per call
        // would refuse large messages that the memory limit allows.
        store.set_hostcall_fuel(self.limits.max_memory.unwrap_or(usize::MAX));
        // On an interruptible engine a new store's deadline is "now" and a metered one has no
        // fuel: instantiation (which runs the guest's start code) gets an input's allowance.
        self.limits.arm(&mut store);
        let instance = self.pre.instantiate(&mut store).map_err(|e| format!("instantiation failed: {e:#}"))?;
        if let Some(init) = &self.init {
            let codec = match init.codec {
                WireCodec::Postcard => Codec::Postcard,
                WireCodec::Json => Codec::Json,
            };
            let lens = [init.args.len() as u32];
            let failed = |why: String| format!("the initializer `{}` failed: {why}", init.task);
            match instance.wasmproc_task_guest().call_run(&mut store, &init.task, codec, &init.args, &lens) {
                Ok(Ok(())) => {
                    let emitted = std::mem::take(&mut store.data_mut().emitted);
                    store.data_mut().emitted_count = 0;
                    if let Err((_, message)) =
                        Outcomes::parse(emitted).map_err(|e| (FailureKind::BadResult, e)).and_then(|o| {
                            if o.len() == 1 {
                                o.get(0).map(|_| ())
                            } else {
                                Err((FailureKind::BadResult, "no outcome".into()))
                            }
                        })
                    {
                        return Err(failed(message));
                    }
                }
                Ok(Err(e)) => return Err(failed(convert_error(e).1)),
                Err(trap) => {
                    let why = store.data_mut().panic.take().unwrap_or_else(|| trap_message(&trap));
                    return Err(failed(why));
                }
            }
        }
        Ok((store, instance))
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
