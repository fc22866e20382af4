//! A node of a cluster (`wasmproc node`): takes chunks from the cluster's pools, runs them on
//! local worker processes, answers them.
//!
//! - [`policy`]: what this node allows (slots, caps, directories), applied to each chunk;
//! - [`runner`]: modules fetched by digest, local pools, running one chunk;
//! - [`serve`]: pulling chunks (no more than there are free slots), progress acks, answers,
//!   heartbeats, draining.

mod policy;
mod runner;
mod serve;

pub use policy::NodeOptions;
pub use serve::serve;
