//! Keeping shared objects alive while a task may use them.
//!
//! A queue, pipe end, region or managed object crosses to a task as a handle inside its serde
//! arguments. The task may use it after the host dropped its own handles, so whatever serializes a
//! shared object registers it here, and the call that carries the arguments holds what was
//! registered until it is answered (or, for a `Process`, until it exits).

use std::any::Any;
use std::cell::RefCell;
use std::sync::Arc;

/// The objects a call's arguments refer to.
pub(crate) type KeepAlive = Vec<Arc<dyn Any + Send + Sync>>;

thread_local! {
    /// Collects the objects serialized while task arguments are being encoded.
    static SERIALIZED: RefCell<Option<KeepAlive>> = const { RefCell::new(None) };
}

/// Runs `encode` and returns, with its result, the objects it serialized.
pub(crate) fn collecting<R>(encode: impl FnOnce() -> R) -> (R, KeepAlive) {
    let outer = SERIALIZED.with(|s| s.replace(Some(Vec::new())));
    let result = encode();
    let objects = SERIALIZED.with(|s| s.replace(outer)).unwrap_or_default();
    (result, objects)
}

/// Keeps `object` alive with the call whose arguments are being encoded (if any).
pub(crate) fn with_call(object: Arc<dyn Any + Send + Sync>) {
    SERIALIZED.with(|s| {
        if let Some(objects) = s.borrow_mut().as_mut() {
            objects.push(object);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_is_serialized_inside_is_collected_and_scopes_nest() {
        with_call(Arc::new(0u8)); // outside any call: dropped
        let (((), inner), outer) = collecting(|| {
            with_call(Arc::new(1u8));
            collecting(|| with_call(Arc::new(2u8)))
        });
        let values = |k: &KeepAlive| k.iter().map(|a| *a.downcast_ref::<u8>().unwrap()).collect::<Vec<_>>();
        assert_eq!((values(&inner), values(&outer)), (vec![2], vec![1]));
    }
}
