//! `Value<T>` and `Array<T>`: Python's `multiprocessing.Value` / `Array` for plain numbers.
//!
//! Layout in the region: an 8-byte lock at the start, then the value (or the items, packed, little
//! endian). Each `get`/`set` of one number is a single atomic access, so no read ever sees half a
//! write; read-modify-write sequences (`+= 1`) need the lock, as in Python.

use super::memory::{ShmError, anonymous};
use super::sync::{Lock, Obj};
use crate::error::Result;
use crate::shm::sync::LOCK_SIZE;
use serde::{Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;

mod sealed {
    pub trait Sealed {}
}

/// A plain number that can live in shared memory: `i8`…`i64`, `u8`…`u64`, `f32`, `f64` (Python's
/// typecodes `'b'`, `'h'`, `'i'`, `'q'`, `'B'`, `'H'`, `'I'`, `'Q'`, `'f'`, `'d'`).
pub trait Scalar: Copy + sealed::Sealed + Send + Sync + 'static {
    /// Python's typecode for this type.
    const TYPECODE: char;
    /// Size in bytes.
    const WIDTH: u64;
    /// The bits, zero-extended.
    fn to_bits(self) -> u64;
    /// Back from [`to_bits`](Scalar::to_bits).
    fn from_bits(bits: u64) -> Self;
}

macro_rules! int_scalar {
    ($($t:ty => $u:ty, $code:literal);*) => {$(
        impl sealed::Sealed for $t {}
        impl Scalar for $t {
            const TYPECODE: char = $code;
            const WIDTH: u64 = std::mem::size_of::<$t>() as u64;
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
    const WIDTH: u64 = 4;
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
    const WIDTH: u64 = 8;
    fn to_bits(self) -> u64 {
        f64::to_bits(self)
    }
    fn from_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
}

/// One shared number with a lock — `multiprocessing.Value(typecode, value)`.
///
/// Pass it to tasks (`wasmproc_guest::Value<T>` there). `get`/`set` are atomic on their own;
/// hold [`get_lock`](Value::get_lock) around a read-modify-write, or use
/// [`update`](Value::update), which does.
///
/// ```
/// # fn main() -> wasmproc::Result<()> {
/// let num = wasmproc::Value::new(3.1415926_f64)?;
/// num.set(-num.get());
/// assert_eq!(num.get(), -3.1415926);
/// let counter = wasmproc::Value::new(0_i32)?;
/// counter.update(|x| x + 1);
/// assert_eq!(counter.get(), 1);
/// # Ok(()) }
/// ```
pub struct Value<T> {
    obj: Obj,
    lock: Lock,
    _t: PhantomData<T>,
}

/// Python's `RawValue`: the same type (its `get`/`set` never take the lock; only
/// [`Value::update`] and explicit [`Value::get_lock`] users do).
pub type RawValue<T> = Value<T>;

impl<T> Clone for Value<T> {
    fn clone(&self) -> Self {
        Value { obj: self.obj.clone(), lock: self.lock.clone(), _t: PhantomData }
    }
}

impl<T: Scalar + fmt::Debug> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value").field("typecode", &T::TYPECODE).field("value", &self.get()).finish()
    }
}

/// Sent to tasks as `(region name, offset)`.
impl<T> Serialize for Value<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.obj.serialize(serializer)
    }
}

impl<T: Scalar> Value<T> {
    /// A shared `value` with its own lock.
    pub fn new(value: T) -> Result<Value<T>> {
        let obj = Obj { region: anonymous((LOCK_SIZE + 8) as usize)?, offset: 0 };
        let v = Value { lock: Lock::at(obj.clone()), obj, _t: PhantomData };
        v.set(value);
        Ok(v)
    }

    /// The value now — `v.value`.
    pub fn get(&self) -> T {
        T::from_bits(
            self.obj.region.load(self.obj.offset + LOCK_SIZE, T::WIDTH).expect("a value lies inside its region"),
        )
    }

    /// Sets the value — `v.value = x`.
    pub fn set(&self, value: T) {
        self.obj
            .region
            .store(self.obj.offset + LOCK_SIZE, T::WIDTH, value.to_bits())
            .expect("a value lies inside its region");
    }

