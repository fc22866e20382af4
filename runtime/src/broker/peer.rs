//! Who the broker answers: a worker connection, reachable later from any thread.

use crate::ipc::protocol::BrokerReply;
use std::sync::Arc;
use wasmproc_wire::QueueFault;

/// How the broker answered a worker's request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Served {
    /// Send this answer now (a payload for a get or a managed read).
    Reply(BrokerReply, Vec<u8>),
    /// Parked (someone answers later), or a sent request that was accepted: nothing to send now.
    Nothing,
    /// A request sent without waiting was refused: its effect is lost, and the chunk that sent it
    /// must fail.
    Refused { object: u64, fault: QueueFault },
}

impl Served {
    /// An answer without a payload.
    pub(crate) fn reply(reply: BrokerReply) -> Served {
        Served::Reply(reply, Vec::new())
    }
}

/// A worker that can be answered later, from any thread.
///
/// A broker elsewhere (a cluster client's, reached through a node's forwarding broker) learns late
/// what became of requests a worker sent without waiting: it tells the worker's peer through
/// [`refused`](Peer::refused) and [`confirmed`](Peer::confirmed), which the worker waits for
/// before it answers its chunk.
pub(crate) trait Peer: Send + Sync {
    /// Writes `reply` (and `item`, for a get) to the worker. Hands the item back if the worker is
    /// gone, so it is not lost.
    fn answer(&self, reply: BrokerReply, item: Vec<u8>) -> Result<(), Vec<u8>>;

    /// A request to `object` the worker sent without waiting was refused: it fails the chunk that
    /// sent it, and the worker waits for answers from that object from now on.
    fn refused(&self, object: u64, fault: QueueFault);

    /// Answers the worker's `Confirm`: everything it sent before is served, and `lost` of those
    /// requests never arrived readable (see `cluster::bridge`), which fails its chunk too.
    fn confirmed(&self, lost: u64);
}

/// A peer and its broker-wide identity (to drop its parked requests when it dies).
#[derive(Clone)]
pub(crate) struct PeerRef {
    pub(crate) id: u64,
    pub(crate) peer: Arc<dyn Peer>,
}

impl PeerRef {
    /// Answers the peer (see [`Peer::answer`]).
    pub(crate) fn answer(&self, reply: BrokerReply, item: Vec<u8>) -> Result<(), Vec<u8>> {
        self.peer.answer(reply, item)
    }
}
