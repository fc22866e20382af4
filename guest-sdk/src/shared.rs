//! Shared memory inside a task: `SharedMemory`, `Value<T>`, `Array<T>` — the host's regions,
//! mapped into this task's worker and accessed through the `shm` interface.

use crate::bindings::wasmproc::task::shm as wit;
use crate::sync::{Lock, Obj};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// Why a region access failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShmError {
    /// The access goes past the end of the region.
    OutOfBounds(String),
    /// An atomic access at an offset that is not a multiple of its width.
    Misaligned(String),
    /// The region is not known to this worker.
    Unknown(String),
}

impl fmt::Display for ShmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShmError::OutOfBounds(m) | ShmError::Misaligned(m) | ShmError::Unknown(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ShmError {}

pub(crate) fn from_wit(e: wit::ShmError) -> ShmError {
    match e {
        wit::ShmError::Unknown(m) => ShmError::Unknown(m),
        wit::ShmError::OutOfBounds(m) => ShmError::OutOfBounds(m),
        wit::ShmError::Misaligned(m) => ShmError::Misaligned(m),
    }
}

/// A mapped region: its name (to pass it on) and its number in this worker.
#[derive(Clone, Debug)]
pub(crate) struct Mapped {
    pub(crate) name: String,
    pub(crate) handle: u32,
}

impl Mapped {
    pub(crate) fn attach(name: String) -> Result<Mapped, ShmError> {
        let handle = wit::attach(&name).map_err(from_wit)?;
        Ok(Mapped { name, handle })
    }
}

/// A block of memory shared with the host and other tasks — the host's
/// `wasmproc::SharedMemory`, passed as an argument. Same methods; accesses are bounds checked.
///
/// ```ignore
/// #[wasmproc_guest::task]
/// fn fill(shm: wasmproc_guest::SharedMemory, byte: u8) {
///     shm.write(0, &vec![byte; shm.len()]).unwrap();
/// }
/// ```
#[derive(Clone, Debug)]
pub struct SharedMemory {
    map: Mapped,
}

impl<'de> Deserialize<'de> for SharedMemory {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Mapped::attach(name).map(|map| SharedMemory { map }).map_err(serde::de::Error::custom)
    }
}

impl Serialize for SharedMemory {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.map.name)
    }
}

impl SharedMemory {
    /// The region's name.
    pub fn name(&self) -> &str {
        &self.map.name
    }

    /// The size in bytes.
    pub fn len(&self) -> usize {
        wit::size(self.map.handle).unwrap_or(0) as usize
    }

    /// Whether the region has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies `out.len()` bytes at `offset` into `out`.
    pub fn read(&self, offset: usize, out: &mut [u8]) -> Result<(), ShmError> {
        let bytes = self.read_vec(offset, out.len())?;
        out.copy_from_slice(&bytes);
        Ok(())
    }

    /// `len` bytes at `offset`, copied out.
    pub fn read_vec(&self, offset: usize, len: usize) -> Result<Vec<u8>, ShmError> {
        wit::read(self.map.handle, offset as u64, len as u64).map_err(from_wit)
    }

