//! What a guest may touch. By default: nothing — no files, no environment variables, no arguments,
//! no network, an empty stdin. Grants are explicit and travel to each worker.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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

    /// The WASI context for one instance.
    pub(crate) fn wasi(
        &self,
        stdout: crate::guest::PrefixedOutput,
        stderr: crate::guest::PrefixedOutput,
    ) -> Result<wasmtime_wasi::WasiCtx, String> {
        let mut wasi = wasmtime_wasi::WasiCtx::builder();
        wasi.stdout(stdout).stderr(stderr).allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
        wasi.envs(&self.env).args(&self.args);
        for d in &self.dirs {
            let perms = match d.access {
                DirAccess::ReadOnly => wasmtime_wasi::FsPerms::ReadOnly,
                DirAccess::ReadWrite => wasmtime_wasi::FsPerms::ReadWrite,
            };
            wasi.preopened_dir(&d.host, &d.guest, perms)
                .map_err(|e| format!("cannot open granted directory {}: {e:#}", d.host.display()))?;
        }
        Ok(wasi.build())
    }
}
