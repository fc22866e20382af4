//! wasmproc integration tests: real worker processes running the fixture component built by
//! `build.rs`. One binary; each module covers one area.

mod async_api;
mod cache;
mod cli;
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
mod python;
mod queue;
mod sandbox;
mod scaffold;
mod shared;
mod threads;