    /// Copies `data` to `offset`.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), ShmError> {
        wit::write(self.map.handle, offset as u64, data).map_err(from_wit)
    }

    /// Atomic load of the u32 at `offset`.
    pub fn load_u32(&self, offset: usize) -> Result<u32, ShmError> {
        wit::load(self.map.handle, offset as u64, 4).map(|v| v as u32).map_err(from_wit)
    }

    /// Atomic load of the u64 at `offset`.
    pub fn load_u64(&self, offset: usize) -> Result<u64, ShmError> {
        wit::load(self.map.handle, offset as u64, 8).map_err(from_wit)
    }

    /// Atomic store of a u32.
    pub fn store_u32(&self, offset: usize, value: u32) -> Result<(), ShmError> {
        wit::store(self.map.handle, offset as u64, 4, u64::from(value)).map_err(from_wit)
    }

    /// Atomic store of a u64.
    pub fn store_u64(&self, offset: usize, value: u64) -> Result<(), ShmError> {
        wit::store(self.map.handle, offset as u64, 8, value).map_err(from_wit)
    }

    /// Atomic wrapping add to a u32; returns the previous value.
    pub fn fetch_add_u32(&self, offset: usize, delta: u32) -> Result<u32, ShmError> {
        wit::fetch_add(self.map.handle, offset as u64, 4, u64::from(delta)).map(|v| v as u32).map_err(from_wit)
    }

    /// Atomic wrapping add to a u64; returns the previous value.
    pub fn fetch_add_u64(&self, offset: usize, delta: u64) -> Result<u64, ShmError> {
        wit::fetch_add(self.map.handle, offset as u64, 8, delta).map_err(from_wit)
    }

    /// Atomic compare-and-exchange of a u32: `Ok(previous)` if it was `expected`, else
    /// `Err(current)`.
    pub fn compare_exchange_u32(&self, offset: usize, expected: u32, new: u32) -> Result<Result<u32, u32>, ShmError> {
        let prev = wit::compare_exchange(self.map.handle, offset as u64, 4, u64::from(expected), u64::from(new))
            .map_err(from_wit)? as u32;
        Ok(if prev == expected { Ok(prev) } else { Err(prev) })
    }

    /// Atomic compare-and-exchange of a u64.
    pub fn compare_exchange_u64(&self, offset: usize, expected: u64, new: u64) -> Result<Result<u64, u64>, ShmError> {
        let prev = wit::compare_exchange(self.map.handle, offset as u64, 8, expected, new).map_err(from_wit)?;
        Ok(if prev == expected { Ok(prev) } else { Err(prev) })
    }

    /// Sleeps while the u32 at `offset` equals `expected`, until a notify or `timeout`; may
    /// return early (check again).
    pub fn wait_u32(&self, offset: usize, expected: u32, timeout: Option<Duration>) -> Result<(), ShmError> {
        wit::wait(self.map.handle, offset as u64, expected, timeout.map(|t| t.as_millis() as u64)).map_err(from_wit)
    }

    /// Wakes up to `count` waiters on the u32 at `offset`.
    pub fn notify(&self, offset: usize, count: u32) -> Result<u32, ShmError> {
        wit::notify(self.map.handle, offset as u64, count).map_err(from_wit)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A plain number that can live in shared memory (the host's `wasmproc::Scalar`).
pub trait Scalar: Copy + sealed::Sealed + 'static {
    /// Size in bytes.
    const WIDTH: u8;
    /// The bits, zero-extended.
    fn to_bits(self) -> u64;
    /// Back from `to_bits`.
    fn from_bits(bits: u64) -> Self;
}

macro_rules! int_scalar {
    ($($t:ty => $u:ty);*) => {$(
        impl sealed::Sealed for $t {}
        impl Scalar for $t {
            const WIDTH: u8 = std::mem::size_of::<$t>() as u8;
            fn to_bits(self) -> u64 { self as $u as u64 }
            fn from_bits(bits: u64) -> Self { bits as $u as $t }
        }
    )*};
}

int_scalar!(i8 => u8; i16 => u16; i32 => u32; i64 => u64; u8 => u8; u16 => u16; u32 => u32; u64 => u64);

impl sealed::Sealed for f32 {}
impl Scalar for f32 {
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
    const WIDTH: u8 = 8;
    fn to_bits(self) -> u64 {
        f64::to_bits(self)
    }
    fn from_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
}

/// Where a `Value`'s number (and an `Array`'s first item) lies after its lock.
const LOCK_SIZE: u64 = 8;

/// A shared number with its lock — the host's `wasmproc::Value<T>`, passed as an argument.
///
/// ```ignore
/// #[wasmproc_guest::task]
/// fn add_100(counter: wasmproc_guest::Value<i32>) {
///     for _ in 0..100 {
///         counter.update(|x| x + 1);
///     }
/// }
/// ```
pub struct Value<T> {
    lock: Lock,
    _t: PhantomData<T>,
}

impl<T> Clone for Value<T> {
    fn clone(&self) -> Self {
        Value { lock: self.lock.clone(), _t: PhantomData }
    }
}

impl<T> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value").field("at", &self.lock.obj).finish()
    }
}

