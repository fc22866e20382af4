//! A pool whose workers are the cluster's nodes: the client side of the transport.
//!
//! Each job becomes one chunk message on the pool's subject of the work-queue stream, with the
//! chunk's id as its `Nats-Msg-Id` (a publish retried after a lost acknowledgement is dropped by
//! the server, not stored twice). Nodes pull chunks through the pool's durable consumer and answer
//! on the pool's subject of the result stream, which the pool reads through a durable consumer of
//! its own: both survive a server restart with file storage. The first answer for a chunk
//! completes its job; a later one (JetStream delivers at least once) finds no job and is dropped.
//!
//! Invariant, as for the local dispatcher: every job is answered exactly once — by a node's
//! answer, or `Terminated` when the pool is terminated or the job withdrawn.

use super::connection::Connection;
use super::message::{self, Answer, Chunk, Init, Limits, Reply};
use super::runtime;
use crate::error::{Error, FailureKind, Result};
use crate::job::Job;
use async_nats::jetstream::consumer::{AckPolicy, Consumer, pull};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    Open,
    Closed,
    Terminated,
}

struct State {
    /// Jobs published and not yet answered, by chunk id; with the stream sequence once known.
    pending: HashMap<u64, (Job, Option<u64>)>,
    next_id: u64,
    lifecycle: Lifecycle,
    /// Dropped once the pool is closed (or terminated) and nothing is pending: `join` returns.
    done: Option<flume::Sender<()>>,
    /// Set when the server forgot the pool: why.
    orphaned: Option<String>,
}

pub(crate) struct ClusterPool {
    conn: Arc<Connection>,
    name: String,
    limits: Limits,
    init: Option<Init>,
    state: Mutex<State>,
    /// Tells the result reader to stop.
    stop: tokio::sync::watch::Sender<bool>,
}

/// The error for `what` (a task, an initializer) given a `SharedMemory`, `Value`, `Array` or lock.
pub(crate) fn regions_refused(conn: &Connection, what: &str) -> Error {
    conn.cluster.error(format!(
        "{what} on a cluster cannot take a SharedMemory, Value, Array or lock: shared memory cannot span \
         machines. Use a Queue or a Manager dict instead, or run this task on a local pool"
    ))
}

