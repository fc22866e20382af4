//! What a node allows: the limits it caps and the directories it grants. A pure policy, applied
//! to what each chunk asks for before anything runs.

use crate::cluster::message::Limits;
use crate::config::{DirAccess, DirGrant, Sandbox};
use std::time::Duration;

/// How a node runs the chunks it takes (`wasmproc node`'s options).
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Its name in the cluster (unique; heartbeats are keyed by it).
    pub name: String,
    /// How many chunks it runs at once (its worker processes).
    pub slots: u32,
    /// The longest timeout a task gets here; a task asking for none or more gets this.
    pub max_timeout: Option<Duration>,
    /// The most memory an instance gets here.
    pub max_memory: Option<u64>,
    /// The most fuel an input gets here.
    pub max_fuel: Option<u64>,
    /// The directories tasks may ask for, by the guest path they see them at.
    pub allow_dirs: Vec<DirGrant>,
    /// Say on stderr when each chunk starts and is answered.
    pub verbose: bool,
}

impl NodeOptions {
    /// A node named `name` with `slots` slots, no caps and no directories.
    pub fn new(name: impl Into<String>, slots: u32) -> NodeOptions {
        NodeOptions {
            name: name.into(),
            slots: slots.max(1),
            max_timeout: None,
            max_memory: None,
            max_fuel: None,
            allow_dirs: Vec::new(),
            verbose: false,
        }
    }

    /// A node named after this machine and process (`HOST-PID`, other characters than letters,
    /// digits, `-` and `_` made `-`) with `slots` slots.
    pub fn on_this_host(slots: u32) -> NodeOptions {
        let host: String =
            hostname().chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '-' }).collect();
        NodeOptions::new(format!("{host}-{}", std::process::id()), slots)
    }

    /// What a chunk asking for `asked` gets here: the limits capped by this node's, and the
    /// sandbox with each asked-for guest path mapped to the directory this node grants there; or
    /// why it is refused.
    pub(crate) fn resolve(&self, asked: &Limits) -> Result<(Limits, Sandbox), String> {
        let cap = |asked: Option<u64>, cap: Option<u64>| match (asked, cap) {
            (Some(a), Some(c)) => Some(a.min(c)),
            (a, c) => a.or(c),
        };
        let limits = Limits {
            timeout_ms: cap(asked.timeout_ms, self.max_timeout.map(|t| t.as_millis() as u64)),
            max_memory: cap(asked.max_memory, self.max_memory),
            fuel: cap(asked.fuel, self.max_fuel),
            ..asked.clone()
        };
        let mut sandbox = Sandbox::default();
        for (guest, read_only) in &asked.dirs {
            let Some(grant) = self.allow_dirs.iter().find(|g| &g.guest == guest) else {
                return Err(format!(
                    "node {} grants no directory at {guest}; start it with --allow-dir HOST::{guest}{}",
                    self.name,
                    if *read_only { ":ro" } else { "" }
                ));
            };
            let access = match (read_only, grant.access) {
                (true, _) => DirAccess::ReadOnly,
                (false, DirAccess::ReadWrite) => DirAccess::ReadWrite,
                (false, DirAccess::ReadOnly) => {
                    return Err(format!(
                        "node {} grants {guest} read-only, and the task asks to write there; ask for \
                         DirAccess::ReadOnly, or start the node with --allow-dir HOST::{guest}",
                        self.name
                    ));
                }
            };
            sandbox = sandbox.dir(grant.host.clone(), guest.clone(), access);
        }
        for (k, v) in &asked.env {
            sandbox = sandbox.env(k.clone(), v.clone());
        }
        for a in &asked.args {
            sandbox = sandbox.arg(a.clone());
        }
        Ok((limits, sandbox))
    }
}

/// This machine's name (empty if it cannot be read).
pub(crate) fn hostname() -> String {
    crate::sys::process::hostname()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeOptions {
        let mut n = NodeOptions::new("a", 2);
        n.max_timeout = Some(Duration::from_secs(10));
        n.allow_dirs = vec![
            DirGrant { host: "/srv/in".into(), guest: "/in".into(), access: DirAccess::ReadOnly },
            DirGrant { host: "/srv/out".into(), guest: "/out".into(), access: DirAccess::ReadWrite },
        ];
        n
    }

    #[test]
    fn limits_are_capped_and_filled_in() {
        let (l, _) = node().resolve(&Limits { timeout_ms: Some(60_000), fuel: Some(5), ..Limits::default() }).unwrap();
        assert_eq!((l.timeout_ms, l.fuel, l.max_memory), (Some(10_000), Some(5), None));
        let (l, _) = node().resolve(&Limits::default()).unwrap();
        assert_eq!(l.timeout_ms, Some(10_000), "no timeout asked: the node's cap applies");
        let (l, _) = NodeOptions::new("b", 1).resolve(&Limits { timeout_ms: Some(7), ..Limits::default() }).unwrap();
        assert_eq!(l.timeout_ms, Some(7));
    }

    #[test]
    fn directories_map_to_the_nodes_grants_only() {
        let asked = Limits { dirs: vec![("/in".into(), true), ("/out".into(), false)], ..Limits::default() };
        let (_, sandbox) = node().resolve(&asked).unwrap();
        let hosts: Vec<_> = sandbox.dirs().iter().map(|d| (d.host.to_str().unwrap(), d.access)).collect();
        assert_eq!(hosts, vec![("/srv/in", DirAccess::ReadOnly), ("/srv/out", DirAccess::ReadWrite)]);
        let err = node().resolve(&Limits { dirs: vec![("/etc".into(), true)], ..Limits::default() }).unwrap_err();
        assert!(err.contains("grants no directory at /etc") && err.contains("--allow-dir HOST::/etc:ro"), "{err}");
        let err = node().resolve(&Limits { dirs: vec![("/in".into(), false)], ..Limits::default() }).unwrap_err();
        assert!(err.contains("read-only"), "{err}");
    }
}
