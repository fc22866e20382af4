//! `wasmproc node --cluster URL [--slots N] [--name NAME] [--allow-dir HOST::GUEST[:ro]] …`, and
//! `wasmproc node --cluster URL --list`.

use super::{Failure, build_local_context, cluster, parse_dir};
use crate::cli::{GlobalOptions, NodeArgs};
use crate::exit::Code;
use anyhow::anyhow;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub(crate) fn node(global: &GlobalOptions, args: &NodeArgs) -> Result<Code, Failure> {
    let Some(cluster) = cluster(global) else {
        return Err(Failure::new(
            Code::Usage,
            anyhow!("a node needs its cluster's address: --cluster nats://HOST:PORT (or WASMPROC_CLUSTER)"),
        ));
    };
    if args.list {
        let nodes = cluster.nodes()?;
        if nodes.is_empty() {
            eprintln!("no node is up on {}", cluster.address());
        }
        for n in nodes {
            let state = if n.draining { " (draining)" } else { "" };
            println!("{}\t{} slots\t{} busy\t{} pid {}{state}", n.name, n.slots, n.busy, n.host, n.pid);
        }
        return Ok(Code::Success);
    }
    let slots = args.slots.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1));
    let mut options = match &args.name {
        Some(name) => wasmproc::NodeOptions::new(name.clone(), slots),
        None => wasmproc::NodeOptions::on_this_host(slots),
    };
    let name = options.name.clone();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(Failure::new(Code::Usage, anyhow!("--name {name:?}: use letters, digits, '-' and '_'")));
    }
    options.max_timeout = args.max_timeout;
    options.max_memory = args.max_memory;
    options.max_fuel = args.max_fuel;
    options.verbose = args.verbose;
    for spec in &args.allow_dirs {
        let (host, guest, access) = parse_dir(spec).map_err(|e| Failure::new(Code::Usage, anyhow!(e)))?;
        if !std::path::Path::new(&host).is_dir() {
            return Err(Failure::new(Code::Usage, anyhow!("--allow-dir {spec}: {host} is not a directory")));
        }
        options.allow_dirs.push(wasmproc::DirGrant { host: host.into(), guest, access });
    }
    let ctx = build_local_context(global, Some(slots as usize))?;
    let stop = Arc::new(AtomicBool::new(false));
    crate::interrupt::drain_into(stop.clone());
    eprintln!("node {name}: serving {} with {slots} slots (SIGTERM or Ctrl-C drains and stops)", cluster.address());
    wasmproc::serve_node(&ctx, &cluster, options, stop)?;
    eprintln!("node {name}: drained, stopping");
    Ok(Code::Success)
}
