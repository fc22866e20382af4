//! The cluster transport: the same pools on many machines, through a NATS JetStream server.
//!
//! - [`connection`]: where the server is ([`Cluster`]), connecting, and the streams and buckets;
//! - [`message`]: what travels (chunks, answers, heartbeats) and under which names;
//! - [`client`]: a pool whose workers are the nodes (the `Pool` of a cluster context);
//! - [`bridge`]: the client's queues and Manager objects, served to the nodes' workers;
//! - [`runtime`]: the tokio runtime the NATS client runs on.
//!
//! The nodes' side, which runs chunks on local pools, is `crate::node`.

pub(crate) mod bridge;
mod client;
pub(crate) mod connection;
pub(crate) mod message;
pub(crate) mod runtime;

pub(crate) use client::{ClusterPool, regions_refused};
pub use connection::Cluster;
pub(crate) use connection::Connection;
pub use message::NodeStatus;
