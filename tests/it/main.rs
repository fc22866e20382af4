//! wasmproc integration tests: real worker processes running the fixture component built by
//! `build.rs`. One binary; each module covers one area.

mod async_api;
mod cache;
mod cli;
// nats-server and the node are Linux programs: a Windows test process under Wine cannot start them.
#[cfg(unix)]
mod cluster;
mod common;
mod errors;
mod executor;
mod faults;
mod layers;
mod limits;
mod manager;
mod pipe;
mod pool;
mod process;
// Built by `wasmproc build` with componentize-py, a Linux program the Windows CLI cannot run under Wine.
#[cfg(unix)]
mod python;
mod queue;
mod sandbox;
// `wasmproc new`/`build` run cargo, a Linux program the Windows CLI cannot run under Wine.
#[cfg(unix)]
mod scaffold;
mod shared;
mod threads;
