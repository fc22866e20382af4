//! The worker channel: one connected, bidirectional byte stream between the host and a worker.
//!
//! - Unix: a `UnixStream` socketpair. A worker process gets the child end as its fd 0 (passed as
//!   stdin, it reaches only that child and needs no code between fork and exec, so std uses
//!   `posix_spawn`), and [`WORKER_VAR`] = `0`.
//! - Windows has no socketpair: a TCP connection on loopback with Nagle off. A worker process is
//!   told `127.0.0.1:PORT/TOKEN` in [`WORKER_VAR`] and connects back, sending the one-time token
//!   first; the host accepts only the connection that sends it.
//!
//! Both sides use the stream through `Read`/`Write` on `&Channel`, `try_clone` and `shutdown`,
//! which both types have; [`try_read`], [`readable`] and [`wait_closed`] cover the rest.

use std::io;
use std::process::{Child, Command};
use std::time::Duration;

/// The variable that turns a process linking wasmproc into a worker: how to reach its channel.
pub(crate) const WORKER_VAR: &str = "WASMPROC_WORKER";

/// The stream type.
#[cfg(unix)]
pub(crate) type Channel = std::os::unix::net::UnixStream;
/// The stream type.
#[cfg(windows)]
pub(crate) type Channel = std::net::TcpStream;

/// Two connected ends.
#[cfg(unix)]
pub(crate) fn pair() -> io::Result<(Channel, Channel)> {
    Channel::pair()
}

/// Two connected ends (for tests: thread workers use an in-process pipe, `ipc::memory`).
#[cfg(all(windows, test))]
pub(crate) fn pair() -> io::Result<(Channel, Channel)> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let pending = Pending { listener, token: token() };
    let client = connect_back(pending.listener.local_addr()?, pending.token)?;
    let server = pending.accept(Duration::from_secs(10), || false)?;
    Ok((server, client))
}

/// Reads what has arrived without blocking: `None` if nothing has.
pub(crate) fn try_read(channel: &Channel, buf: &mut [u8]) -> Option<io::Result<usize>> {
    #[cfg(unix)]
    {
        use rustix::io::Errno;
        use rustix::net::{RecvFlags, recv};
        match recv(channel, buf, RecvFlags::DONTWAIT) {
            Ok((n, _)) => Some(Ok(n)),
            Err(Errno::AGAIN | Errno::INTR) => None,
            Err(e) => Some(Err(e.into())),
        }
    }
    #[cfg(windows)]
    {
        use std::io::Read;
        readable(channel).then(|| (&*channel).read(buf))
    }
}

/// Whether bytes (or the end of the stream) are waiting to be read.
pub(crate) fn readable(channel: &Channel) -> bool {
    #[cfg(unix)]
    {
        use rustix::net::{RecvFlags, recv};
        recv(channel, &mut [0u8; 1], RecvFlags::PEEK | RecvFlags::DONTWAIT).is_ok_and(|(n, _)| n > 0)
    }
    #[cfg(windows)]
    {
        use rustix::event::{PollFd, PollFlags, poll};
        let mut fds = [PollFd::new(channel, PollFlags::IN)];
        let zero = rustix::event::Timespec { tv_sec: 0, tv_nsec: 0 };
        poll(&mut fds, Some(&zero)).is_ok_and(|n| n > 0)
    }
}

/// Blocks until the other end has closed (or the stream failed). Wakes for nothing else.
pub(crate) fn wait_closed(channel: &Channel) {
    use rustix::event::{PollFd, PollFlags, poll};
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let hangup = PollFlags::RDHUP;
    // Elsewhere only the hang-up itself can be asked for (it is always reported).
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let hangup = PollFlags::HUP;
    let mut fds = [PollFd::new(channel, hangup)];
    loop {
        match poll(&mut fds, None) {
            Ok(_) if !fds[0].revents().is_empty() => return,
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(_) => return,
        }
    }
}

/// The host's side of a worker process's channel until the worker has it.
#[derive(Debug)]
pub(crate) struct Pending {
    #[cfg(unix)]
    host: Channel,
    #[cfg(windows)]
    listener: std::net::TcpListener,
    #[cfg(windows)]
    token: u64,
}

/// Makes `cmd` start a worker on a new channel (sets [`WORKER_VAR`], and on Unix its stdin).
pub(crate) fn for_child(cmd: &mut Command) -> io::Result<Pending> {
    #[cfg(unix)]
    {
        let (host, child_end) = pair()?;
        cmd.env(WORKER_VAR, "0").stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(child_end)));
        Ok(Pending { host })
    }
    #[cfg(windows)]
    {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let token = token();
        cmd.env(WORKER_VAR, format!("{}/{token:016x}", listener.local_addr()?)).stdin(std::process::Stdio::null());
        Ok(Pending { listener, token })
    }
}

