//! Configuration that every layer reads: what a guest may touch ([`Sandbox`]), how workers start
//! ([`StartMethod`]), and the context's [`Settings`].
//!
//! A sandbox grants nothing by default — no files, no environment variables, no arguments, no
//! network, an empty stdin. Grants are explicit and travel to each worker.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// How workers are started — Python's start methods, for wasm tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StartMethod {
    /// One OS process per worker (the default): full isolation; a worker that crashes or is
    /// killed takes nothing else with it. Workers are forked by a fork server, a single-threaded
    /// copy of the worker program started on first use and kept for the life of the host (Python's
    /// `forkserver`): a start costs a fork of that small process, not a new program.
    #[default]
    Process,
    /// One OS process per worker, each a new execution of the worker program (Python's `spawn`):
    /// the same isolation as [`StartMethod::Process`], no fork server, a slower start.
    Spawn,
    /// Workers are threads of the host (`multiprocessing.dummy`): no process start, lower call
    /// latency, isolation by the wasm sandbox alone. Guests still get their own memory, limits and
    /// grants; `terminate`/`kill` stop a guest at its next epoch tick (10 ms) or when a blocking
    /// host call returns.
    Thread,
}

/// How a context's pools and processes start and talk to their workers.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The program re-executed for each worker process.
    pub(crate) worker_executable: PathBuf,
    /// Default number of workers of a pool.
    pub(crate) processes: usize,
    /// Guests' stdout goes to the host's stderr (the CLI keeps stdout for results).
    pub(crate) stdout_to_stderr: bool,
    /// How long a worker may take to report ready.
    pub(crate) start_timeout: Duration,
    pub(crate) start_method: StartMethod,
}

/// The capabilities granted to a pool's (or process's) guests. `Sandbox::default()` grants
/// nothing.
///
/// ```
/// use wasmproc::{DirAccess, Sandbox};
/// let sandbox = Sandbox::default()
///     .dir("/srv/data", "/data", DirAccess::ReadOnly)
///     .env("MODE", "fast")
///     .arg("--verbose");
/// assert_eq!(sandbox.dirs().len(), 1);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sandbox {
    dirs: Vec<DirGrant>,
    env: Vec<(String, String)>,
    args: Vec<String>,
}

/// A host directory made visible to guests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirGrant {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the guest sees it (e.g. `/data`).
    pub guest: String,
    /// What the guest may do in it.
    pub access: DirAccess,
}

/// Read-only or read-write access to a granted directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DirAccess {
    /// The guest may list and read files.
    ReadOnly,
    /// The guest may also create, write and remove files.
    ReadWrite,
}

impl Sandbox {
    /// Makes host directory `host` visible to guests as `guest`.
    pub fn dir(mut self, host: impl Into<PathBuf>, guest: impl Into<String>, access: DirAccess) -> Self {
        self.dirs.push(DirGrant { host: host.into(), guest: guest.into(), access });
        self
    }

    /// Sets an environment variable for guests.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Passes this process's value of `key`, if it has one, to guests.
    pub fn inherit_env(self, key: &str) -> Self {
        match std::env::var(key) {
            Ok(value) => self.env(key, value),
            Err(_) => self,
        }
    }

    /// Appends a command-line argument for guests (`std::env::args` in the guest).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// The granted directories.
    pub fn dirs(&self) -> &[DirGrant] {
        &self.dirs
    }

    /// The granted environment variables.
    pub fn envs(&self) -> &[(String, String)] {
        &self.env
    }

    /// The guest's arguments.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Checks every granted directory exists, so a typo fails when the pool starts, not inside
    /// every task.
    pub(crate) fn validate(&self) -> Result<()> {
        for d in &self.dirs {
            if !d.host.is_dir() {
                return Err(Error::InvalidGrant {
                    path: d.host.clone(),
                    reason: "not a directory (or not accessible)".into(),
                });
            }
        }
        Ok(())
    }
}