impl<'de, T> Deserialize<'de> for Value<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Value { lock: Lock { obj: Obj::deserialize(deserializer)? }, _t: PhantomData })
    }
}

impl<T> Serialize for Value<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.lock.obj.serialize(serializer)
    }
}

impl<T: Scalar> Value<T> {
    fn at(&self) -> (u32, u64) {
        (self.lock.obj.map.handle, self.lock.obj.offset + LOCK_SIZE)
    }

    /// The value now.
    pub fn get(&self) -> T {
        let (h, o) = self.at();
        T::from_bits(wit::load(h, o, T::WIDTH).expect("a value lies inside its region"))
    }

    /// Sets the value.
    pub fn set(&self, value: T) {
        let (h, o) = self.at();
        wit::store(h, o, T::WIDTH, value.to_bits()).expect("a value lies inside its region");
    }

    /// The value's lock — `v.get_lock()`.
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// Replaces the value with `f(value)` under the lock; returns the new value.
    pub fn update(&self, f: impl FnOnce(T) -> T) -> T {
        let _guard = self.lock.acquire().unwrap_or_else(|e| e.into_guard().expect("untimed acquire"));
        let new = f(self.get());
        self.set(new);
        new
    }
}

/// A shared array of numbers with its lock — the host's `wasmproc::Array<T>`.
pub struct Array<T> {
    lock: Lock,
    len: usize,
    _t: PhantomData<T>,
}

impl<T> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array { lock: self.lock.clone(), len: self.len, _t: PhantomData }
    }
}

impl<T> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array").field("at", &self.lock.obj).field("len", &self.len).finish()
    }
}

impl<'de, T> Deserialize<'de> for Array<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (obj, len) = <(Obj, u64)>::deserialize(deserializer)?;
        Ok(Array { lock: Lock { obj }, len: len as usize, _t: PhantomData })
    }
}

impl<T> Serialize for Array<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (&self.lock.obj, self.len as u64).serialize(serializer)
    }
}

impl<T: Scalar> Array<T> {
    fn offset(&self, i: usize) -> u64 {
        self.lock.obj.offset + LOCK_SIZE + i as u64 * u64::from(T::WIDTH)
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no items.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Item `i`.
    pub fn get(&self, i: usize) -> Result<T, ShmError> {
        if i >= self.len {
            return Err(ShmError::OutOfBounds(format!("index {i} of an array of {}", self.len)));
        }
        wit::load(self.lock.obj.map.handle, self.offset(i), T::WIDTH).map(T::from_bits).map_err(from_wit)
    }

    /// Sets item `i`.
    pub fn set(&self, i: usize, value: T) -> Result<(), ShmError> {
        if i >= self.len {
            return Err(ShmError::OutOfBounds(format!("index {i} of an array of {}", self.len)));
        }
        wit::store(self.lock.obj.map.handle, self.offset(i), T::WIDTH, value.to_bits()).map_err(from_wit)
    }

    /// A copy of all items.
    pub fn to_vec(&self) -> Vec<T> {
        let w = usize::from(T::WIDTH);
        let bytes = wit::read(self.lock.obj.map.handle, self.offset(0), (self.len * w) as u64)
            .expect("the items lie inside their region");
        bytes
            .chunks_exact(w)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..w].copy_from_slice(c);
                T::from_bits(u64::from_le_bytes(b))
            })
            .collect()
    }

    /// Overwrites all items; `items` must have the array's length.
    pub fn copy_from_slice(&self, items: &[T]) -> Result<(), ShmError> {
        if items.len() != self.len {
            return Err(ShmError::OutOfBounds(format!("{} items for an array of {}", items.len(), self.len)));
        }
        let w = usize::from(T::WIDTH);
        let mut bytes = Vec::with_capacity(items.len() * w);
        for x in items {
            bytes.extend_from_slice(&x.to_bits().to_le_bytes()[..w]);
        }
        wit::write(self.lock.obj.map.handle, self.offset(0), &bytes).map_err(from_wit)
    }

    /// The array's lock.
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }
}