    /// The value's lock — `v.get_lock()`.
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// Replaces the value with `f(value)` under the lock; returns the new value. A lock taken
    /// over from a dead holder is used all the same (the value is a single word, never torn).
    pub fn update(&self, f: impl FnOnce(T) -> T) -> T {
        let _guard = self.lock.acquire().unwrap_or_else(|e| e.into_guard().expect("untimed acquire"));
        let new = f(self.get());
        self.set(new);
        new
    }
}

/// A fixed-length shared array of numbers with a lock — `multiprocessing.Array(typecode, …)`.
///
/// ```
/// # fn main() -> wasmproc::Result<()> {
/// let arr = wasmproc::Array::new(&[1_i32, 2, 3])?;
/// arr.set(0, 10)?;
/// assert_eq!(arr.to_vec(), vec![10, 2, 3]);
/// assert!(arr.get(3).is_err(), "out of bounds");
/// # Ok(()) }
/// ```
pub struct Array<T> {
    obj: Obj,
    lock: Lock,
    len: usize,
    _t: PhantomData<T>,
}

/// Python's `RawArray`: the same type (see [`RawValue`]).
pub type RawArray<T> = Array<T>;

impl<T> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array { obj: self.obj.clone(), lock: self.lock.clone(), len: self.len, _t: PhantomData }
    }
}

impl<T: Scalar + fmt::Debug> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array").field("typecode", &T::TYPECODE).field("items", &self.to_vec()).finish()
    }
}

/// Sent to tasks as `((region name, offset), length)`.
impl<T> Serialize for Array<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        (&self.obj, self.len as u64).serialize(serializer)
    }
}

impl<T: Scalar> Array<T> {
    /// An array of `len` zeros — `Array(typecode, len)`.
    pub fn zeroed(len: usize) -> Result<Array<T>> {
        let obj = Obj { region: anonymous(LOCK_SIZE as usize + len * T::WIDTH as usize)?, offset: 0 };
        Ok(Array { lock: Lock::at(obj.clone()), obj, len, _t: PhantomData })
    }

    /// An array holding a copy of `items` — `Array(typecode, items)`.
    pub fn new(items: &[T]) -> Result<Array<T>> {
        let a = Self::zeroed(items.len())?;
        a.copy_from_slice(items).expect("same length");
        Ok(a)
    }

    fn offset(i: usize) -> u64 {
        LOCK_SIZE + i as u64 * T::WIDTH
    }

    /// The number of items — `len(arr)`.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no items.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Item `i` — `arr[i]`.
    pub fn get(&self, i: usize) -> Result<T, ShmError> {
        Ok(T::from_bits(self.obj.region.load(Self::offset(i), T::WIDTH)?))
    }

    /// Sets item `i` — `arr[i] = x`.
    pub fn set(&self, i: usize, value: T) -> Result<(), ShmError> {
        Ok(self.obj.region.store(Self::offset(i), T::WIDTH, value.to_bits())?)
    }

    /// A copy of all items — `arr[:]`.
    pub fn to_vec(&self) -> Vec<T> {
        let mut bytes = vec![0u8; self.len * T::WIDTH as usize];
        self.obj.region.read(LOCK_SIZE, &mut bytes).expect("the items lie inside their region");
        bytes.chunks_exact(T::WIDTH as usize).map(|c| T::from_bits(le(c))).collect()
    }

    /// Overwrites all items — `arr[:] = items`; `items` must have the array's length.
    pub fn copy_from_slice(&self, items: &[T]) -> Result<(), ShmError> {
        if items.len() != self.len {
            let size = self.len as u64 * T::WIDTH;
            return Err(ShmError::OutOfBounds { offset: 0, len: items.len() as u64 * T::WIDTH, size });
        }
        let mut bytes = Vec::with_capacity(items.len() * T::WIDTH as usize);
        for x in items {
            bytes.extend_from_slice(&x.to_bits().to_le_bytes()[..T::WIDTH as usize]);
        }
        Ok(self.obj.region.write(LOCK_SIZE, &bytes)?)
    }

    /// The array's lock — `arr.get_lock()`.
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }
}

fn le(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(b)
}
