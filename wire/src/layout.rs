//! Where things lie in a shared region: the size of each primitive's words, and where a
//! `Value`'s number or an `Array`'s items sit after their lock.
//!
//! Every primitive is a few 32-bit words, 8-byte aligned; the algorithms on them are the host
//! runtime's (the guest reaches them through host calls), the layouts are shared so both sides
//! compute the same offsets.

use crate::shm::ShmError;

/// A `Lock` or `RLock`: `[owner thread | WAITERS bit, recursion count]`.
pub const LOCK_SIZE: u64 = 8;
/// A `Semaphore`: `[value, waiters, bound (0: unbounded), -]`.
pub const SEMAPHORE_SIZE: u64 = 16;
/// An `Event`: `[flag, -]`.
pub const EVENT_SIZE: u64 = 8;
/// A `Condition`: `[rlock owner, rlock count, sequence, -]`.
pub const CONDITION_SIZE: u64 = 16;
/// A `Barrier`: `[parties, count, generation << 1 | broken, -]`.
pub const BARRIER_SIZE: u64 = 16;

/// A `Value` is its lock, then its number (8 bytes reserved whatever the width).
pub const VALUE_SIZE: u64 = LOCK_SIZE + 8;

/// Where a `Value`'s number starts, from the start of the value.
pub const VALUE_OFFSET: u64 = LOCK_SIZE;

/// The bytes an `Array` of `len` items of `width` bytes takes: its lock, then the items.
pub fn array_size(len: u64, width: u8) -> u64 {
    LOCK_SIZE + len * u64::from(width)
}

/// Where item `index` of an `Array` of `len` items of `width` bytes starts, from the start of the
/// array; an index past the end is an error naming the access.
pub fn array_item(index: u64, len: u64, width: u8) -> Result<u64, ShmError> {
    let w = u64::from(width);
    let offset = index.checked_mul(w).and_then(|o| o.checked_add(LOCK_SIZE)).unwrap_or(u64::MAX);
    if index >= len {
        return Err(ShmError::OutOfBounds { offset, len: w, size: array_size(len, width) });
    }
    Ok(offset)
}

/// Checks that `given` items can overwrite a whole `Array` of `len` items of `width` bytes; a
/// different count is an error naming the access it would have made.
pub fn check_array_len(given: u64, len: u64, width: u8) -> Result<(), ShmError> {
    if given != len {
        let size = array_size(len, width);
        return Err(ShmError::OutOfBounds { offset: LOCK_SIZE, len: given.saturating_mul(u64::from(width)), size });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_follow_the_lock() {
        assert_eq!(array_item(0, 3, 4), Ok(8));
        assert_eq!(array_item(2, 3, 4), Ok(16));
        assert_eq!(array_item(3, 3, 4), Err(ShmError::OutOfBounds { offset: 20, len: 4, size: 20 }));
        assert!(array_item(u64::MAX, 3, 8).is_err());
        assert_eq!(array_size(5, 8), 48);
        assert_eq!(check_array_len(3, 3, 4), Ok(()));
        assert_eq!(check_array_len(4, 3, 4), Err(ShmError::OutOfBounds { offset: 8, len: 16, size: 20 }));
    }
}
