//! The thread that runs one started process: sends the call over the worker's link, reads its
//! outcome (serving the task's queue and manager requests meanwhile), lets the worker exit with the
//! matching status, and records how it ended.

use super::{Inner, Phase};
use crate::error::{FailureKind, TaskFailure};
use crate::ipc::protocol::ToWorker;
use crate::ipc::stream::Stream;
use crate::link::{Event, Link, LinkReader, Payload, stream};
use crate::spawn::{Spawned, WorkerChild};
use crate::sys::process as os;
use wasmproc_wire::outcome::Outcomes;

/// How the call ended: its encoded value or its failure; `None` if the worker never answered.
type Answer = Option<Result<Vec<u8>, TaskFailure>>;

pub(super) fn run(inner: &Inner, spawned: Spawned) {
    let Spawned { mut child, pid, stream, .. } = spawned;
    // The connection stays open until the worker has exited: a worker whose host end closes exits
    // at once with 0, which would race with the status it was told to exit with.
    let (mut answer, _connection) = call(inner, stream);
    if let WorkerChild::Process(_) = child {
        os::wait_exited(pid);
    } else {
        // A thread: waiting is joining it; nothing can be reused meanwhile.
        let _ = child.wait();
    }
    let mut st = inner.lock();
    let status = child.wait().ok();
    let signal = status.as_ref().and_then(os::signal_of);
    if signal.is_some() && matches!(answer, Some(Err(_))) {
        // Stopped by a signal: that is why it failed, whatever it managed to say first (a thread
        // worker's guest may answer "interrupted" before its channel closes).
        answer = None;
    }
    let code = match (signal, status.and_then(|s| s.code()), &answer) {
        (Some(signal), _, _) => -signal,
        // Python's rule, whatever the worker saw: 1 if the task failed (the host may fail it, e.g.
        // when its queue items were refused), else 0. Also when its status was lost (its fork
        // server died first).
        (None, _, Some(result)) => i32::from(result.is_err()),
        (None, Some(code), None) => code,
        (None, None, None) => 1,
    };
    match answer {
        Some(Ok(value)) => st.value = Some(value),
        Some(Err(f)) => {
            eprintln!("Process {}: {f}", inner.name);
            st.failure = Some(f);
        }
        None => {}
    }
    st.phase = Phase::Exited { pid, code };
    drop(st);
    inner.changed.notify_all();
    // What the process held is released: pipe ends only it had are closed.
    let held = std::mem::take(&mut *inner.call.keep.lock().unwrap_or_else(|p| p.into_inner()));
    drop(held);
}

/// Makes the call (the worker exits 0 or 1 once it has answered) and waits for its answer. A
/// worker that never answers was killed (or died): its exit status tells how. Returns the
/// connection too, to be kept open until the worker has exited.
fn call(inner: &Inner, stream: Stream) -> (Answer, Option<LinkReader>) {
    let Ok((link, mut reader)) = stream::link(stream, inner.ctx.broker.clone()) else { return (None, None) };
    (exchange(inner, &link, &mut reader), Some(reader))
}

fn exchange(inner: &Inner, link: &Link, reader: &mut LinkReader) -> Answer {
    let call = &inner.call;
    let load = ToWorker::Load { module: call.module.id, artifact: inner.artifact(), init: None };
    let run = ToWorker::Run {
        module: call.module.id,
        task: call.task.name().to_string(),
        codec: call.codec,
        lens: vec![call.args.len() as u32],
    };
    link.enqueue(&load, Payload::None).ok()?;
    link.enqueue(&run, Payload::Shared(call.args.clone())).ok()?;
    // The worker exits as soon as it has answered, with 1 if the task failed.
    link.send(&ToWorker::ExitWhenDone, Payload::None).ok()?;
    loop {
        match reader.next() {
            Event::Done { outcomes, .. } => break Some(parse(inner, outcomes)),
            // One input: nothing to report before it is done.
            Event::Progress { .. } => continue,
            Event::Closed { .. } => break None,
        }
    }
}

/// The one outcome of the call.
fn parse(inner: &Inner, outcomes: Vec<u8>) -> Result<Vec<u8>, TaskFailure> {
    let failure = |kind: FailureKind, message: String| TaskFailure {
        task: inner.call.task.name().to_string(),
        index: 0,
        kind,
        message,
    };
    match Outcomes::parse(outcomes) {
        Ok(o) if o.len() == 1 => o.get(0).map(<[u8]>::to_vec).map_err(|(kind, message)| failure(kind, message)),
        Ok(_) | Err(_) => Err(failure(FailureKind::BadResult, "the worker answered malformed outcomes".into())),
    }
}
