//! The node's loop: one fetch loop per pool (a durable consumer of the chunk stream), pulling no
//! more chunks than there are free slots; a progress ack every third of the ack wait while a
//! chunk runs or waits for a slot; the answer stored before the chunk is acknowledged; a
//! heartbeat every 2 s; and draining when asked to stop.
//!
//! A fetch holds no slot while it waits for chunks: it waits until a slot is free, then asks
//! for as many chunks as there are free slots, and each chunk takes its slot when it arrives.
//! Holding the slots for the fetch's expiry instead let a pool with no work keep them from the
//! node's other pools for up to half a second at a time. The price: pools that fetch at the same
//! moment may together receive more chunks than there are free slots; the extra ones wait here
//! for the next free slot (at most one fetch's worth per pool), kept with progress acks, and are
//! handed back if the node drains first.
//!
//! A chunk delivered more often than its pool allows (`max_deliveries`: every node that took it
//! before died) is answered as [`FailureKind::NodeLost`] by the node that sees it next, and never
//! run again: a chunk that brings nodes down ends as an error, not a loop.

use super::policy::NodeOptions;
use super::runner::Runner;
use crate::cluster::message::{self, Answer, Chunk, NodeStatus, Reply};
use crate::cluster::{Cluster, Connection, runtime};
use crate::context::Context;
use crate::error::{FailureKind, Result};
use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::pull;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Runs a node: takes chunks from `cluster`'s pools and runs them on local workers of `ctx` (a
/// context without a cluster), as `options` allows, until `stop` is set; then stops taking
/// chunks, finishes those it runs and answers them, and returns.
///
/// ```no_run
/// # fn main() -> wasmproc::Result<()> {
/// use std::sync::{Arc, atomic::AtomicBool};
/// let ctx = wasmproc::Context::new()?;
/// let stop = Arc::new(AtomicBool::new(false)); // set it from a signal handler
/// let options = wasmproc::NodeOptions::new("node-a", 4);
/// wasmproc::serve_node(&ctx, &wasmproc::Cluster::new("nats://127.0.0.1:4222"), options, stop)?;
/// # Ok(()) }
/// ```
pub fn serve(ctx: &Context, cluster: &Cluster, options: NodeOptions, stop: Arc<AtomicBool>) -> Result<()> {
    if ctx.inner.cluster.is_some() {
        return Err(cluster.error("a node runs chunks on local workers: give it a context built without .cluster()"));
    }
    let conn = Arc::new(Connection::open(cluster)?);
    let runner = Arc::new(Runner::new(ctx.clone(), options, conn)?);
    let serving = runner.clone();
    runtime::wait(async move { serve_async(serving, stop).await });
    // Every chunk is answered; the workers can go.
    runner.shutdown();
    Ok(())
}

struct Shared {
    runner: Arc<Runner>,
    /// One permit per slot: held by a chunk from when it starts until it is answered.
    slots: Arc<Semaphore>,
    /// Chunks running (for the heartbeat).
    busy: AtomicU32,
    /// Fetch loops and delivered chunks not yet answered or handed back: draining waits for none.
    tasks: AtomicU32,
    stop: Arc<AtomicBool>,
}

/// How often a chunk waiting for a slot checks whether the node is draining.
const DRAIN_CHECK: Duration = Duration::from_millis(50);