impl Pending {
    /// The host's end, once the started `child` has its own; gives up after `timeout` or when the
    /// child exits first. (`cmd` must have been dropped: on Unix it holds the child's end.)
    pub(crate) fn connect(self, child: &mut Child, timeout: Duration) -> io::Result<Channel> {
        #[cfg(unix)]
        {
            let _ = (child, timeout);
            Ok(self.host)
        }
        #[cfg(windows)]
        {
            self.accept(timeout, || child.try_wait().is_ok_and(|s| s.is_some()))
        }
    }

    /// Accepts the connection that presents the token.
    #[cfg(windows)]
    fn accept(self, timeout: Duration, mut gone: impl FnMut() -> bool) -> io::Result<Channel> {
        use std::io::Read;
        let deadline = std::time::Instant::now() + timeout;
        self.listener.set_nonblocking(true)?;
        loop {
            match self.listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false)?;
                    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
                    let mut got = [0u8; 8];
                    if stream.read_exact(&mut got).is_ok() && u64::from_le_bytes(got) == self.token {
                        stream.set_read_timeout(None)?;
                        stream.set_nodelay(true)?;
                        return Ok(stream);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if gone() {
                        return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the worker exited before it connected"));
                    }
                    if std::time::Instant::now() >= deadline {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "the worker did not connect"));
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Makes sure the host's end `channel` of worker process `pid` reads end of file once that process
/// has exited. On Unix the kernel does so when the process's end closes. Under Wine a killed
/// worker's connection was seen to stay open (a pool waited for it forever), so on Windows a
/// thread waits for the process and shuts the host's end down. A read already waiting on that
/// end did not always wake for the shutdown there either, so the end also gets a receive timeout:
/// [`read`] looks again after [`RECHECK`], and a look after the shutdown reads end of file.
///
/// A shutdown discards input not yet read (Windows' rule, and Wine's): a `Process` whose worker
/// put four queue items and exited at once was seen to deliver only the first, its reader being
/// slower than the exit. So the shutdown waits until the host has read what the worker sent, or
/// has read nothing of it for [`STALLED`] (nobody reads this end any more).
pub(crate) fn close_on_exit(channel: &Channel, pid: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        let _ = (channel, pid);
        Ok(())
    }
    #[cfg(windows)]
    {
        channel.set_read_timeout(Some(RECHECK))?;
        let end = channel.try_clone()?;
        let exited = crate::sys::process::exit_waiter(pid)?;
        std::thread::Builder::new().name(format!("wasmproc-exit-{pid}")).spawn(move || {
            exited.wait();
            read_out(&end);
            let _ = end.shutdown(std::net::Shutdown::Both);
        })?;
        Ok(())
    }
}

/// How often a blocked [`read`] of a worker process's channel looks again (Windows; see
/// [`close_on_exit`]).
#[cfg(windows)]
const RECHECK: Duration = Duration::from_millis(100);

/// How long the host may leave an exited worker's last bytes unread before its end is shut down
/// anyway (Windows; see [`close_on_exit`]).
#[cfg(windows)]
const STALLED: Duration = Duration::from_secs(2);

/// Returns once `channel` holds no unread bytes, or its unread bytes have not gone down for
/// [`STALLED`]. Its peer has exited, so nothing more arrives.
#[cfg(windows)]
fn read_out(channel: &Channel) {
    let unread = || rustix::io::ioctl_fionread(channel).unwrap_or(0);
    let mut left = unread();
    let mut since = std::time::Instant::now();
    while left > 0 && since.elapsed() < STALLED {
        std::thread::sleep(Duration::from_millis(2));
        let now = unread();
        if now < left {
            since = std::time::Instant::now();
        }
        left = now;
    }
}

/// Reads into `buf`, blocking until bytes arrive or the stream ends (`Ok(0)`). On Windows a
/// receive timeout set by [`close_on_exit`] makes the read look again rather than fail.
pub(crate) fn read(channel: &Channel, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::Read;
    #[cfg(unix)]
    return (&*channel).read(buf);
    #[cfg(windows)]
    loop {
        match (&*channel).read(buf) {
            Err(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {}
            result => return result,
        }
    }
}

/// Ends a worker process's use of its channel so that nothing it sent is lost. Windows resets a
/// socket closed with unread input, and the peer then drops what it has not read yet (a
/// `Process`'s last queue items were lost so, under Wine): there the worker shuts its sending side
/// (the host reads everything, then end of file) and reads what is left for a moment before it
/// exits. Nothing to do on Unix.
pub(crate) fn finish(channel: &Channel) {
    #[cfg(unix)]
    let _ = channel;
    #[cfg(windows)]
    {
        use std::io::Read;
        let _ = channel.shutdown(std::net::Shutdown::Write);
        let _ = channel.set_read_timeout(Some(Duration::from_millis(20)));
        let mut sink = [0u8; 4096];
        while matches!((&*channel).read(&mut sink), Ok(n) if n > 0) {}
    }
}

/// A worker process's end of its channel, from the value of [`WORKER_VAR`].
pub(crate) fn from_env(value: &std::ffi::OsStr) -> Result<Channel, String> {
    let value = value.to_str().ok_or_else(|| format!("{WORKER_VAR}={value:?} is not text"))?;
    #[cfg(unix)]
    {
        use std::os::fd::{FromRawFd, OwnedFd};
        let fd: i32 = value.parse().map_err(|_| format!("{WORKER_VAR}={value:?} is not a file descriptor number"))?;
        // SAFETY: the host passed us this descriptor (the child end of a socketpair) and nothing
        // else in this process owns it.
        Ok(Channel::from(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
    #[cfg(windows)]
    {
        let bad = || format!("{WORKER_VAR}={value:?} is not ADDRESS/TOKEN");
        let (addr, token) = value.split_once('/').ok_or_else(bad)?;
        let token = u64::from_str_radix(token, 16).map_err(|_| bad())?;
        connect_back(addr, token).map_err(|e| format!("connecting to the host at {addr}: {e}"))
    }
}

/// The worker's side of a Windows channel: connects to `addr` and presents `token`.
#[cfg(windows)]
fn connect_back(addr: impl std::net::ToSocketAddrs, token: u64) -> io::Result<Channel> {
    let mut stream = Channel::connect(addr)?;
    io::Write::write_all(&mut stream, &token.to_le_bytes())?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// A one-time token: 64 random bits (std's hasher keys come from the OS's random source).
#[cfg(windows)]
fn token() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new().build_hasher().finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn a_pair_carries_bytes_both_ways_and_reports_what_waits() {
        let (a, b) = pair().unwrap();
        let mut buf = [0u8; 8];
        assert!(try_read(&a, &mut buf).is_none(), "nothing has arrived");
        (&b).write_all(b"ping").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !readable(&a) {
            assert!(std::time::Instant::now() < deadline, "the bytes never arrived");
        }
        assert_eq!(try_read(&a, &mut buf).unwrap().unwrap(), 4);
        assert_eq!(&buf[..4], b"ping");
        (&a).write_all(b"pong").unwrap();
        (&b).read_exact(&mut buf[..4]).unwrap();
        assert_eq!(&buf[..4], b"pong");
        let watcher = std::thread::spawn(move || wait_closed(&a));
        drop(b);
        watcher.join().unwrap();
    }

    #[cfg(windows)]
    #[test]
    fn a_read_outlasts_its_timeout_and_ends_at_a_shutdown_made_while_it_waits() {
        let (a, b) = pair().unwrap();
        a.set_read_timeout(Some(RECHECK)).unwrap();
        let end = a.try_clone().unwrap();
        let other = std::thread::spawn(move || {
            std::thread::sleep(RECHECK * 3);
            (&b).write_all(b"x").unwrap();
            std::thread::sleep(RECHECK * 3);
            end.shutdown(std::net::Shutdown::Both).unwrap();
            b
        });
        let mut buf = [0u8; 4];
        assert_eq!(read(&a, &mut buf).unwrap(), 1, "the read waited past its timeout for the byte");
        // Under Wine the shutdown does not wake the waiting read; the next look sees it.
        assert_eq!(read(&a, &mut buf).unwrap(), 0, "end of file after the shutdown");
        drop(other.join().unwrap());
    }

    #[cfg(windows)]
    #[test]
    fn an_exited_peers_last_bytes_are_read_before_the_shutdown() {
        let (a, b) = pair().unwrap();
        a.set_read_timeout(Some(RECHECK)).unwrap();
        let sent: Vec<u8> = (0..64 << 10).map(|i| i as u8).collect();
        (&b).write_all(&sent).unwrap();
        drop(b); // the peer is gone, its bytes wait here
        let end = a.try_clone().unwrap();
        let closer = std::thread::spawn(move || {
            read_out(&end);
            end.shutdown(std::net::Shutdown::Both).unwrap();
        });
        // A slow reader: the shutdown waits for it.
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            std::thread::sleep(Duration::from_millis(5));
            match read(&a, &mut buf).unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        closer.join().unwrap();
        assert!(got == sent, "{} of {} bytes read before end of file", got.len(), sent.len());
    }

    #[cfg(windows)]
    #[test]
    fn bytes_nobody_reads_hold_the_shutdown_back_only_for_a_while() {
        let (a, b) = pair().unwrap();
        (&b).write_all(b"unread").unwrap();
        while !readable(&a) {}
        let started = std::time::Instant::now();
        read_out(&a);
        assert!(started.elapsed() >= STALLED && started.elapsed() < STALLED * 3, "{:?}", started.elapsed());
    }
}
