//! Instantiating task components and running chunks of calls on a warm instance.

use super::bindings::{Task, TaskPre};
use super::{Codec, GuestState, TaskError, TaskInfo};
use crate::error::FailureKind;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};

/// Epoch ticks a task may run before it is interrupted. Effectively unlimited until per-task
/// timeouts set it.
const NO_DEADLINE: u64 = 1 << 48;

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
    } else if text.contains("matching implementation was not found in the linker")
        || text.contains("import")
    {
        format!("it imports something wasmproc does not provide ({text})")
    } else {
        text
    }
}

/// Lists a component's tasks in a throwaway store with a 5 s deadline and 256 MiB of memory, so a
/// module cannot hang or exhaust the host while it is being inspected.
pub(crate) fn list_tasks(
    engine: &Engine,
    linker: &Linker<GuestState>,
    component: &Component,
) -> Result<Vec<TaskInfo>, String> {
    let pre = linker
        .instantiate_pre(component)
        .map_err(|e| describe_link_error(&e))?;
    let pre = TaskPre::new(pre).map_err(|e| describe_link_error(&e))?;
    let mut store = Store::new(engine, GuestState::sandboxed(Some(256 << 20)));
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(500);
    let task = pre
        .instantiate(&mut store)
        .map_err(|e| format!("instantiation failed: {e:#}"))?;
    task.wasmproc_task_guest()
        .call_tasks(&mut store)
        .map_err(|e| format!("listing its tasks failed: {e:#}"))
}

/// A module loaded in a worker, with at most one warm instance.
pub(crate) struct Loaded {
    engine: Engine,
    pre: TaskPre<GuestState>,
    warm: Option<(Store<GuestState>, Task)>,
}

/// One argument's outcome, before it is put in a frame.
pub(crate) type Outcome = Result<Vec<u8>, (FailureKind, String)>;

impl Loaded {
    pub(crate) fn new(
        engine: &Engine,
        linker: &Linker<GuestState>,
        component: &Component,
    ) -> Result<Loaded, String> {
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| describe_link_error(&e))?;
        let pre = TaskPre::new(pre).map_err(|e| describe_link_error(&e))?;
        Ok(Loaded {
            engine: engine.clone(),
            pre,
            warm: None,
        })
    }

    /// Runs `task` on each argument. Instances stay warm across calls (like a Python worker's
    /// globals); an instance that traps is discarded and the remaining arguments go to a fresh one,
    /// so a panic costs exactly one result.
    pub(crate) fn run(&mut self, task: &str, codec: Codec, args: &[Vec<u8>]) -> Vec<Outcome> {
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(args.len());
        while outcomes.len() < args.len() {
            let start = outcomes.len();
            let (store, instance) = match self.warm.take() {
                Some(warm) => self.warm.insert(warm),
                None => match self.instantiate() {
                    Ok(warm) => self.warm.insert(warm),
                    Err(message) => {
                        outcomes.extend(
                            args[start..]
                                .iter()
                                .map(|_| Err((FailureKind::Load, message.clone()))),
                        );
                        break;
                    }
                },
            };
            store.data_mut().emitted.clear();
            store.data_mut().panic = None;
            store.set_epoch_deadline(NO_DEADLINE);
            let result =
                instance
                    .wasmproc_task_guest()
                    .call_run(&mut *store, task, codec, &args[start..]);
            let emitted = std::mem::take(&mut store.data_mut().emitted);
            outcomes.extend(emitted.into_iter().take(args.len() - start).map(convert));
            match result {
                Ok(Ok(())) => {
                    if outcomes.len() < args.len() {
                        let missing =
                            "the guest returned without a result for this input".to_string();
                        outcomes.extend(
                            args[outcomes.len()..]
                                .iter()
                                .map(|_| Err((FailureKind::BadResult, missing.clone()))),
                        );
                    }
                }
                Ok(Err(err)) => {
                    let (kind, message) = convert_error(err);
                    outcomes.extend(
                        args[outcomes.len()..]
                            .iter()
                            .map(|_| Err((kind.clone(), message.clone()))),
                    );
                }
                Err(trap) => {
                    let panic = store.data_mut().panic.take();
                    self.warm = None;
                    let failed = match panic {
                        Some(message) => (FailureKind::Panicked, message),
                        None => (FailureKind::Trapped, trap_message(&trap)),
                    };
                    outcomes.push(Err(failed));
                }
            }
        }
        outcomes
    }

    fn instantiate(&self) -> Result<(Store<GuestState>, Task), String> {
        let mut store = Store::new(&self.engine, GuestState::sandboxed(None));
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(NO_DEADLINE);
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| format!("instantiation failed: {e:#}"))?;
        Ok((store, instance))
    }
}

fn convert(outcome: Result<Vec<u8>, TaskError>) -> Outcome {
    outcome.map_err(convert_error)
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
