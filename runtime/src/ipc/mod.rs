//! Talking to a worker: the messages ([`protocol`]) and how they are framed on a byte stream
//! ([`frame`], over the layout of `wasmproc_wire::frame`) on a worker's [`stream`] (a socket, or a
//! thread worker's in-process pipe, [`memory`]); the fork server's control line ([`forkserver`]).

#[cfg(target_os = "linux")]
pub(crate) mod forkserver;
pub(crate) mod frame;
pub(crate) mod memory;
pub(crate) mod protocol;
pub(crate) mod stream;
