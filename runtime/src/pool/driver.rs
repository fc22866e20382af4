//! One driver task per worker slot: feeds the worker jobs from the pool's queue, routes the results
//! back, and replaces the worker when it dies.
//!
//! Dispatch rule: a driver whose worker has nothing to do always takes the next job. A driver whose
//! worker is busy takes one more (up to [`MAX_IN_FLIGHT`], so the worker never waits a round trip
//! between chunks) only while no worker is idle — otherwise a long task could hold a short one
//! hostage while another worker sits free.
//!
//! A worker answers `Run`s in the order it got them, so the in-flight jobs are a FIFO.

use super::job::{ItemOutcome, Job};
use crate::context::Settings;
use crate::error::{FailureKind, TaskFailure};
use crate::protocol::{self, FromWorker, ToWorker, WireOutcome};
use crate::spawn::{self, Spawned};
use std::collections::{HashSet, VecDeque};
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::Child;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{mpsc, watch};

/// Chunks queued at one worker: one running, one waiting in its socket.
pub(crate) const MAX_IN_FLIGHT: usize = 2;

/// What every driver of a pool shares.
pub(crate) struct DriverShared {
    pub(crate) settings: Arc<Settings>,
    pub(crate) pool_name: String,
    pub(crate) jobs: flume::Receiver<Job>,
    pub(crate) terminate: watch::Receiver<bool>,
    /// The current pid of each worker slot (0 while none).
    pub(crate) pids: Arc<Mutex<Vec<u32>>>,
    /// Drivers still able to run jobs; the last one to fail keeps draining the queue with errors.
    pub(crate) alive: Arc<AtomicUsize>,
    /// Drivers with a live worker and nothing in flight.
    pub(crate) idle: AtomicUsize,
}

/// Keeps a driver's contribution to [`DriverShared::idle`] in step with its state.
struct IdleMark<'a> {
    idle: &'a AtomicUsize,
    counted: bool,
}

impl IdleMark<'_> {
    fn set(&mut self, idle: bool) {
        if idle != self.counted {
            if idle {
                self.idle.fetch_add(1, Ordering::AcqRel);
            } else {
                self.idle.fetch_sub(1, Ordering::AcqRel);
            }
            self.counted = idle;
        }
    }
}

impl Drop for IdleMark<'_> {
    fn drop(&mut self) {
        self.set(false);
    }
}

type Event = io::Result<Option<(FromWorker, Vec<u8>)>>;

struct Conn {
    pid: u32,
    child: Child,
    writer: OwnedWriteHalf,
    events: mpsc::UnboundedReceiver<Event>,
    loaded: HashSet<u64>,
    in_flight: VecDeque<Job>,
}

impl Conn {
    fn new(spawned: Spawned) -> io::Result<Conn> {
        spawned.stream.set_nonblocking(true)?;
        let stream = tokio::net::UnixStream::from_std(spawned.stream)?;
        let (mut reader, writer) = stream.into_split();
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                let event = protocol::read_frame_async::<FromWorker, _>(&mut reader).await;
                let end = !matches!(event, Ok(Some(_)));
                if tx.send(event).is_err() || end {
                    return;
                }
            }
        });
        Ok(Conn {
            pid: spawned.pid,
            child: spawned.child,
            writer,
            events,
            loaded: HashSet::new(),
            in_flight: VecDeque::new(),
        })
    }

    async fn send(&mut self, job: &Job) -> io::Result<()> {
        if !self.loaded.contains(&job.module.id) {
            let load = ToWorker::Load {
                module: job.module.id,
                artifact: job.module.artifact.clone(),
            };
            protocol::write_frame_async(&mut self.writer, &load, &[]).await?;
            self.loaded.insert(job.module.id);
        }
        let run = ToWorker::Run {
            module: job.module.id,
            task: job.task.name().to_string(),
            codec: job.codec,
            lens: job.args.iter().map(|a| a.len() as u64).collect(),
        };
        let payload: Vec<&[u8]> = job.args.iter().map(|a| a.as_slice()).collect();
        protocol::write_frame_async(&mut self.writer, &run, &payload).await
    }
}

