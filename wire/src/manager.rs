//! What can go wrong with a managed dict, list or namespace, on either side of the sandbox.

use alloc::string::String;

/// Why a managed-object operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManagerError {
    /// A key, value or item could not be encoded.
    #[error("cannot encode: {0}")]
    Encode(String),
    /// Stored bytes did not decode as the requested type.
    #[error("stored value does not decode as the requested type: {0}")]
    Decode(String),
    /// `List::set` at an index past the end (Python's `IndexError`).
    #[error("index {index} is out of range")]
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// The list's length.
        len: usize,
    },
    /// In a task: the object no longer exists (the host dropped its last handle). The host's own
    /// handles keep their object alive, so it never sees this.
    #[error("the managed object no longer exists")]
    Gone,
}