impl ClusterPool {
    /// Creates the pool's consumers and starts reading its answers; its chunks ask nodes for
    /// `limits`, and to run `init` on each fresh instance of its module.
    pub(crate) fn start(
        conn: Arc<Connection>,
        limits: Limits,
        init: Option<Init>,
        name: String,
        done: flume::Sender<()>,
    ) -> Result<Arc<ClusterPool>> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let state =
            State { pending: HashMap::new(), next_id: 0, lifecycle: Lifecycle::Open, done: Some(done), orphaned: None };
        let pool = Arc::new(ClusterPool { conn, name, limits, init, state: Mutex::new(state), stop });
        let reader = pool.clone();
        let results = runtime::wait(async move { reader.create_consumers().await })?;
        runtime::handle().spawn(read_answers(Arc::downgrade(&pool), results, stopped));
        Ok(pool)
    }

    /// Creates the result consumer, then the chunk consumer. The result consumer lives while the
    /// pool reads it: the server deletes it after the orphan timeout without a read, and nodes then
    /// delete the chunk consumer and its chunks (see `node::serve`). Created first, it is there
    /// whenever a node sees the chunk consumer of a live pool.
    async fn create_consumers(&self) -> Result<Consumer<pull::Config>> {
        let c = &self.conn;
        let fail =
            |what: &str, e: &dyn std::fmt::Display| c.cluster.error(format!("cannot create the pool's {what}: {e}"));
        let results = c
            .results
            .create_consumer(pull::Config {
                durable_name: Some(message::results_consumer(&self.name)),
                filter_subject: message::result_subject(&self.name),
                ack_policy: AckPolicy::Explicit,
                inactive_threshold: c.cluster.orphan_timeout,
                ..Default::default()
            })
            .await
            .map_err(|e| fail("result consumer", &e))?;
        c.chunks
            .create_consumer(pull::Config {
                durable_name: Some(self.name.clone()),
                filter_subject: message::chunk_subject(&self.name),
                ack_policy: AckPolicy::Explicit,
                ack_wait: c.cluster.ack_wait,
                // Nodes bound the deliveries themselves (see `node`): a chunk delivered more often
                // than the pool allows is answered as lost by the next node that sees it.
                max_deliver: -1,
                ..Default::default()
            })
            .await
            .map_err(|e| fail("chunk consumer", &e))?;
        Ok(results)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes `job` as one chunk (or several, if it does not fit in one server message).
    pub(crate) fn submit(self: &Arc<Self>, mut job: Job) -> Result<()> {
        {
            let st = self.lock();
            if let Some(why) = &st.orphaned {
                return Err(self.conn.cluster.error(why.clone()));
            }
            if st.lifecycle != Lifecycle::Open {
                return Err(Error::PoolClosed);
            }
        }
        if job.refers_to_regions() {
            return Err(regions_refused(&self.conn, "a task"));
        }
        if !self.conn.has_uploaded(&job.module.hash) {
            let (conn, module) = (self.conn.clone(), job.module.clone());
            runtime::wait(async move { conn.upload(&module.hash, &module.name, || module.bytes()).await })?;
        }
        let limit = self.conn.max_payload().saturating_sub(1024);
        // Encoded once; a chunk too large for one message gives its second half to a chunk of its
        // own (ids need only be unique, so the one it took is not reused).
        let (id, payload) = loop {
            let id = {
                let mut st = self.lock();
                st.next_id += 1;
                st.next_id - 1
            };
            let payload = message::encode(&self.chunk(&job, id));
            if payload.len() <= limit {
                break (id, payload);
            }
            if job.len() == 1 {
                return Err(self.conn.cluster.error(format!(
                    "an input of {} bytes is larger than the server's largest message ({} bytes); raise \
                     max_payload in nats-server's configuration",
                    job.args.len(),
                    self.conn.max_payload()
                )));
            }
            let rest = job.split_off(job.len() / 2).expect("a job of two or more inputs splits");
            self.submit(rest)?;
        };
        self.lock().pending.insert(id, (job, None));
        runtime::handle().spawn(publish(Arc::downgrade(self), id, payload));
        Ok(())
    }

    fn chunk(&self, job: &Job, id: u64) -> Chunk {
        Chunk {
            pool: self.name.clone(),
            id,
            module: job.module.hash.clone(),
            module_name: job.module.name.clone(),
            task: job.task.name().to_string(),
            codec: job.codec,
            limits: self.limits.clone(),
            init: self.init.clone(),
            ack_wait_ms: self.conn.cluster.ack_wait.as_millis() as u64,
            max_deliveries: self.conn.cluster.max_deliveries,
            broker: self.conn.bridge.clone(),
            lens: job.lens.clone(),
            input: job.args.to_vec(),
        }
    }

    fn terminated(&self) -> bool {
        self.lock().lifecycle == Lifecycle::Terminated
    }

    /// The server forgot the pool (its program read no answer for the orphan timeout): fails what
    /// is pending, saying so, and takes no more work.
    fn orphaned(&self) {
        let timeout = self.conn.cluster.orphan_timeout;
        let message = format!(
            "the cluster's server dropped this pool after {timeout:?} in which this program read no answer (it \
             was stopped, or cut off from the server), and the nodes dropped its queued chunks; raise \
             Cluster::orphan_timeout (--orphan-timeout on the command line) and run it again"
        );
        let pending: Vec<(Job, Option<u64>)> = {
            let mut st = self.lock();
            st.lifecycle = Lifecycle::Terminated;
            st.orphaned = Some(message.clone());
            st.done = None;
            st.pending.drain().map(|(_, p)| p).collect()
        };
        for (job, _) in pending {
            job.fail(FailureKind::Refused, message.clone());
        }
    }

    /// Completes the job an answer is for (if it is still pending).
    fn answer(&self, payload: &[u8]) {
        let Ok(reply) = message::decode::<Reply>(payload) else { return };
        let job = {
            let mut st = self.lock();
            let job = st.pending.remove(&reply.id).map(|(job, _)| job);
            if st.lifecycle != Lifecycle::Open && st.pending.is_empty() {
                st.done = None;
            }
            job
        };
        match (job, reply.answer) {
            (Some(job), Answer::Done(framed)) => job.complete(framed),
            (Some(job), Answer::Failed { kind, message }) => {
                job.fail(kind, format!("on node {}: {message}", reply.node))
            }
            (None, _) => {} // a second delivery's answer, or a withdrawn job's
        }
    }

    /// Withdraws the pending jobs whose cancel flag matches (their answers will be dropped);
    /// how many.
    pub(crate) fn withdraw(&self, matches: impl Fn(&Arc<AtomicBool>) -> bool) -> usize {
        let withdrawn: Vec<(Job, Option<u64>)> = {
            let mut st = self.lock();
            let ids: Vec<u64> = st
                .pending
                .iter()
                .filter(|(_, (job, _))| job.cancel.as_ref().is_some_and(&matches))
                .map(|(id, _)| *id)
                .collect();
            let out = ids.iter().filter_map(|id| st.pending.remove(id)).collect();
            if st.lifecycle != Lifecycle::Open && st.pending.is_empty() {
                st.done = None;
            }
            out
        };
        let seqs: Vec<u64> = withdrawn.iter().filter_map(|(_, seq)| *seq).collect();
        if !seqs.is_empty() {
            let stream = self.conn.chunks.clone();
            runtime::handle().spawn(async move {
                for seq in seqs {
                    let _ = stream.delete_message(seq).await;
                }
            });
        }
        withdrawn.len()
    }

    /// Takes no more work; `join` returns once everything pending is answered.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        if st.lifecycle == Lifecycle::Open {
            st.lifecycle = Lifecycle::Closed;
        }
        if st.pending.is_empty() {
            st.done = None;
        }
    }

    /// Answers everything pending `Terminated`, and removes the pool's chunks and consumers from
    /// the server.
    pub(crate) fn terminate(&self) {
        let pending: Vec<(Job, Option<u64>)> = {
            let mut st = self.lock();
            if st.lifecycle == Lifecycle::Terminated {
                return;
            }
            st.lifecycle = Lifecycle::Terminated;
            st.done = None;
            st.pending.drain().map(|(_, p)| p).collect()
        };
        drop(pending);
        let _ = self.stop.send(true);
        let (conn, name) = (self.conn.clone(), self.name.clone());
        // Wait (briefly) so that nodes stop seeing the pool's chunks by the time this returns.
        let _ = runtime::wait(async move {
            tokio::time::timeout(Duration::from_secs(5), async {
                let _ = conn.chunks.delete_consumer(&name).await;
                let _ = conn.chunks.purge().filter(message::chunk_subject(&name)).await;
                let _ = conn.results.delete_consumer(&message::results_consumer(&name)).await;
            })
            .await
        });
    }
}

