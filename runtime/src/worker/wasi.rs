//! A guest's WASI context: exactly what its sandbox grants, and nothing else (no network, an empty
//! stdin); its stdout and stderr are forwarded with its process's name in front.

use super::output::PrefixedOutput;
use crate::config::{DirAccess, Sandbox};
use wasmtime_wasi::{FsPerms, WasiCtx};

/// The WASI context for one instance.
pub(super) fn ctx(sandbox: &Sandbox, stdout: PrefixedOutput, stderr: PrefixedOutput) -> Result<WasiCtx, String> {
    let mut wasi = WasiCtx::builder();
    wasi.stdout(stdout).stderr(stderr).allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
    wasi.envs(sandbox.envs()).args(sandbox.args());
    for d in sandbox.dirs() {
        let perms = match d.access {
            DirAccess::ReadOnly => FsPerms::ReadOnly,
            DirAccess::ReadWrite => FsPerms::ReadWrite,
        };
        wasi.preopened_dir(&d.host, &d.guest, perms)
            .map_err(|e| format!("cannot open granted directory {}: {e:#}", d.host.display()))?;
    }
    Ok(wasi.build())
}
