//! The worker: entered before `main` when [`spawn::WORKER_FD_VAR`] is set (a worker process), or
//! on a thread of the host (the thread start method); it runs tasks from its socket until the host
//! says `Exit` or goes away.
//!
//! Threads: the serving thread runs guests and writes replies; a reader thread reads frames into a
//! channel and, the moment the host's end closes, exits the process — so a worker process never
//! outlives its host, even while a guest is busy — or, for a thread worker, stops its guest.

use crate::engine;
use crate::error::FailureKind;
use crate::guest::{self, BrokerClient, Codec, Loaded, ProcessIdentity, RunSettings};
use crate::outcomes;
use crate::protocol::{self, FromWorker, ToWorker, WireCodec};
use crate::spawn::{Stop, WORKER_FD_VAR};
use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Write};
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::TryRecvError;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wasmtime::component::Component;

/// Runs at load time in every program that links wasmproc. Does nothing unless this process was
/// started as a worker; then it serves and exits without returning to `main`.
#[ctor::ctor(unsafe)]
fn enter_worker_if_requested() {
    let Some(fd) = std::env::var_os(WORKER_FD_VAR) else {
        return;
    };
    let code = match fd.to_str().and_then(|s| s.parse::<i32>().ok()) {
        Some(fd) => match serve(fd) {
            Ok(()) => 0,
            Err(message) => {
                eprintln!("wasmproc worker {}: {message}", std::process::id());
                70
            }
        },
        None => {
            eprintln!("wasmproc worker: {WORKER_FD_VAR}={fd:?} is not a file descriptor number");
            64
        }
    };
    std::process::exit(code);
}

fn serve(fd: i32) -> Result<(), String> {
    // SAFETY: the host passed us this descriptor (the child end of a socketpair) and nothing else in
    // this process owns it.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    let code = serve_stream(stream, None, 1)?;
    std::process::exit(code);
}

/// Serves the host on `stream`; returns the exit code the host asked for. `stop` is set for a
/// thread worker (and then nothing here exits the process); `stdout_fd` is where guests' stdout
/// goes (1, or 2 when the host keeps its stdout for itself).
pub(crate) fn serve_stream(stream: UnixStream, stop: Option<Arc<Stop>>, stdout_fd: i32) -> Result<i32, String> {
    let end = stream.try_clone().map_err(|e| e.to_string())?;
    let thread = stop.is_some();
    let result = serve_on(stream, stop, stdout_fd);
    // A thread worker is done: close the socket for both sides (its reader thread is still
    // blocked on it, and the host waits for end of file). A process is about to exit with its
    // code (and its reader thread would exit it with 0 if it saw the socket close first).
    if thread {
        let _ = end.shutdown(std::net::Shutdown::Both);
    }
    result
}

