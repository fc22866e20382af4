//! The worker's main loop: handshake, then load modules and run chunks until told to exit.
//!
//! One thread runs guests and writes replies; it answers `Run`s in the order they came (the host
//! matches answers to chunks by that order). Replies are buffered while more work is already
//! waiting and flushed before waiting, so under load several results share one write.

use super::broker_client::BrokerClient;
use super::instance::{Loaded, RunSettings};
use super::reader::{self, Frame};
use super::state::ProcessIdentity;
use super::{Stop, host};
use crate::engine;
use crate::ipc::frame;
use crate::ipc::protocol::{FromWorker, InitCall, ToWorker, WorkerInit};
use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use wasmproc_wire::FailureKind;
use wasmproc_wire::outcome;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

/// The stream's write half, shared by the main loop and the guest's broker calls.
pub(super) type Writer = Arc<Mutex<BufWriter<UnixStream>>>;

pub(super) fn lock(w: &Mutex<BufWriter<UnixStream>>) -> MutexGuard<'_, BufWriter<UnixStream>> {
    w.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a started worker runs with.
struct Worker {
    engine: Arc<Engine>,
    linker: Linker<super::GuestState>,
    settings: RunSettings,
    writer: Writer,
    frames: Receiver<Frame>,
    modules: HashMap<u64, Result<Loaded, String>>,
}

/// Serves the host on `stream` until it says `Exit` (its code is returned) or goes away (0).
pub(super) fn serve(stream: UnixStream, stop: Option<Arc<Stop>>, stdout_fd: i32) -> Result<i32, String> {
    let mut input = BufReader::with_capacity(64 << 10, stream.try_clone().map_err(|e| e.to_string())?);
    let writer: Writer = Arc::new(Mutex::new(BufWriter::with_capacity(64 << 10, stream)));
    let init = match frame::read_frame::<ToWorker>(&mut input) {
        Ok(Some((ToWorker::Init(init), _))) => init,
        Ok(Some((other, _))) => return Err(format!("expected Init, got {other:?}")),
        Ok(None) => return Ok(0),
        Err(e) => return Err(format!("reading Init: {e}")),
    };
    let mut worker = start(init, input, writer, stop, stdout_fd)?;
    worker.run()
}

/// Builds the engine and everything a guest needs, starts the reader, and reports ready.
fn start(
    init: WorkerInit,
    input: BufReader<UnixStream>,
    writer: Writer,
    stop: Option<Arc<Stop>>,
    stdout_fd: i32,
) -> Result<Worker, String> {
    let (broker, inbox) = BrokerClient::start(writer.clone()).map_err(|e| format!("starting the flusher: {e}"))?;
    let flavor = init.flavor;
    let engine = Arc::new(engine::new_engine(flavor).map_err(|e| format!("engine: {e:#}"))?);
    if flavor.has_epochs() {
        engine::start_ticker(Arc::downgrade(&engine));
    }
    let linker = host::new_linker(&engine).map_err(|e| format!("linker: {e:#}"))?;
    let settings = RunSettings {
        // One more tick than the timeout: the current tick may be almost over when an input starts.
        timeout_ticks: init.timeout.map(|t| t.as_nanos().div_ceil(engine::TICK.as_nanos()) as u64 + 1),
        max_memory: init.max_memory,
        epochs: flavor.has_epochs(),
        fuel: init.fuel,
        timeout: init.timeout,
        broker: Some(broker),
        attachments: Default::default(),
        stop: stop.clone(),
        stdout_fd,
        sandbox: Arc::new(init.sandbox),
        process: ProcessIdentity {
            name: Arc::from(init.name.as_str()),
            pid: std::process::id(),
            worker_id: init.worker_id,
            parent_pid: rustix::process::getppid().map_or(0, |p| p.as_raw_nonzero().get() as u32),
        },
    };
    {
        let mut w = lock(&writer);
        frame::write_frame(&mut *w, &FromWorker::Ready { pid: std::process::id() }, &[])
            .and_then(|()| w.flush())
            .map_err(|e| format!("writing Ready: {e}"))?;
    }
    // After `Ready`: the host waits for it, not for the reader thread to start.
    let frames = reader::start(input, inbox, stop)?;
    Ok(Worker { engine, linker, settings, writer, frames, modules: HashMap::new() })
}

impl Worker {
    /// The loop: one frame at a time, until `Exit` or the host is gone.
    fn run(&mut self) -> Result<i32, String> {
        loop {
            let Some((msg, payload)) = self.next_frame()? else { return Ok(0) };
            match msg {
                ToWorker::Init(_) => return Err("Init sent twice".into()),
                ToWorker::BrokerReply(_) | ToWorker::Refused { .. } => {
                    return Err("a broker answer nobody asked for".into());
                }
                ToWorker::Exit { code } => {
                    self.flush()?;
                    return Ok(code);
                }
                ToWorker::Load { module, artifact, init } => self.load(module, &artifact, init),
                ToWorker::Run { module, task, codec, lens } => self.run_chunk(module, &task, codec, &payload, &lens)?,
            }
        }
    }

    /// The next frame; flushes buffered replies before waiting for one. `None`: the host is gone.
    fn next_frame(&mut self) -> Result<Option<Frame>, String> {
        match self.frames.try_recv() {
            Ok(frame) => Ok(Some(frame)),
            Err(TryRecvError::Empty) => {
                self.flush()?;
                Ok(self.frames.recv().ok())
            }
            Err(TryRecvError::Disconnected) => Ok(None),
        }
    }

    fn flush(&self) -> Result<(), String> {
        lock(&self.writer).flush().map_err(|e| format!("writing results: {e}"))
    }

    /// Loads module `id` from its artifact; a failure is remembered and reported by its chunks.
    fn load(&mut self, id: u64, artifact: &Path, init: Option<InitCall>) {
        // SAFETY: the host sends only paths of artifacts it wrote into its private cache with
        // `precompile_component` of an identically configured engine.
        let loaded = unsafe { Component::deserialize_file(&self.engine, artifact) }
            .map_err(|e| format!("cannot load compiled module {}: {e:#}", artifact.display()))
            .and_then(|component| Loaded::new(&self.engine, &self.linker, &component, self.settings.clone(), init));
        self.modules.insert(id, loaded);
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
        let framed = match self.modules.get_mut(&module) {
            Some(Ok(loaded)) => loaded.run(task, codec, payload, lens),
            Some(Err(message)) => {
                let mut out = Vec::new();
                for _ in lens {
                    outcome::push_failure(&mut out, &FailureKind::Load, message);
                }
                out
            }
            None => return Err(format!("Run for module {module} that was never loaded")),
        };
        debug_assert_eq!(outcome::count(&framed), Ok(lens.len()), "one outcome per input");
        let done = FromWorker::Done { count: lens.len() as u32, busy_ns: start.elapsed().as_nanos() as u64 };
        frame::write_frame(&mut *lock(&self.writer), &done, &[&framed]).map_err(|e| format!("writing results: {e}"))
    }
}
