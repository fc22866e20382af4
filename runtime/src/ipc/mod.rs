//! Talking to a worker: the messages ([`protocol`]) and how they are framed on a byte stream
//! ([`frame`], over the layout of `wasmproc_wire::frame`).

pub(crate) mod frame;
pub(crate) mod protocol;
