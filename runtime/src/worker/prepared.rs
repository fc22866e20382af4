//! Engines, linkers and linked modules made before a fork: the fork server builds an engine and
//! linker of each common flavour before it serves, and links the module a `Process` will run
//! before it forks that process's worker, so that the worker starts with them (copy-on-write)
//! instead of making its own. Measured in a forked worker: building an engine and its linker
//! took ~0.6 ms, loading and linking the module 0.5–0.8 ms, of its ~3.5 ms start → join.
//!
//! A wasmtime `Engine` holds no threads and, in a single-threaded process, no lock held across a
//! fork; the epoch ticker, which is a thread, is started by the worker that uses the engine.
//! Exec'd and thread workers find nothing here and build their own.

use super::GuestState;
use super::host::{self, TaskPre};
#[cfg(target_os = "linux")]
use super::instance::Loaded;
use crate::engine::{self, Flavor};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use wasmtime::Engine;
use wasmtime::component::Linker;

/// What a worker needs to run guests of one flavour.
pub(super) type Prepared = (Arc<Engine>, Linker<GuestState>);

static PREPARED: Mutex<Vec<(Flavor, Prepared)>> = Mutex::new(Vec::new());

/// Modules linked in the fork server, most recent last.
static PRELOADED: Mutex<Vec<(PathBuf, TaskPre<GuestState>)>> = Mutex::new(Vec::new());

/// How many linked modules the fork server keeps.
#[cfg(target_os = "linux")]
const KEEP_PRELOADED: usize = 8;

/// Builds an engine and linker of each flavour a worker starts with by default (the fuel-metered
/// flavour is rare and is built by the worker that needs it).
#[cfg(target_os = "linux")]
pub(super) fn prepare() -> Result<(), String> {
    let mut prepared = PREPARED.lock().unwrap_or_else(PoisonError::into_inner);
    for flavor in [Flavor::Fast, Flavor::Interruptible] {
        prepared.push((flavor, build(flavor)?));
    }
    Ok(())
}

/// The prepared engine and linker of `flavor` if there is one (each is taken once), else new ones.
pub(super) fn take_or_build(flavor: Flavor) -> Result<Prepared, String> {
    let mut prepared = PREPARED.lock().unwrap_or_else(PoisonError::into_inner);
    match prepared.iter().position(|(f, _)| *f == flavor) {
        Some(i) => Ok(prepared.swap_remove(i).1),
        None => {
            drop(prepared);
            build(flavor)
        }
    }
}

fn build(flavor: Flavor) -> Result<Prepared, String> {
    let engine = Arc::new(engine::new_engine(flavor).map_err(|e| format!("engine: {e:#}"))?);
    let linker = host::new_linker(&engine).map_err(|e| format!("linker: {e:#}"))?;
    Ok((engine, linker))
}

/// Links the module at `artifact` (compiled for `flavor`) with the prepared engine of that
/// flavour, once; the fork server calls this before forking a worker that will load it. Without a
/// prepared engine of `flavor`, or if loading fails, nothing is kept (the worker loads it itself
/// and reports the error).
#[cfg(target_os = "linux")]
pub(super) fn preload(flavor: Flavor, artifact: &Path) {
    let mut preloaded = PRELOADED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(i) = preloaded.iter().position(|(path, _)| path == artifact) {
        let hit = preloaded.remove(i);
        preloaded.push(hit);
        return;
    }
    let prepared = PREPARED.lock().unwrap_or_else(PoisonError::into_inner);
    let Some((_, (engine, linker))) = prepared.iter().find(|(f, _)| *f == flavor) else { return };
    // SAFETY: the host sends only paths of artifacts it wrote into its private cache with
    // `precompile_component` of an identically configured engine (as for a worker's `Load`).
    let Ok(component) = (unsafe { crate::engine::load_artifact(engine, artifact) }) else { return };
    let Ok(pre) = Loaded::link(linker, &component) else { return };
    if preloaded.len() == KEEP_PRELOADED {
        preloaded.remove(0);
    }
    preloaded.push((artifact.to_path_buf(), pre));
}

/// The module at `artifact`, linked before this worker was forked, if it was linked with
/// `engine`.
pub(super) fn preloaded(engine: &Engine, artifact: &Path) -> Option<TaskPre<GuestState>> {
    let preloaded = PRELOADED.lock().unwrap_or_else(PoisonError::into_inner);
    let (_, pre) = preloaded.iter().find(|(path, _)| path == artifact)?;
    Engine::same(pre.engine(), engine).then(|| pre.clone())
}
