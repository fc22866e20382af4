//! Where a pool's jobs go: its own workers (the [`Dispatcher`]), or a cluster's nodes (a
//! [`ClusterPool`]). Everything above — chunking, results, `imap`, the executor — is the same.

use super::dispatcher::Dispatcher;
use crate::cluster::ClusterPool;
use crate::error::Error;
use crate::job::Job;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

#[derive(Clone)]
pub(crate) enum Backend {
    Local(Arc<Dispatcher>),
    Cluster(Arc<ClusterPool>),
}

impl Backend {
    /// Queues a job (see `job.rs`: it is answered exactly once).
    pub(crate) fn submit(&self, job: Job) -> Result<(), Error> {
        match self {
            Backend::Local(d) => d.submit(job),
            Backend::Cluster(c) => c.submit(job),
        }
    }

    /// Removes the jobs not yet started whose cancel flag matches; how many.
    pub(crate) fn withdraw(&self, matches: impl Fn(&Arc<AtomicBool>) -> bool) -> usize {
        match self {
            Backend::Local(d) => d.withdraw(matches),
            Backend::Cluster(c) => c.withdraw(matches),
        }
    }

    pub(crate) fn close(&self) {
        match self {
            Backend::Local(d) => d.close(),
            Backend::Cluster(c) => c.close(),
        }
    }

    pub(crate) fn terminate(&self) {
        match self {
            Backend::Local(d) => d.terminate(),
            Backend::Cluster(c) => c.terminate(),
        }
    }

    /// The worker processes' ids (none for a cluster: its workers are on the nodes).
    pub(crate) fn pids(&self) -> Vec<u32> {
        match self {
            Backend::Local(d) => d.pids(),
            Backend::Cluster(_) => Vec::new(),
        }
    }
}