async fn serve_async(runner: Arc<Runner>, stop: Arc<AtomicBool>) {
    let slots = runner.options.slots;
    let shared = Arc::new(Shared {
        runner,
        slots: Arc::new(Semaphore::new(slots as usize)),
        busy: AtomicU32::new(0),
        tasks: AtomicU32::new(0),
        stop,
    });
    let beating = Arc::new(AtomicBool::new(true));
    tokio::spawn(heartbeat(shared.clone(), beating.clone()));
    // The pools, each with a flag that ends its fetch loop.
    let mut loops: HashMap<String, Arc<AtomicBool>> = HashMap::new();
    while !shared.stop.load(Ordering::Acquire) {
        let mut names = shared.runner.conn.chunks.consumer_names();
        let mut seen = Vec::new();
        let mut complete = true;
        while let Some(name) = names.next().await {
            match name {
                Ok(name) => seen.push(name),
                Err(_) => complete = false,
            }
        }
        // A listing cut short (the server restarting) retires nothing: the pools missing from it
        // may be alive.
        if !complete {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        }
        // Listed after the chunk consumers: see `drop_orphans`.
        drop_orphans(&shared.runner.conn, &mut seen).await;
        for name in &seen {
            if !loops.contains_key(name) {
                let gone = Arc::new(AtomicBool::new(false));
                loops.insert(name.clone(), gone.clone());
                shared.tasks.fetch_add(1, Ordering::AcqRel);
                tokio::spawn(fetch_loop(shared.clone(), name.clone(), gone));
            }
        }
        let mut retired = Vec::new();
        loops.retain(|name, gone| {
            let keep = seen.contains(name);
            if !keep {
                gone.store(true, Ordering::Release);
                retired.extend(shared.runner.retire(name));
            }
            keep
        });
        if !retired.is_empty() {
            // Dropping a pool reaps its workers: not on this thread.
            tokio::task::spawn_blocking(move || drop(retired));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Draining: the fetch loops see `stop` and end, chunks waiting for a slot are handed back,
    // and running ones are answered; wait for all of them.
    while shared.tasks.load(Ordering::Acquire) > 0 {
        tokio::time::sleep(DRAIN_CHECK).await;
    }
    debug_assert_eq!(shared.slots.available_permits(), slots as usize, "every slot is back");
    beating.store(false, Ordering::Release);
    let _ = shared.runner.conn.nodes.delete(&shared.runner.options.name).await;
}

/// Deletes the chunk consumers (and queued chunks) of pools in `seen` whose result consumer is
/// gone, and takes them out of `seen`: the server deletes a pool's result consumer once its
/// program has read nothing for the orphan timeout (it died), so its chunks would run for nobody.
///
/// `seen` must have been listed before this lists the result consumers: a pool creates its result
/// consumer before its chunk consumer, so a live pool's is always found. A result listing cut short
/// by an error drops nothing.
async fn drop_orphans(conn: &crate::cluster::Connection, seen: &mut Vec<String>) {
    let mut names = conn.results.consumer_names();
    let mut alive = std::collections::HashSet::new();
    while let Some(name) = names.next().await {
        match name {
            Ok(name) => alive.insert(name),
            Err(_) => return,
        };
    }
    let (orphans, live): (Vec<String>, Vec<String>) =
        seen.drain(..).partition(|pool| !alive.contains(&message::results_consumer(pool)));
    *seen = live;
    for pool in orphans {
        let _ = conn.chunks.delete_consumer(&pool).await;
        let _ = conn.chunks.purge().filter(message::chunk_subject(&pool)).await;
    }
}

/// Puts this node's status in the node bucket every 2 s while `beating`.
async fn heartbeat(shared: Arc<Shared>, beating: Arc<AtomicBool>) {
    let o = &shared.runner.options;
    let host = super::policy::hostname();
    while beating.load(Ordering::Acquire) {
        let status = NodeStatus {
            name: o.name.clone(),
            slots: o.slots,
            busy: shared.busy.load(Ordering::Relaxed),
            host: host.clone(),
            pid: std::process::id(),
            draining: shared.stop.load(Ordering::Acquire),
        };
        let value = serde_json::to_vec(&status).expect("a status encodes");
        let _ = shared.runner.conn.nodes.put(&o.name, value.into()).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Pulls pool `name`'s chunks while this node runs and the pool exists: whenever a slot is free,
/// as many as there are free slots.
async fn fetch_loop(shared: Arc<Shared>, name: String, gone: Arc<AtomicBool>) {
    fetch_chunks(&shared, &name, &gone).await;
    shared.tasks.fetch_sub(1, Ordering::AcqRel);
}

async fn fetch_chunks(shared: &Arc<Shared>, name: &str, gone: &Arc<AtomicBool>) {
    let consumer = match shared.runner.conn.chunks.get_consumer::<pull::Config>(name).await {
        Ok(c) => c,
        Err(_) => return,
    };
    let running = || !gone.load(Ordering::Acquire) && !shared.stop.load(Ordering::Acquire);
    while running() {
        // Wait for a free slot, but leave it free: the chunks take their slots as they arrive.
        match shared.slots.acquire().await {
            Ok(free) => drop(free),
            Err(_) => return,
        }
        if !running() {
            return;
        }
        let free = shared.slots.available_permits().max(1);
        // Always with an expiry: a fetch without one can wait forever on a drained consumer.
        let batch = consumer.fetch().max_messages(free).expires(Duration::from_millis(500)).messages().await;
        match batch {
            Ok(mut batch) => {
                while let Some(next) = batch.next().await {
                    let Ok(msg) = next else { break };
                    shared.tasks.fetch_add(1, Ordering::AcqRel);
                    tokio::spawn(handle(shared.clone(), msg, gone.clone()));
                }
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

/// Runs one delivered chunk once it has a slot, and answers it; or hands it back if the node
/// drains before a slot is free, or if its pool is `gone` by then (closed, or dropped as an
/// orphan: its chunks would run for nobody; handed back, not ended, in case the pool lives on).
async fn handle(shared: Arc<Shared>, msg: async_nats::jetstream::Message, gone: Arc<AtomicBool>) {
    match message::decode::<Chunk>(&msg.payload) {
        Ok(chunk) => {
            let tick = Duration::from_millis((chunk.ack_wait_ms / 3).max(100));
            match slot(&shared, &msg, tick).await {
                Some(_) if gone.load(Ordering::Acquire) => {
                    let _ = msg.ack_with(AckKind::Nak(None)).await;
                }
                Some(slot) => {
                    shared.busy.fetch_add(1, Ordering::Relaxed);
                    run(&shared, &msg, chunk, tick).await;
                    shared.busy.fetch_sub(1, Ordering::Relaxed);
                    drop(slot);
                }
                None => {
                    let _ = msg.ack_with(AckKind::Nak(None)).await;
                }
            }
        }
        Err(_) => {
            // Not a chunk of this version: it can never run anywhere.
            let _ = msg.ack_with(AckKind::Term).await;
        }
    }
    shared.tasks.fetch_sub(1, Ordering::AcqRel);
}

/// A slot for a delivered chunk: at once if one is free; otherwise the chunk waits for the next
/// one (in arrival order), kept with a progress ack every `tick`; `None` if the node drains first.
async fn slot(shared: &Shared, msg: &async_nats::jetstream::Message, tick: Duration) -> Option<OwnedSemaphorePermit> {
    if let Ok(free) = shared.slots.clone().try_acquire_owned() {
        return Some(free);
    }
    let acquire = shared.slots.clone().acquire_owned();
    tokio::pin!(acquire);
    let mut acked = Instant::now();
    loop {
        tokio::select! {
            permit = &mut acquire => return permit.ok(),
            () = tokio::time::sleep(DRAIN_CHECK) => {
                if shared.stop.load(Ordering::Acquire) {
                    return None;
                }
                if acked.elapsed() >= tick {
                    let _ = msg.ack_with(AckKind::Progress).await;
                    acked = Instant::now();
                }
            }
        }
    }
}

/// Runs `chunk` (or answers it as lost, past its deliveries), stores the answer and acks it.
async fn run(shared: &Shared, msg: &async_nats::jetstream::Message, chunk: Chunk, tick: Duration) {
    let delivered = msg.info().map(|i| i.delivered.max(1) as u32).unwrap_or(1);
    let (pool, id) = (chunk.pool.clone(), chunk.id);
    let node = &shared.runner.options;
    if node.verbose || delivered > 1 {
        let n = chunk.lens.len();
        eprintln!(
            "node {}: chunk {id} of pool {pool}: {n} inputs of `{}`, delivery {delivered}",
            node.name, chunk.task
        );
    }
    let answer = if delivered > chunk.max_deliveries {
        let n = delivered - 1;
        Some(Answer::Failed {
            kind: FailureKind::NodeLost { deliveries: n },
            message: format!(
                "chunk {id} of task `{}` was delivered {n} times and every node that took it stopped before \
                 answering; it is not tried again (Cluster::max_deliveries is {})",
                chunk.task, chunk.max_deliveries
            ),
        })
    } else {
        let progress = async {
            loop {
                tokio::time::sleep(tick).await;
                let _ = msg.ack_with(AckKind::Progress).await;
            }
        };
        tokio::select! {
            answer = shared.runner.run(chunk) => answer,
            () = progress => None,
        }
    };
    match answer {
        Some(answer) => {
            let reply = Reply { id, node: node.name.clone(), answer };
            if store_reply(shared, &pool, id, reply).await {
                let _ = msg.ack().await;
                if node.verbose {
                    eprintln!("node {}: chunk {id} of pool {pool}: answered", node.name);
                }
            } else {
                let _ = msg.ack_with(AckKind::Nak(None)).await;
            }
        }
        None => {
            let _ = msg.ack_with(AckKind::Nak(None)).await;
        }
    }
}

/// Publishes an answer until the server has stored it (across a restart), for up to two minutes;
/// whether it was stored.
async fn store_reply(shared: &Shared, pool: &str, id: u64, reply: Reply) -> bool {
    let payload = message::encode(&reply).into();
    let give_up = Instant::now() + Duration::from_secs(120);
    let conn = &shared.runner.conn;
    conn.store(message::result_subject(pool), format!("{pool}.{id}"), payload, || Instant::now() < give_up)
        .await
        .is_some()
}
