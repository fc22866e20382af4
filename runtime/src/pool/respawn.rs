//! Replacing a worker whose connection ended: reap it, settle what it held, start another if the
//! pool still needs one, and give up on the slot (failing the queue if it was the last) when no
//! worker will start.

use super::dispatcher::{Conn, Dispatcher, Lifecycle};
use super::slot::{After, Phase};
use crate::error::FailureKind;
use crate::job::Job;
use crate::spawn::{self, WorkerChild};
use crate::sys::process::signal_of;
use std::time::Duration;
use wasmproc_wire::outcome;

impl Dispatcher {
    /// The worker of `slot` is gone or unusable (`what` says how): reap it, fail or resend what it
    /// held, and start another if the pool still needs one. `partial` holds the outcomes it
    /// reported as progress of the chunk it was running.
    pub(super) fn replace(&self, slot: usize, mut conn: Conn, what: &str, partial: Vec<u8>) -> Option<Conn> {
        let mut st = self.lock();
        let terminated = st.lifecycle == Lifecycle::Terminated;
        let (phase, mut unanswered) = st.slots[slot].vacate();
        // The worker answers in order, so the first unanswered job is the one it was running (or
        // about to run); the ones behind it never started and go back to the queue, in order.
        let running = unanswered.pop_front();
        while let Some(job) = unanswered.pop_back() {
            st.queue.push_front(job);
        }
        drop(st);

        let after = match phase {
            Phase::Live { after } | Phase::Overran { after } | Phase::Killed { after } => after,
            Phase::Vacant | Phase::Lost => After::Continue,
        };
        let expected = after != After::Continue || terminated;
        if !expected {
            let _ = conn.child.kill();
        }
        let (who, thread) = (conn.child.describe(conn.pid), matches!(conn.child, WorkerChild::Thread { .. }));
        let status = reap(&mut conn.child);
        if let Some(job) = running {
            let died = Died { pid: conn.pid, who, thread, status, what };
            match (phase, answer_reported(job, partial)) {
                (_, None) => {}
                (Phase::Overran { .. }, Some(rest)) if self.options.kills_at_timeout() => self.time_out(rest, &died),
                // Killed for a chunk that was answered after all: what this one has not reported
                // goes again, as it was.
                (Phase::Killed { .. }, Some(rest)) if !self.terminated() => self.lock().queue.push_front(rest),
                (phase, Some(rest)) => self.settle_running(rest, matches!(phase, Phase::Overran { .. }), died),
            }
        }
        drop(conn);
        if expected && after != After::Recycle {
            return None;
        }
        self.respawn(slot)
    }

    /// The rest of a chunk whose worker process was killed at the timeout (its reported inputs
    /// are answered already): the first input, the one it was running, fails with `Timeout`; the
    /// others are sent again.
    fn time_out(&self, mut job: Job, died: &Died<'_>) {
        if let Some(rest) = job.split_off(1) {
            self.lock().queue.push_front(rest);
        }
        let limit = self.options.timeout.unwrap_or_default();
        let message =
            format!("interrupted after the per-task timeout of {limit:?}: {} was killed and replaced", died.who);
        job.fail(FailureKind::Timeout, message);
    }

    /// The chunk a dead worker was running: a timeout if the watchdog killed it, resent if it has
    /// retries left, failed with `WorkerDied` otherwise.
    fn settle_running(&self, mut job: Job, overran: bool, died: Died<'_>) {
        let Died { pid, who, thread, status, what } = died;
        if overran {
            let limit = self.options.timeout.unwrap_or_default();
            let ended = if thread { "stopped" } else { "killed" };
            let message = format!(
                "did not finish within the per-task timeout of {limit:?} plus 1 s of grace (it was blocked \
                 where it could not be interrupted); {who} was {ended} and replaced"
            );
            job.fail(FailureKind::Timeout, message);
            return;
        }
        if job.attempts < self.options.retries && !self.terminated() {
            job.attempts += 1;
            self.lock().queue.push_front(job);
            return;
        }
        let signal = status.as_ref().and_then(signal_of);
        let message = match (signal, status) {
            (Some(_), _) if thread => format!("{who} was stopped ({what})"),
            (Some(sig), _) => format!("{who} was killed by signal {sig} ({what})"),
            (None, Some(s)) => format!("{who} exited with {s} ({what})"),
            (None, None) => format!("{who} {what}"),
        };
        job.fail(FailureKind::WorkerDied { pid, signal }, message);
    }

    /// Starts a worker in `slot` (three attempts); `None` when the pool needs none or none starts.
    fn respawn(&self, slot: usize) -> Option<Conn> {
        let mut last = String::new();
        for attempt in 0..3u32 {
            {
                let st = self.lock();
                if st.lifecycle == Lifecycle::Terminated || (st.lifecycle == Lifecycle::Closed && st.queue.is_empty()) {
                    return None;
                }
            }
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(100 << attempt));
            }
            let init = self.options.worker_init(format!("{}-{slot}", self.pool_name), slot);
            match spawn::spawn_worker(&self.settings, &init, &self.options.preload) {
                Ok(spawned) => return self.install(slot, spawned),
                Err(e) => last = e.to_string(),
            }
        }
        self.lose(slot, &last);
        None
    }

    /// No worker starts in `slot`. If it was the last, nothing will ever run the queue: fail it,
    /// and refuse new work with the reason.
    fn lose(&self, slot: usize, why: &str) {
        let mut st = self.lock();
        st.slots[slot].phase = Phase::Lost;
        if st.slots.iter().all(|s| s.phase == Phase::Lost) {
            let reason = format!("no worker process could be started: {why}");
            st.broken = Some(reason.clone());
            let queued: Vec<Job> = st.queue.drain(..).collect();
            drop(st);
            for job in queued {
                job.fail(FailureKind::Load, reason.clone());
            }
        }
    }
}

/// Answers the inputs of `job` whose outcomes its dead worker reported as progress (`partial`),
/// so that they are never run twice; returns the rest, if any.
fn answer_reported(mut job: Job, partial: Vec<u8>) -> Option<Job> {
    let reported = outcome::count(&partial).unwrap_or(0);
    if reported == 0 {
        return Some(job);
    }
    let rest = job.split_off(reported);
    job.complete(partial);
    rest
}

/// A worker that ended while it held a chunk.
struct Died<'a> {
    pid: u32,
    /// `worker process 1234` or `worker thread …`.
    who: String,
    /// A thread worker (stopped by its switch, not killed by a signal).
    thread: bool,
    status: Option<std::process::ExitStatus>,
    /// What its reader saw.
    what: &'a str,
}

/// Waits for a child to exit, killing it if it has not within 5 s.
fn reap(child: &mut WorkerChild) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Err(_) => return None,
        }
    }
    let _ = child.kill();
    child.wait().ok()
}
