//! The worker process: entered before `main` when [`spawn::WORKER_FD_VAR`] is set, it runs tasks
//! from its socket until the host says `Exit` or goes away.
//!
//! Threads: the main thread runs guests and writes replies; a reader thread reads frames into a
//! channel and exits the process the moment the host's end closes — so a worker never outlives its
//! host, even while a guest is busy.

use crate::engine;
use crate::guest::{self, Codec, Loaded};
use crate::protocol::{self, FromWorker, ToWorker, WireCodec, WireOutcome};
use crate::spawn::WORKER_FD_VAR;
use std::collections::HashMap;
use std::io::BufWriter;
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
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
    let mut reader = stream.try_clone().map_err(|e| e.to_string())?;
    let mut writer = BufWriter::with_capacity(64 << 10, stream);

    match protocol::read_frame::<ToWorker>(&mut reader) {
        Ok(Some((ToWorker::Init(_init), _))) => {}
        Ok(Some((other, _))) => return Err(format!("expected Init, got {other:?}")),
        Ok(None) => return Ok(()),
        Err(e) => return Err(format!("reading Init: {e}")),
    }
    let engine = Arc::new(engine::new_engine().map_err(|e| format!("engine: {e:#}"))?);
    engine::start_ticker(Arc::downgrade(&engine));
    let linker = guest::new_linker(&engine).map_err(|e| format!("linker: {e:#}"))?;
    protocol::write_frame(
        &mut writer,
        &FromWorker::Ready {
            pid: std::process::id(),
        },
        &[],
    )
    .map_err(|e| format!("writing Ready: {e}"))?;

    let (tx, rx) = std::sync::mpsc::channel::<(ToWorker, Vec<u8>)>();
    std::thread::Builder::new()
        .name("wasmproc-reader".into())
        .spawn(move || {
            loop {
                match protocol::read_frame::<ToWorker>(&mut reader) {
                    Ok(Some(frame)) => {
                        if tx.send(frame).is_err() {
                            return;
                        }
                    }
                    // The host is gone (or sent garbage): nobody will read our results.
                    Ok(None) | Err(_) => std::process::exit(0),
                }
            }
        })
        .map_err(|e| e.to_string())?;

    let mut modules: HashMap<u64, Result<Loaded, String>> = HashMap::new();
    while let Ok((msg, payload)) = rx.recv() {
        match msg {
            ToWorker::Init(_) => return Err("Init sent twice".into()),
            ToWorker::Exit => return Ok(()),
            ToWorker::Load { module, artifact } => {
                // SAFETY: the host sends only paths of artifacts it wrote into its private cache
                // with `precompile_component` of an identically configured engine.
                let loaded = unsafe { Component::deserialize_file(&engine, &artifact) }
                    .map_err(|e| {
                        format!("cannot load compiled module {}: {e:#}", artifact.display())
                    })
                    .and_then(|component| Loaded::new(&engine, &linker, &component));
                modules.insert(module, loaded);
            }
            ToWorker::Run {
                module,
                task,
                codec,
                lens,
            } => {
                let args = protocol::split_payload(payload, lens)
                    .map_err(|e| format!("bad Run frame: {e}"))?;
                let outcomes = match modules.get_mut(&module) {
                    Some(Ok(loaded)) => loaded.run(&task, to_codec(codec), &args),
                    Some(Err(message)) => args
                        .iter()
                        .map(|_| Err((crate::FailureKind::Load, message.clone())))
                        .collect(),
                    None => return Err(format!("Run for module {module} that was never loaded")),
                };
                let mut headers = Vec::with_capacity(outcomes.len());
                let mut bodies: Vec<&[u8]> = Vec::with_capacity(outcomes.len());
                for outcome in &outcomes {
                    match outcome {
                        Ok(bytes) => {
                            headers.push(WireOutcome::Ok(bytes.len() as u64));
                            bodies.push(bytes);
                        }
                        Err((kind, message)) => headers.push(WireOutcome::Err {
                            kind: kind.clone(),
                            message: message.clone(),
                        }),
                    }
                }
                protocol::write_frame(
                    &mut writer,
                    &FromWorker::Done { outcomes: headers },
                    &bodies,
                )
                .map_err(|e| format!("writing results: {e}"))?;
            }
        }
    }
    Ok(())
}

fn to_codec(codec: WireCodec) -> Codec {
    match codec {
        WireCodec::Postcard => Codec::Postcard,
        WireCodec::Json => Codec::Json,
    }
}