/// Publishes one chunk until the server has stored it (retrying while it is unreachable), then
/// records its sequence (to withdraw it).
async fn publish(pool: Weak<ClusterPool>, id: u64, payload: Vec<u8>) {
    let Some(p) = pool.upgrade() else { return };
    let (conn, name) = (p.conn.clone(), p.name.clone());
    drop(p);
    let pending = || pool.upgrade().is_some_and(|p| !p.terminated() && p.lock().pending.contains_key(&id));
    let stored = conn.store(message::chunk_subject(&name), format!("{name}.{id}"), payload.into(), pending).await;
    if let Some(seq) = stored
        && let Some(p) = pool.upgrade()
        && let Some(entry) = p.lock().pending.get_mut(&id)
    {
        entry.1 = Some(seq);
    }
}

/// Reads the pool's answers until it is terminated or dropped, resuming after errors (a server
/// restart ends the pull; the durable consumer remembers what was acknowledged).
async fn read_answers(
    pool: Weak<ClusterPool>,
    consumer: Consumer<pull::Config>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() || pool.strong_count() == 0 {
            return;
        }
        // Each pull lasts at most half the orphan timeout: a pending pull keeps the consumer
        // alive on the server, so a longer one would keep a stopped program's pool alive too.
        let p = pool.upgrade();
        let pull = p
            .as_ref()
            .map_or(Duration::from_secs(30), |p| (p.conn.cluster.orphan_timeout / 2).min(Duration::from_secs(30)));
        drop(p);
        let mut messages = match consumer.stream().expires(pull).heartbeat(pull / 4).messages().await {
            Ok(m) => m,
            Err(_) => {
                if forgotten(&pool).await {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(200)) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        loop {
            let next = tokio::select! {
                next = messages.next() => next,
                _ = stop.changed() => return,
            };
            match next {
                Some(Ok(msg)) => {
                    let Some(p) = pool.upgrade() else { return };
                    p.answer(&msg.payload);
                    drop(p);
                    let _ = msg.ack().await;
                }
                // An error (a missed heartbeat after a restart, or the consumer gone) or the
                // end: pull again, unless the server forgot the pool.
                Some(Err(_)) | None => break,
            }
        }
        if forgotten(&pool).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether the server deleted the pool's result consumer (after the orphan timeout): then the
/// pool is told so. An unreachable server is not an answer: it may be restarting.
async fn forgotten(pool: &Weak<ClusterPool>) -> bool {
    let Some(p) = pool.upgrade() else { return true };
    let name = message::results_consumer(&p.name);
    let gone = match p.conn.results.consumer_info(&name).await {
        Err(e) => e.kind() == async_nats::jetstream::context::ConsumerInfoErrorKind::NotFound,
        Ok(_) => false,
    };
    if gone && !p.terminated() {
        p.orphaned();
    }
    gone
}
