//! The worker's main loop: handshake, then load modules and run chunks until told to exit.
//!
//! One thread runs guests, reads the host's frames and writes replies (see `line`); it answers
//! `Run`s in the order they came (the host matches answers to chunks by that order). Replies are
//! buffered while more work is already waiting and written before waiting, so under load several
//! results share one write.

use super::instance::{Loaded, RunSettings};
use super::line::Line;
use super::state::ProcessIdentity;
use super::{Stop, prepared};
use crate::engine;
use crate::ipc::frame;
use crate::ipc::protocol::{FromWorker, InitCall, ToWorker, WorkerInit};
use crate::ipc::stream::Stream;
use crate::spin::SpinReader;
use std::collections::HashMap;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use wasmproc_wire::FailureKind;
use wasmproc_wire::outcome;
use wasmtime::Engine;
use wasmtime::component::Linker;

/// What a started worker runs with.
struct Worker {
    engine: Arc<Engine>,
    linker: Linker<super::GuestState>,
    settings: RunSettings,
    line: Arc<Line>,
    modules: HashMap<u64, Result<Loaded, String>>,
    /// Whether an input has failed (the exit code `ExitWhenDone` asks for).
    failed: bool,
}

/// Serves the host on `stream` until it says `Exit` (its code is returned) or goes away (0).
pub(super) fn serve(stream: Stream, stop: Option<Arc<Stop>>, stdout_fd: i32) -> Result<i32, String> {
    let read_end = stream.try_clone().map_err(|e| e.to_string())?;
    let mut input = BufReader::with_capacity(64 << 10, SpinReader(read_end));
    let init = match frame::read_frame::<ToWorker>(&mut input) {
        Ok(Some((ToWorker::Init(init), _))) => init,
        Ok(Some((other, _))) => return Err(format!("expected Init, got {other:?}")),
        Ok(None) => return Ok(0),
        Err(e) => return Err(format!("reading Init: {e}")),
    };
    let process = stop.is_none();
    let line = Line::start(stream, input, stop.clone(), init.confirm_sends)
        .map_err(|e| format!("starting the worker's threads: {e}"))?;
    let mut worker = start(init, line, stop, stdout_fd)?;
    let code = worker.run();
    if process {
        // The process exits next: its instances are dropped (a guest's partial line of output is
        // written then), but freeing the engine and linker would only cost the exit time.
        worker.modules.clear();
        std::mem::forget(worker);
    }
    code
}

/// Builds the engine and everything a guest needs, and reports ready.
fn start(init: WorkerInit, line: Arc<Line>, stop: Option<Arc<Stop>>, stdout_fd: i32) -> Result<Worker, String> {
    let flavor = init.flavor;
    let (engine, linker) = prepared::take_or_build(flavor)?;
    if flavor.has_epochs() {
        engine::start_ticker(Arc::downgrade(&engine));
    }
    let settings = RunSettings {
        // One more tick than the timeout: the current tick may be almost over when an input starts.
        timeout_ticks: init.timeout.map(|t| t.as_nanos().div_ceil(engine::TICK.as_nanos()) as u64 + 1),
        max_memory: init.max_memory,
        epochs: flavor.has_epochs(),
        // Without epochs, the pool enforces a timeout by killing this worker: it must know how far
        // a chunk got.
        reports_progress: !flavor.has_epochs() && init.timeout.is_some(),
        fuel: init.fuel,
        timeout: init.timeout,
        line: Some(line.clone()),
        attachments: Default::default(),
        stop,
        stdout_fd,
        sandbox: Arc::new(init.sandbox),
        process: ProcessIdentity {
            name: Arc::from(init.name.as_str()),
            pid: std::process::id(),
            worker_id: init.worker_id,
            parent_pid: init.parent_pid,
        },
    };
    line.write(&FromWorker::Ready { pid: std::process::id() }, &[])
        .and_then(|()| line.flush())
        .map_err(|e| format!("writing Ready: {e}"))?;
    Ok(Worker { engine, linker, settings, line, modules: HashMap::new(), failed: false })
}

impl Worker {
    /// The loop: one frame at a time, until `Exit` or the host is gone.
    fn run(&mut self) -> Result<i32, String> {
        loop {
            let Some((msg, payload)) = self.next_frame()? else { return Ok(0) };
            match msg {
                ToWorker::Init(_) => return Err("Init sent twice".into()),
                // The line answers these itself; neither reaches the main loop.
                ToWorker::BrokerReply(_) | ToWorker::Refused { .. } => return Err("a stray broker answer".into()),
                ToWorker::Exit { code } => {
                    self.flush()?;
                    return Ok(code);
                }
                ToWorker::ExitWhenDone => {
                    self.flush()?;
                    return Ok(i32::from(self.failed));
                }
                ToWorker::Load { module, artifact, init } => self.load(module, &artifact, init),
                ToWorker::Run { module, task, codec, lens } => self.run_chunk(module, &task, codec, &payload, &lens)?,
            }
        }
    }

    fn next_frame(&mut self) -> Result<Option<(ToWorker, Vec<u8>)>, String> {
        self.line.next_frame()
    }

    fn flush(&self) -> Result<(), String> {
        self.line.flush().map_err(|e| format!("writing results: {e}"))
    }

    /// Loads module `id` from its artifact; a failure is remembered and reported by its chunks.
    fn load(&mut self, id: u64, artifact: &Path, init: Option<InitCall>) {
        // SAFETY: the host sends only paths of artifacts it wrote into its private cache with
        // `precompile_component` of an identically configured engine.
        let pre = match prepared::preloaded(&self.engine, artifact) {
            Some(pre) => Ok(pre),
            None => unsafe { engine::load_artifact(&self.engine, artifact) }
                .map_err(|e| format!("cannot load compiled module {}: {e:#}", artifact.display()))
                .and_then(|component| Loaded::link(&self.linker, &component)),
        };
        let loaded = pre.and_then(|pre| Loaded::new(&self.engine, pre, self.settings.clone(), init));
        self.modules.insert(id, loaded);
        if self.settings.reports_progress {
            // Loading (and an initializer) took time the pool counted as the next chunk's: tell it
            // that chunk starts now. A failed write means the host is gone.
            let _ = self.line.write(&FromWorker::Progress { count: 0 }, &[]).and_then(|()| self.line.flush());
        }
    }

    /// Runs one chunk and writes its `Done` (buffered).
    fn run_chunk(
        &mut self,
        module: u64,
        task: &str,
        codec: wasmproc_wire::Codec,
        payload: &[u8],
        lens: &[u32],
    ) -> Result<(), String> {
        let start = Instant::now();
        let total: u64 = lens.iter().map(|l| u64::from(*l)).sum();
        if total != payload.len() as u64 {
            return Err(format!("Run frame of {} bytes for inputs of {total}", payload.len()));
        }
        let (framed, count) = match self.modules.get_mut(&module) {
            Some(Ok(loaded)) => loaded.run(task, codec, payload, lens),
            Some(Err(message)) => {
                let mut out = Vec::new();
                for _ in lens {
                    outcome::push_failure(&mut out, &FailureKind::Load, message);
                }
                (out, lens.len())
            }
            None => return Err(format!("Run for module {module} that was never loaded")),
        };
        debug_assert_eq!(outcome::count(&framed), Ok(count), "one outcome per input not yet reported");
        self.failed |= outcome::any_failed(&framed);
        self.line.confirm();
        let done = FromWorker::Done { count: count as u32, busy_ns: start.elapsed().as_nanos() as u64 };
        self.line.write(&done, &[&framed]).map_err(|e| format!("writing results: {e}"))
    }
}
