//! One started process's call and the thread that watches it: [`call`] queues the call on the
//! worker's link as the process starts (before the worker has said it is ready, when it was
//! forked), and [`run`], on the process's own thread, reads its outcome (serving the task's queue
//! and manager requests meanwhile), lets the worker exit with the matching status, and records how
//! it ended.

use super::{Inner, Phase};
use crate::error::{FailureKind, TaskFailure};
use crate::ipc::protocol::ToWorker;
use crate::ipc::stream::Stream;
use crate::link::{Event, Link, LinkReader, Payload, stream};
use crate::spawn::WorkerChild;
use crate::sys::process as os;
use std::sync::Arc;
use wasmproc_wire::outcome::Outcomes;

/// How the call ended: its encoded value or its failure; `None` if the worker never answered.
type Answer = Option<Result<Vec<u8>, TaskFailure>>;

pub(super) fn run(inner: &Inner, mut child: WorkerChild, pid: u32, mut connection: Option<Connection>) {
    // The connection stays open until the worker has exited: a worker whose host end closes exits
    // at once with 0, which would race with the status it was told to exit with.
    let mut answer = connection.as_mut().and_then(|(_, reader)| wait_for_answer(inner, reader));
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

/// The link to a started process's worker.
pub(super) type Connection = (Arc<Link>, LinkReader);

/// Makes the call: queues the module's load, the call and the request to exit once it has
/// answered (0, or 1 if the task failed). `unconfirmed`: the worker's `Ready` is still to come.
/// `None` if the stream cannot be linked (the worker is then seen to end without answering).
pub(super) fn call(inner: &Inner, stream: Stream, unconfirmed: bool) -> Option<Connection> {
    let (link, mut reader) = stream::link(stream, inner.ctx.broker.clone()).ok()?;
    if unconfirmed {
        reader.expect_ready();
    }
    let call = &inner.call;
    let load = ToWorker::Load { module: call.module.id, artifact: inner.artifact(), init: None };
    let run = ToWorker::Run {
        module: call.module.id,
        task: call.task.name().to_string(),
        codec: call.codec,
        lens: vec![call.args.len() as u32],
    };
    // A closed link is seen by the reader as the connection's end.
    let _ = link.enqueue(&load, Payload::None);
    let _ = link.enqueue(&run, Payload::Shared(call.args.clone()));
    let _ = link.send(&ToWorker::ExitWhenDone, Payload::None);
    Some((link, reader))
}

/// Waits for the call's answer, serving the task's broker requests meanwhile. A worker that never
/// answers was killed (or died): its exit status tells how.
fn wait_for_answer(inner: &Inner, reader: &mut LinkReader) -> Answer {
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
