//! Shared memory regions and the synchronization primitives built on their words.

pub(crate) mod region;
pub(crate) mod sync;

pub(crate) use region::{Fault, Region};
