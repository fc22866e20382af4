//! A bell: wakes a thread waiting on a channel from another thread, without data on the channel.
//!
//! A channel's reader waits with [`Bell::wait`] either for bytes (or the end) or — while other
//! threads promise to read the bytes themselves — for the end alone, so that the bytes it does not
//! read do not wake it. [`Bell::ring`] ends either wait at once, and a ring before the wait is not
//! lost (it stays rung until a wait takes it).
//!
//! Linux only (an eventfd, and `POLLRDHUP` to wait for the end alone). Elsewhere [`Bell::new`] is
//! `None` and a channel's reader blocks in `read`.

use super::channel::Channel;
use std::time::Duration;

/// Wakes a thread in [`Bell::wait`].
#[derive(Debug)]
pub(crate) struct Bell {
    #[cfg(target_os = "linux")]
    fd: std::os::fd::OwnedFd,
    /// Never made off Linux.
    #[cfg(not(target_os = "linux"))]
    never: std::convert::Infallible,
}

/// What a [`Bell::wait`] waits for on its channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum For {
    /// Bytes, or the end of the stream.
    Data,
    /// The end of the stream alone: bytes arriving do not end the wait.
    End,
}

impl Bell {
    /// A bell, where the platform has one.
    pub(crate) fn new() -> Option<Bell> {
        #[cfg(target_os = "linux")]
        {
            use rustix::event::{EventfdFlags, eventfd};
            eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).ok().map(|fd| Bell { fd })
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }

    /// Ends the current or next [`wait`](Bell::wait).
    pub(crate) fn ring(&self) {
        #[cfg(target_os = "linux")]
        {
            // Fails only when the counter is full, which is rung anyway.
            let _ = rustix::io::write(&self.fd, &1u64.to_ne_bytes());
        }
        #[cfg(not(target_os = "linux"))]
        match self.never {}
    }

    /// Waits until `channel` has what `what` asks for, the bell rings (taking the ring), or
    /// `timeout` passes (`None`: no limit). It may also return early (a signal); callers look again.
    pub(crate) fn wait(&self, channel: &Channel, what: For, timeout: Option<Duration>) {
        #[cfg(target_os = "linux")]
        {
            use rustix::event::{PollFd, PollFlags, Timespec, poll};
            let flags = match what {
                For::Data => PollFlags::IN | PollFlags::RDHUP,
                For::End => PollFlags::RDHUP,
            };
            let timeout = timeout.map(|t| Timespec {
                tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
                tv_nsec: i64::from(t.subsec_nanos()),
            });
            let mut fds = [PollFd::new(channel, flags), PollFd::new(&self.fd, PollFlags::IN)];
            let _ = poll(&mut fds, timeout.as_ref());
            if !fds[1].revents().is_empty() {
                let _ = rustix::io::read(&self.fd, &mut [0u8; 8]);
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (channel, what, timeout);
            match self.never {}
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Instant;

    #[test]
    fn a_wait_for_the_end_ignores_bytes_and_ends_on_a_ring_or_a_hang_up() {
        let bell = Bell::new().expect("an eventfd");
        let (a, mut b) = super::super::channel::pair().unwrap();
        b.write_all(b"bytes").unwrap();

        let start = Instant::now();
        bell.wait(&a, For::End, Some(Duration::from_millis(50)));
        assert!(start.elapsed() >= Duration::from_millis(50), "bytes do not end a wait for the end");

        let start = Instant::now();
        bell.wait(&a, For::Data, Some(Duration::from_secs(10)));
        assert!(start.elapsed() < Duration::from_secs(5), "bytes end a wait for data");

        bell.ring();
        let start = Instant::now();
        bell.wait(&a, For::End, Some(Duration::from_secs(10)));
        assert!(start.elapsed() < Duration::from_secs(5), "a ring before the wait is kept for it");
        let start = Instant::now();
        bell.wait(&a, For::End, Some(Duration::from_millis(20)));
        assert!(start.elapsed() >= Duration::from_millis(20), "and taken by it");

        let ringer = std::thread::spawn({
            let bell = Bell { fd: bell.fd.try_clone().unwrap() };
            move || bell.ring()
        });
        let start = Instant::now();
        bell.wait(&a, For::End, None);
        assert!(start.elapsed() < Duration::from_secs(5), "a ring from another thread ends the wait");
        ringer.join().unwrap();

        drop(b);
        let start = Instant::now();
        bell.wait(&a, For::End, None);
        assert!(start.elapsed() < Duration::from_secs(5), "the other end closing ends a wait for the end");
    }
}
