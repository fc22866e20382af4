//! The fork server's control line: the messages between a host and its fork server (see
//! `spawn::forkserver` and `worker::forkserver`), one per `SOCK_SEQPACKET` packet, with the file
//! descriptors that travel alongside (`SCM_RIGHTS`).
//!
//! | message | fds alongside | meaning |
//! |---|---|---|
//! | [`Request::Fork`] | worker socket end, stdout | fork a worker serving that socket |
//! | [`Reply::Ready`] | — | the server is up (its first message) |
//! | [`Reply::Forked`] | pidfd of the new worker | the worker is running |
//! | [`Reply::Refused`] | — | fork (or pidfd_open) failed; nothing runs |
//! | [`Reply::Exited`] | — | a worker ended and was reaped; its raw wait status |

use crate::engine::Flavor;
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The largest control message (a fork request carries a working directory).
const MAX_MESSAGE: usize = 64 << 10;
/// The most descriptors one message carries.
pub(crate) const MAX_FDS: usize = 2;

/// From the host.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// Fork a worker with this working directory (the host's, as bytes of a path); the worker
    /// socket's child end and the fd for guests' stdout travel alongside. `preload`: artifacts
    /// (bytes of their paths) the worker will likely load with an engine of `flavor`, so the
    /// server loads them first and the worker inherits them.
    Fork { cwd: Vec<u8>, flavor: Flavor, preload: Vec<Vec<u8>> },
}

/// From the fork server.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// The server runs and takes requests.
    Ready { pid: u32 },
    /// A worker was forked; its pidfd travels alongside.
    Forked { pid: u32 },
    /// No worker was started, for this reason.
    Refused { reason: String },
    /// Worker `pid` ended with this raw wait status (as `ExitStatus::from_raw` takes it).
    Exited { pid: u32, status: i32 },
}

/// Sends one message with `fds` alongside. Never raises `SIGPIPE` (a fork server runs before
/// `main` has set it to be ignored).
pub(crate) fn send(socket: BorrowedFd<'_>, message: &impl Serialize, fds: &[BorrowedFd<'_>]) -> std::io::Result<()> {
    let bytes = postcard::to_stdvec(message).map_err(std::io::Error::other)?;
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() {
        debug_assert!(fds.len() <= MAX_FDS);
        control.push(SendAncillaryMessage::ScmRights(fds));
    }
    loop {
        match rustix::net::sendmsg(socket, &[IoSlice::new(&bytes)], &mut control, SendFlags::NOSIGNAL) {
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => return Ok(()),
        }
    }
}

/// Receives one message and the descriptors alongside; `None` at end of file.
pub(crate) fn recv<T: DeserializeOwned>(socket: impl AsFd) -> std::io::Result<Option<(T, Vec<OwnedFd>)>> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = loop {
        match rustix::net::recvmsg(&socket, &mut [IoSliceMut::new(&mut buf)], &mut control, RecvFlags::CMSG_CLOEXEC) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other?,
        }
    };
    // Take the descriptors first: they are ours (and closed if dropped) whatever the bytes say.
    let mut fds = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    if got.bytes == 0 {
        return Ok(None);
    }
    let message = postcard::from_bytes(&buf[..got.bytes]).map_err(std::io::Error::other)?;
    Ok(Some((message, fds)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{AddressFamily, SocketFlags, SocketType};

    #[test]
    fn messages_and_descriptors_travel_together() {
        let (a, b) = rustix::net::socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)
            .expect("socketpair");
        let (x, _y) = std::os::unix::net::UnixStream::pair().expect("pair");
        send(
            a.as_fd(),
            &Request::Fork { cwd: b"/tmp".to_vec(), flavor: Flavor::Fast, preload: vec![b"/a".to_vec()] },
            &[x.as_fd(), std::io::stderr().as_fd()],
        )
        .expect("send");
        send(a.as_fd(), &Reply::Exited { pid: 7, status: 9 }, &[]).expect("send");
        let (Request::Fork { cwd, .. }, fds) = recv::<Request>(&b).expect("recv").expect("a message");
        assert_eq!((cwd.as_slice(), fds.len()), (&b"/tmp"[..], 2));
        let (reply, fds) = recv::<Reply>(&b).expect("recv").expect("a message");
        assert!(matches!(reply, Reply::Exited { pid: 7, status: 9 }) && fds.is_empty());
        drop(a);
        assert!(recv::<Reply>(&b).expect("recv").is_none(), "end of file");
    }
}
