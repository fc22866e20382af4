//! What can go wrong with an access to shared memory, on either side of the sandbox.

use alloc::string::String;

/// Why a shared memory access failed. Accesses are bounds and alignment checked everywhere: a bad
/// offset is this error, never a crash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ShmError {
    /// The access goes past the end of the region.
    #[error("{len} bytes at offset {offset} are out of bounds of a region of {size} bytes")]
    OutOfBounds {
        /// Where the access started.
        offset: u64,
        /// How many bytes it covered.
        len: u64,
        /// The region's size.
        size: u64,
    },
    /// An atomic access at an offset that is not a multiple of its width (or of a width other
    /// than 1, 2, 4 or 8).
    #[error("offset {offset} is not aligned to {width} bytes")]
    Misaligned {
        /// The offset.
        offset: u64,
        /// The access width in bytes.
        width: u64,
    },
    /// In a task: the region could not be mapped in this worker (its name no longer exists), or
    /// its number was never attached. The text says which.
    #[error("{0}")]
    Unknown(String),
}

/// Checks an access of `len` bytes at `offset` in a region of `size` bytes.
pub fn check_bounds(offset: u64, len: u64, size: u64) -> Result<(), ShmError> {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(ShmError::OutOfBounds { offset, len, size }),
    }
}

/// Checks an atomic access of `width` bytes at `offset` in a region of `size` bytes.
pub fn check_atomic(offset: u64, width: u64, size: u64) -> Result<(), ShmError> {
    if !matches!(width, 1 | 2 | 4 | 8) || !offset.is_multiple_of(width) {
        return Err(ShmError::Misaligned { offset, width });
    }
    check_bounds(offset, width, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_alignment() {
        assert_eq!(check_bounds(60, 4, 64), Ok(()));
        assert_eq!(check_bounds(60, 5, 64), Err(ShmError::OutOfBounds { offset: 60, len: 5, size: 64 }));
        assert!(check_bounds(u64::MAX, 1, 64).is_err(), "no overflow");
        assert_eq!(check_atomic(4, 8, 64), Err(ShmError::Misaligned { offset: 4, width: 8 }));
        assert_eq!(check_atomic(8, 3, 64), Err(ShmError::Misaligned { offset: 8, width: 3 }));
        assert_eq!(check_atomic(u64::MAX, 8, 64), Err(ShmError::Misaligned { offset: u64::MAX, width: 8 }));
        assert!(matches!(check_atomic(u64::MAX - 7, 8, 64), Err(ShmError::OutOfBounds { .. })), "no overflow");
        assert!(check_atomic(56, 8, 64).is_ok());
        assert!(check_atomic(64, 8, 64).is_err());
    }
}
