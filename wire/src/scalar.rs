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
    /// `self + other`: integers wrap at their width, floats add as floats.
    fn add_wrapping(self, other: Self) -> Self;
}

macro_rules! int_scalar {
    ($($t:ty => $u:ty, $code:literal);*) => {$(
        impl sealed::Sealed for $t {}
        impl Scalar for $t {
            const TYPECODE: char = $code;
            const WIDTH: u8 = core::mem::size_of::<$t>() as u8;
            fn to_bits(self) -> u64 { self as $u as u64 }
            fn from_bits(bits: u64) -> Self { bits as $u as $t }
            fn add_wrapping(self, other: Self) -> Self { self.wrapping_add(other) }
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
    fn add_wrapping(self, other: Self) -> Self {
        self + other
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
    fn add_wrapping(self, other: Self) -> Self {
        self + other
    }
}

/// Evaluates `$body` with `$t` standing for the scalar type whose typecode is `$code`, as
/// `Some`; `None` if no scalar has that typecode. Typecodes and widths come from the impls above.
macro_rules! by_typecode {
    ($code:expr, $t:ident => $body:expr) => {
        by_typecode!(@each $code, $t => $body; i8 i16 i32 i64 u8 u16 u32 u64 f32 f64)
    };
    (@each $code:expr, $t:ident => $body:expr; $($ty:ty)*) => {{
        let code: u8 = $code;
        $(
            if code == <$ty as Scalar>::TYPECODE as u8 {
                type $t = $ty;
                return Some($body);
            }
        )*
        None
    }};
}

/// The width in bytes of the scalar type with Python typecode `typecode`.
pub fn width_of(typecode: u8) -> Option<u8> {
    by_typecode!(typecode, T => <T as Scalar>::WIDTH)
}

/// [`Scalar::add_wrapping`] for the scalar type with Python typecode `typecode`, on bits
/// ([`Scalar::to_bits`]); `None` for a typecode no scalar has. This is what a fused add
/// (`Value::add`) runs where the value lives, knowing the type only by its typecode.
pub fn add_bits(typecode: u8, a: u64, delta: u64) -> Option<u64> {
    by_typecode!(typecode, T => {
        let (a, delta) = (<T as Scalar>::from_bits(a), <T as Scalar>::from_bits(delta));
        Scalar::to_bits(a.add_wrapping(delta))
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