/// Runs one worker slot until the queue is closed and drained, or the pool is terminated.
pub(crate) async fn drive(
    slot: usize,
    shared: Arc<DriverShared>,
    first: Spawned,
    _done: flume::Sender<()>,
) {
    let mut terminate = shared.terminate.clone();
    let mut conn = match Conn::new(first) {
        Ok(c) => Some(c),
        Err(_) => None,
    };
    let mut queue_open = true;
    // The pool counted this worker idle when it started it (see `Pool::with_processes`).
    let mut idle = IdleMark {
        idle: &shared.idle,
        counted: conn.is_some(),
    };
    if conn.is_none() {
        shared.idle.fetch_sub(1, Ordering::AcqRel);
    }
    loop {
        idle.set(conn.as_ref().is_some_and(|c| c.in_flight.is_empty()));
        let Some(c) = conn.as_mut() else {
            // No worker: start one, unless there is nothing left to do.
            if !queue_open || *terminate.borrow() {
                return;
            }
            match respawn(&shared, slot).await {
                Ok(c) => {
                    conn = Some(c);
                    continue;
                }
                Err(reason) => return fail_forever(&shared, reason).await,
            }
        };
        if !queue_open && c.in_flight.is_empty() {
            let _ = protocol::write_frame_async(&mut c.writer, &ToWorker::Exit, &[]).await;
            let c = conn.take().expect("checked above");
            reap(c.child, Duration::from_secs(5)).await;
            set_pid(&shared, slot, 0);
            return;
        }
        let can_take = queue_open
            && (c.in_flight.is_empty()
                || (c.in_flight.len() < MAX_IN_FLIGHT && shared.idle.load(Ordering::Acquire) == 0));
        tokio::select! {
            biased;
            changed = terminate.changed() => {
                if changed.is_err() || *terminate.borrow() {
                    let mut c = conn.take().expect("checked above");
                    let _ = c.child.kill();
                    reap(c.child, Duration::from_secs(5)).await;
                    set_pid(&shared, slot, 0);
                    // Dropping the jobs answers them with `Terminated`; the queue too.
                    c.in_flight.clear();
                    while shared.jobs.try_recv().is_ok() {}
                    return;
                }
            }
            event = c.events.recv() => match event {
                Some(Ok(Some((FromWorker::Done { outcomes }, payload)))) => {
                    match c.in_flight.pop_front() {
                        Some(job) => {
                            let items = decode_outcomes(&job, outcomes, payload);
                            // Count as idle before the caller hears back, or work it submits on
                            // hearing could be prefetched by a busy worker.
                            idle.set(c.in_flight.is_empty());
                            job.complete(items);
                        }
                        None => lost_worker(&shared, slot, &mut conn, "sent a result nobody asked for").await,
                    }
                }
                Some(Ok(Some((other, _)))) => {
                    lost_worker(&shared, slot, &mut conn, &format!("sent {other:?} unexpectedly")).await
                }
                Some(Ok(None)) | None => lost_worker(&shared, slot, &mut conn, "closed its connection").await,
                Some(Err(e)) => lost_worker(&shared, slot, &mut conn, &format!("connection failed: {e}")).await,
            },
            job = shared.jobs.recv_async(), if can_take => match job {
                Ok(job) => {
                    let sent = c.send(&job).await;
                    c.in_flight.push_back(job);
                    if let Err(e) = sent {
                        lost_worker(&shared, slot, &mut conn, &format!("could not be sent work: {e}")).await;
                    }
                }
                Err(_) => queue_open = false,
            },
        }
    }
}

