//! The machinery under shared memory, shared by the host API and the worker's `shm`/`sync`
//! interfaces: mapped regions ([`region`]), waiting on their words (`sys::futex`), and the
//! synchronization algorithms on those words ([`words`]). The same code runs wherever a region is
//! mapped, so a lock taken in a guest and one taken in the host are the same lock.

pub(crate) mod region;
pub(crate) mod words;

pub(crate) use region::Region;
