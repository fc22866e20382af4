//! `Connection<T>` inside a task: one end of a pipe the host created (`wasmproc::pipe`).

use crate::queue::Queue;
use serde::Deserialize;
use wasmproc_wire::pipe::Ends;

wasmproc_wire::define_connection!(
    /// One end of a pipe passed to this task — Python's `Connection`, with the host's method names
    /// and the same behaviour (both are `wasmproc_wire::pipe::Ends` over their own queues).
    ///
    /// ```no_run
    /// #[wasmproc_guest::task]
    /// fn sender(conn: wasmproc_guest::Connection<String>) {
    ///     for msg in ["Hello", "World", "Done"] {
    ///         conn.send(msg.to_string()).unwrap();
    ///     }
    ///     conn.close();
    /// }
    /// ```
    Queue
);

/// An end arrives as the handles of its two queues.
impl<'de, T> Deserialize<'de> for Connection<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ends::deserialize(deserializer).map(Connection::from_ends)
    }
}