fn serve_on(stream: UnixStream, stop: Option<Arc<Stop>>, stdout_fd: i32) -> Result<i32, String> {
    let mut reader = BufReader::with_capacity(64 << 10, stream.try_clone().map_err(|e| e.to_string())?);
    let writer = Arc::new(Mutex::new(BufWriter::with_capacity(64 << 10, stream)));

    let init = match protocol::read_frame::<ToWorker>(&mut reader) {
        Ok(Some((ToWorker::Init(init), _))) => init,
        Ok(Some((other, _))) => return Err(format!("expected Init, got {other:?}")),
        Ok(None) => return Ok(0),
        Err(e) => return Err(format!("reading Init: {e}")),
    };
    let (broker, inbox) = BrokerClient::start(writer.clone()).map_err(|e| format!("starting the flusher: {e}"))?;
    let flavor = init.flavor;
    let engine = Arc::new(engine::new_engine(flavor).map_err(|e| format!("engine: {e:#}"))?);
    let limits = RunSettings {
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
        sandbox: Arc::new(init.sandbox.clone()),
        process: ProcessIdentity {
            name: Arc::from(init.name.as_str()),
            pid: std::process::id(),
            worker_id: init.worker_id,
            // SAFETY: getppid has no preconditions.
            parent_pid: unsafe { libc::getppid() } as u32,
        },
    };
    if flavor.has_epochs() {
        engine::start_ticker(Arc::downgrade(&engine));
    }
    let linker = guest::new_linker(&engine).map_err(|e| format!("linker: {e:#}"))?;
    {
        let mut w = lock(&writer);
        protocol::write_frame(&mut *w, &FromWorker::Ready { pid: std::process::id() }, &[])
            .and_then(|()| w.flush())
            .map_err(|e| format!("writing Ready: {e}"))?;
    }

    let (tx, rx) = std::sync::mpsc::channel::<(ToWorker, Vec<u8>)>();
    let reader_stop = stop.clone();
    std::thread::Builder::new()
        .name("wasmproc-reader".into())
        .spawn(move || {
            loop {
                match protocol::read_frame::<ToWorker>(&mut reader) {
                    // Queue replies go to the guest waiting in a queue call, everything else to
                    // the main loop.
                    Ok(Some((ToWorker::BrokerReply(reply), payload))) => {
                        if !inbox.answer(reply, payload) {
                            return;
                        }
                    }
                    Ok(Some((ToWorker::Refused { object: queue }, _))) => inbox.refused(queue),
                    Ok(Some(frame)) => {
                        if tx.send(frame).is_err() {
                            return;
                        }
                    }
                    // The host is gone (or sent garbage, or stopped this thread worker): nobody
                    // will read our results.
                    Ok(None) | Err(_) => match &reader_stop {
                        None => std::process::exit(0),
                        Some(stop) => {
                            stop.flag.store(true, std::sync::atomic::Ordering::Release);
                            return;
                        }
                    },
                }
            }
        })
        .map_err(|e| e.to_string())?;

    let mut modules: HashMap<u64, Result<Loaded, String>> = HashMap::new();
    loop {
        // Replies are buffered while more work is already waiting, and flushed before waiting:
        // under load several results share one write.
        let (msg, payload) = match rx.try_recv() {
            Ok(frame) => frame,
            Err(TryRecvError::Empty) => {
                lock(&writer).flush().map_err(|e| format!("writing results: {e}"))?;
                match rx.recv() {
                    Ok(frame) => frame,
                    Err(_) => return Ok(0),
                }
            }
            Err(TryRecvError::Disconnected) => return Ok(0),
        };
        match msg {
            ToWorker::Init(_) => return Err("Init sent twice".into()),
            ToWorker::BrokerReply(_) | ToWorker::Refused { .. } => {
                return Err("a queue answer nobody asked for".into());
            }
            ToWorker::Exit { code } => {
                lock(&writer).flush().map_err(|e| format!("writing results: {e}"))?;
                return Ok(code);
            }
            ToWorker::Load { module, artifact, init } => {
                // SAFETY: the host sends only paths of artifacts it wrote into its private cache
                // with `precompile_component` of an identically configured engine.
                let loaded = unsafe { Component::deserialize_file(&engine, &artifact) }
                    .map_err(|e| format!("cannot load compiled module {}: {e:#}", artifact.display()))
                    .and_then(|component| Loaded::new(&engine, &linker, &component, limits.clone(), init));
                modules.insert(module, loaded);
            }
            ToWorker::Run { module, task, codec, lens } => {
                let start = Instant::now();
                let total: u64 = lens.iter().map(|l| u64::from(*l)).sum();
                if total != payload.len() as u64 {
                    return Err(format!("Run frame of {} bytes for inputs of {total}", payload.len()));
                }
                let framed = match modules.get_mut(&module) {
                    Some(Ok(loaded)) => loaded.run(&task, to_codec(codec), &payload, &lens),
                    Some(Err(message)) => {
                        let mut out = Vec::new();
                        for _ in &lens {
                            outcomes::push_failure(&mut out, &FailureKind::Load, message);
                        }
                        out
                    }
                    None => return Err(format!("Run for module {module} that was never loaded")),
                };
                let done = FromWorker::Done { count: lens.len() as u32, busy_ns: start.elapsed().as_nanos() as u64 };
                protocol::write_frame(&mut *lock(&writer), &done, &[&framed])
                    .map_err(|e| format!("writing results: {e}"))?;
            }
        }
    }
}
/// The shared writer (the main loop and the guest's queue calls both write).
fn lock(w: &Mutex<BufWriter<UnixStream>>) -> std::sync::MutexGuard<'_, BufWriter<UnixStream>> {
    w.lock().unwrap_or_else(|p| p.into_inner())
}

fn to_codec(codec: WireCodec) -> Codec {
    match codec {
        WireCodec::Postcard => Codec::Postcard,
        WireCodec::Json => Codec::Json,
    }
}
