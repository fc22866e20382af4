//! How shared objects are encoded when they are passed to a task as arguments.
//!
//! A shared object crosses the sandbox as a handle, never by value: the guest reaches the object
//! through host calls. Queues and managed objects are ids the host's broker hands out; shared
//! memory is the name of a region the worker maps, plus an offset for the primitives that live in
//! one. A pipe end is its two queues (see [`pipe::Ends`](crate::pipe::Ends)).

use alloc::string::String;
use serde::{Deserialize, Serialize};

/// A queue (or one direction of a pipe): the broker's id for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QueueHandle(pub u64);

/// A managed dict or list (a namespace is a dict): the broker's id for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ManagedHandle(pub u64);

/// A shared memory region: the name it is mapped by (`/…`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RegionHandle(pub String);

/// An object living at `offset` in a region: a lock, semaphore, event, condition, barrier, or a
/// `Value` (its lock, then its number).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectHandle {
    /// The region's name.
    pub region: String,
    /// Where the object starts in it.
    pub offset: u64,
}

/// An `Array`: its lock's place, then `len` numbers (see [`layout`](crate::layout)).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ArrayHandle {
    /// Where the array (its lock first) starts.
    pub at: ObjectHandle,
    /// The number of items.
    pub len: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_encode_as_the_plain_values_they_wrap() {
        let q = postcard::to_allocvec(&QueueHandle(300)).unwrap();
        assert_eq!(q, postcard::to_allocvec(&300u64).unwrap());
        let obj = ObjectHandle { region: "/r".into(), offset: 8 };
        let tuple = postcard::to_allocvec(&("/r", 8u64)).unwrap();
        assert_eq!(postcard::to_allocvec(&obj).unwrap(), tuple);
        let arr = ArrayHandle { at: obj, len: 3 };
        assert_eq!(postcard::to_allocvec(&arr).unwrap(), postcard::to_allocvec(&(("/r", 8u64), 3u64)).unwrap());
    }
}
