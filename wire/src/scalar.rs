//! The plain numbers a shared `Value` or `Array` holds, and how they lie in memory.

use crate::shm::ShmError;
use alloc::vec::Vec;

mod sealed {
    pub trait Sealed {}
}

/// A plain number that can live in shared memory: `i8`…`i64`, `u8`…`u64`, `f32`, `f64` (Python's
/// typecodes `'b'`, `'h'`, `'i'`, `'q'`, `'B'`, `'H'`, `'I'`, `'Q'`, `'f'`, `'d'`). Stored little
/// endian, `WIDTH` bytes, accessed atomically.
pub trait Scalar: Copy + Send + Sync + sealed::Sealed + 'static {
    /// Python's typecode for this type.
    const TYPECODE: char;
    /// Size in bytes: 1, 2, 4 or 8.
    const WIDTH: u8;
    /// The bits, zero-extended.
    fn to_bits(self) -> u64;
    /// Back from [`to_bits`](Scalar::to_bits) (higher bits ignored).
    fn from_bits(bits: u64) -> Self;
}

macro_rules! int_scalar {
    ($($t:ty => $u:ty, $code:literal);*) => {$(
        impl sealed::Sealed for $t {}
        impl Scalar for $t {
            const TYPECODE: char = $code;
            const WIDTH: u8 = core::mem::size_of::<$t>() as u8;
            fn to_bits(self) -> u64 { self as $u as u64 }
            fn from_bits(bits: u64) -> Self { bits as $u as $t }
        }
    )*};
}

int_scalar!(i8 => u8, 'b'; i16 => u16, 'h'; i32 => u32, 'i'; i64 => u64, 'q';
            u8 => u8, 'B'; u16 => u16, 'H'; u32 => u32, 'I'; u64 => u64, 'Q');

impl sealed::Sealed for f32 {}
impl Scalar for f32 {
    const TYPECODE: char = 'f';
    const WIDTH: u8 = 4;
    fn to_bits(self) -> u64 {
        u64::from(f32::to_bits(self))
    }
    fn from_bits(bits: u64) -> Self {
        f32::from_bits(bits as u32)
    }
}

impl sealed::Sealed for f64 {}
impl Scalar for f64 {
    const TYPECODE: char = 'd';
    const WIDTH: u8 = 8;
    fn to_bits(self) -> u64 {
        f64::to_bits(self)
    }
    fn from_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
}

/// The width in bytes of the scalar type with Python typecode `typecode`.
pub fn width_of(typecode: u8) -> Option<u8> {
    match typecode {
        b'b' | b'B' => Some(1),
        b'h' | b'H' => Some(2),
        b'i' | b'I' | b'f' => Some(4),
        b'q' | b'Q' | b'd' => Some(8),
        _ => None,
    }
}

/// `a + delta` for the scalar type with Python typecode `typecode`, on their bits
/// ([`Scalar::to_bits`]): integers wrap at their width, floats add as floats. `None` for a typecode
/// no scalar has. This is what a fused add (`Value::add`) runs where the value lives.
pub fn add_bits(typecode: u8, a: u64, delta: u64) -> Option<u64> {
    fn add<T: Scalar>(a: u64, delta: u64, op: fn(T, T) -> T) -> u64 {
        op(T::from_bits(a), T::from_bits(delta)).to_bits()
    }
    Some(match typecode {
        b'b' => add::<i8>(a, delta, i8::wrapping_add),
        b'h' => add::<i16>(a, delta, i16::wrapping_add),
        b'i' => add::<i32>(a, delta, i32::wrapping_add),
        b'q' => add::<i64>(a, delta, i64::wrapping_add),
        b'B' => add::<u8>(a, delta, u8::wrapping_add),
        b'H' => add::<u16>(a, delta, u16::wrapping_add),
        b'I' => add::<u32>(a, delta, u32::wrapping_add),
        b'Q' => add::<u64>(a, delta, u64::wrapping_add),
        b'f' => add::<f32>(a, delta, |x, y| x + y),
        b'd' => add::<f64>(a, delta, |x, y| x + y),
        _ => return None,
    })
}

/// The bytes of `items`, packed little endian.
pub fn encode_items<T: Scalar>(items: &[T]) -> Vec<u8> {
    let w = usize::from(T::WIDTH);
    let mut bytes = Vec::with_capacity(items.len() * w);
    for x in items {
        bytes.extend_from_slice(&x.to_bits().to_le_bytes()[..w]);
    }
    bytes
}

/// Back from [`encode_items`]; bytes that are not a whole number of items are an error.
pub fn decode_items<T: Scalar>(bytes: &[u8]) -> Result<Vec<T>, ShmError> {
    let w = usize::from(T::WIDTH);
    if !bytes.len().is_multiple_of(w) {
        return Err(ShmError::Misaligned { offset: bytes.len() as u64, width: w as u64 });
    }
    Ok(bytes
        .chunks_exact(w)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..w].copy_from_slice(c);
            T::from_bits(u64::from_le_bytes(b))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn numbers_round_trip_through_their_bits_and_bytes() {
        assert_eq!(i8::from_bits((-5i8).to_bits()), -5);
        assert_eq!((-1i16).to_bits(), 0xffff, "zero-extended");
        assert_eq!(f64::from_bits(3.5f64.to_bits()), 3.5);
        let items = [1i32, -2, 300];
        assert_eq!(decode_items::<i32>(&encode_items(&items)).unwrap(), items);
        assert_eq!(encode_items(&[1u16, 2]), vec![1, 0, 2, 0]);
        assert!(decode_items::<u32>(&[1, 2, 3]).is_err());
        assert_eq!((u8::TYPECODE, f32::TYPECODE, u64::WIDTH), ('B', 'f', 8));
    }

    #[test]
    fn a_fused_add_adds_in_the_type_of_its_typecode() {
        let add = |code: char, a: u64, d: u64| add_bits(code as u8, a, d).unwrap();
        assert_eq!(i64::from_bits(add('q', (-5i64).to_bits(), 7i64.to_bits())), 2);
        assert_eq!(i8::from_bits(add('b', 127i8.to_bits(), 1i8.to_bits())), -128, "wraps at its width");
        assert_eq!(add('B', 255, 1), 0);
        assert_eq!(add('I', u64::from(u32::MAX), 2), 1);
        assert_eq!(<f64 as Scalar>::from_bits(add('d', Scalar::to_bits(1.5f64), Scalar::to_bits(0.25f64))), 1.75);
        assert_eq!(<f32 as Scalar>::from_bits(add('f', Scalar::to_bits(1.5f32), Scalar::to_bits(-2.0f32))), -0.5);
        assert_eq!(add_bits(b'x', 1, 1), None);
        assert_eq!((width_of(b'h'), width_of(b'd'), width_of(b'x')), (Some(2), Some(8), None));
    }
}