/// The worker of `slot` is gone or unusable: kill and reap it, and fail what it held.
async fn lost_worker(shared: &DriverShared, slot: usize, conn: &mut Option<Conn>, what: &str) {
    let Some(mut c) = conn.take() else { return };
    // It may still be running if it misbehaved rather than died.
    let _ = c.child.kill();
    let status = reap(c.child, Duration::from_secs(5)).await;
    set_pid(shared, slot, 0);
    let signal = status.and_then(|s| s.signal());
    let message = match (signal, status) {
        (Some(sig), _) => format!(
            "worker process {} was killed by signal {sig} ({what})",
            c.pid
        ),
        (None, Some(s)) => format!("worker process {} exited with {s} ({what})", c.pid),
        (None, None) => format!("worker process {} {what}", c.pid),
    };
    for job in c.in_flight.drain(..) {
        job.fail_all(FailureKind::WorkerDied { pid: c.pid, signal }, &message);
    }
}

async fn respawn(shared: &DriverShared, slot: usize) -> Result<Conn, String> {
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
        let settings = shared.settings.clone();
        let name = format!("{}-{slot}", shared.pool_name);
        let spawned =
            tokio::task::spawn_blocking(move || spawn::spawn_worker(&settings, &name)).await;
        match spawned {
            Ok(Ok(spawned)) => {
                let pid = spawned.pid;
                match Conn::new(spawned) {
                    Ok(conn) => {
                        set_pid(shared, slot, pid);
                        return Ok(conn);
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            Ok(Err(e)) => last = e.to_string(),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

/// This slot cannot get a worker. If other slots still can, leave the queue to them; if this was the
/// last one, answer every queued and future job with the reason, so no caller waits forever.
async fn fail_forever(shared: &DriverShared, reason: String) {
    if shared.alive.fetch_sub(1, Ordering::AcqRel) != 1 {
        return;
    }
    let message = format!("no worker process could be started: {reason}");
    while let Ok(job) = shared.jobs.recv_async().await {
        job.fail_all(FailureKind::Load, &message);
    }
}

/// Waits for a child to exit (killing it after `grace`); `None` if even that failed.
async fn reap(mut child: Child, grace: Duration) -> Option<std::process::ExitStatus> {
    let start = tokio::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if start.elapsed() >= grace => {
                let _ = child.kill();
                return tokio::task::spawn_blocking(move || child.wait().ok())
                    .await
                    .ok()
                    .flatten();
            }
            Ok(None) => tokio::time::sleep(Duration::from_millis(2)).await,
            Err(_) => return None,
        }
    }
}

fn set_pid(shared: &DriverShared, slot: usize, pid: u32) {
    if let Ok(mut pids) = shared.pids.lock() {
        pids[slot] = pid;
    }
}

fn decode_outcomes(job: &Job, outcomes: Vec<WireOutcome>, payload: Vec<u8>) -> Vec<ItemOutcome> {
    let failure = |i: usize, kind: FailureKind, message: String| TaskFailure {
        task: job.task.name().to_string(),
        index: job.base + i,
        kind,
        message,
    };
    if outcomes.len() != job.len() {
        let message = format!(
            "worker returned {} outcomes for {} inputs",
            outcomes.len(),
            job.len()
        );
        return (0..job.len())
            .map(|i| Err(failure(i, FailureKind::BadResult, message.clone())))
            .collect();
    }
    let lens = outcomes.iter().map(|o| match o {
        WireOutcome::Ok(n) => *n,
        WireOutcome::Err { .. } => 0,
    });
    let mut bodies = match protocol::split_payload(payload, lens) {
        Ok(b) => b.into_iter(),
        Err(e) => {
            return (0..job.len())
                .map(|i| Err(failure(i, FailureKind::BadResult, e.to_string())))
                .collect();
        }
    };
    outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            let body = bodies.next().unwrap_or_default();
            match o {
                WireOutcome::Ok(_) => Ok(body),
                WireOutcome::Err {
                    kind: FailureKind::BadArgument,
                    message,
                } => Err(failure(
                    i,
                    FailureKind::BadArgument,
                    format!("expected `{}`: {message}", job.task),
                )),
                WireOutcome::Err { kind, message } => Err(failure(i, kind, message)),
            }
        })
        .collect()
}
