//! `Pipe`: Python's `multiprocessing.Pipe`, two connection ends over a pair of host queues.
//!
//! The end itself — sending, receiving, end of file, closing — is `wasmproc_wire::pipe::Ends`, the
//! same logic the guest SDK uses; here each end gets its queues, plus a guard that closes them
//! when the end's last holder is gone.

use crate::broker::QueueCore;
use crate::context::Context;
use crate::error::Result;
use crate::queue::Queue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use wasmproc_wire::pipe::Ends;

wasmproc_wire::define_connection!(
    /// One end of a pipe — Python's `Connection`, over host queues. Pass it to a task as an
    /// argument (`wasmproc_guest::Connection<T>` there, with the same methods); the other end can
    /// stay in the host or go to another task.
    ///
    /// An end also closes when every holder of it is gone: the host dropped its handles (clones
    /// share one end), and a `Process` or pool task given the end exited — however it exited,
    /// killed included.
    ///
    /// ```
    /// # fn main() -> wasmproc::Result<()> {
    /// let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
    /// let (parent, child) = wasmproc::pipe::<String>(&ctx)?;
    /// child.send("hello".to_string()).unwrap();
    /// assert_eq!(parent.recv().unwrap(), "hello");
    /// child.close();
    /// assert_eq!(parent.recv(), Err(wasmproc::RecvError::Eof));
    /// # Ok(()) }
    /// ```
    Queue
);

/// Closes a pipe end's queues when its last holder (host handle or task) is gone.
struct EndGuard(Vec<Arc<QueueCore>>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        for q in &self.0 {
            q.close();
        }
    }
}

/// An end sending on `tx` and receiving on `rx`, closed when its last holder is gone.
fn end<T>(tx: Option<&Queue<T>>, rx: Option<&Queue<T>>) -> Connection<T> {
    // The receiving side first: a peer that sees end of file must also find its sends refused.
    let guard: Arc<EndGuard> = Arc::new(EndGuard(rx.iter().chain(tx.iter()).map(|q| q.core()).collect()));
    Connection::from_ends(Ends::new(tx.map(|q| q.held_by(guard.clone())), rx.map(|q| q.held_by(guard.clone()))))
}

/// A duplex pipe — `ctx.Pipe()`: both ends send and receive.
pub fn pipe<T: Serialize + DeserializeOwned>(ctx: &Context) -> Result<(Connection<T>, Connection<T>)> {
    let (a_to_b, b_to_a) = (Queue::new(ctx)?, Queue::new(ctx)?);
    Ok((end(Some(&a_to_b), Some(&b_to_a)), end(Some(&b_to_a), Some(&a_to_b))))
}

/// A one-way pipe — `ctx.Pipe(duplex=False)`: returns `(receiving end, sending end)`, in Python's
/// order.
pub fn pipe_simplex<T: Serialize + DeserializeOwned>(ctx: &Context) -> Result<(Connection<T>, Connection<T>)> {
    let q = Queue::new(ctx)?;
    Ok((end(None, Some(&q)), end(Some(&q), None)))
}
