//! `Value<T>` and `Array<T>`: Python's `multiprocessing.Value` / `Array` for plain numbers.
//!
//! Layout in the region: an 8-byte lock at the start, then the value (or the items, packed, little
//! endian). Each `get`/`set` of one number is a single atomic access, so no read ever sees half a
//! write; read-modify-write sequences (`+= 1`) need the lock, as in Python.

use super::locks::{Lock, Obj};
use super::memory::anonymous;
use crate::context::Context;
use crate::error::Result;
use serde::{Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;
use wasmproc_wire::handle::ArrayHandle;
use wasmproc_wire::layout::{self, VALUE_OFFSET, VALUE_SIZE};
use wasmproc_wire::scalar::{decode_items, encode_items};
use wasmproc_wire::{Scalar, ShmError};

/// One shared number with a lock — `multiprocessing.Value(typecode, value)`.
///
/// Pass it to tasks (`wasmproc_guest::Value<T>` there). `get`/`set` are atomic on their own;
/// hold [`get_lock`](Value::get_lock) around a read-modify-write, or use [`add`](Value::add) or
/// [`update`](Value::update), which do.
///
/// ```
/// # fn main() -> wasmproc::Result<()> {
/// # let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
/// let num = wasmproc::Value::new(&ctx, 3.1415926_f64)?;
/// num.set(-num.get());
/// assert_eq!(num.get(), -3.1415926);
/// let counter = wasmproc::Value::new(&ctx, 0_i32)?;
/// counter.update(|x| x + 1);
/// assert_eq!(counter.add(2), 3); // `with counter.get_lock(): counter.value += 2`
/// assert_eq!(counter.get(), 3);
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
    /// A shared `value` with its own lock — `ctx.Value(typecode, value)`.
    pub fn new(ctx: &Context, value: T) -> Result<Value<T>> {
        let _ = ctx; // made with its context, like every shared object (see `SharedMemory`)
        let obj = Obj { region: anonymous(VALUE_SIZE as usize)?, offset: 0 };
        let v = Value { lock: Lock::at(obj.clone()), obj, _t: PhantomData };
        v.set(value);
        Ok(v)
    }

    /// The value now — `v.value`.
    pub fn get(&self) -> T {
        let at = self.obj.offset + VALUE_OFFSET;
        T::from_bits(self.obj.region.load(at, T::WIDTH.into()).expect("a value lies inside its region"))
    }

    /// Sets the value — `v.value = x`.
    pub fn set(&self, value: T) {
        let at = self.obj.offset + VALUE_OFFSET;
        self.obj.region.store(at, T::WIDTH.into(), value.to_bits()).expect("a value lies inside its region");
    }

    /// The value's lock — `v.get_lock()`.
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// Adds `delta` under the lock; returns the new value — `with v.get_lock(): v.value += delta`.
    /// Integers wrap at their width. (Tasks have the same method, which is one host call.)
    pub fn add(&self, delta: T) -> T {
        self.update(|x| x.add_wrapping(delta))
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
/// # let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
/// let arr = wasmproc::Array::new(&ctx, &[1_i32, 2, 3])?;
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

/// Sent to tasks as its `wasmproc_wire::handle::ArrayHandle`.
impl<T> Serialize for Array<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        ArrayHandle { at: self.obj.handle_for_call(), len: self.len as u64 }.serialize(serializer)
    }
}

impl<T: Scalar> Array<T> {
    /// An array of `len` zeros — `ctx.Array(typecode, len)`.
    pub fn zeroed(ctx: &Context, len: usize) -> Result<Array<T>> {
        let _ = ctx; // made with its context, like every shared object (see `SharedMemory`)
        let obj = Obj { region: anonymous(layout::array_size(len as u64, T::WIDTH) as usize)?, offset: 0 };
        Ok(Array { lock: Lock::at(obj.clone()), obj, len, _t: PhantomData })
    }

    /// An array holding a copy of `items` — `ctx.Array(typecode, items)`.
    pub fn new(ctx: &Context, items: &[T]) -> Result<Array<T>> {
        let a = Self::zeroed(ctx, items.len())?;
        a.copy_from_slice(items)?;
        Ok(a)
    }

    fn item(&self, i: usize) -> Result<u64, ShmError> {
        Ok(self.obj.offset + layout::array_item(i as u64, self.len as u64, T::WIDTH)?)
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
        Ok(T::from_bits(self.obj.region.load(self.item(i)?, T::WIDTH.into())?))
    }

    /// Sets item `i` — `arr[i] = x`.
    pub fn set(&self, i: usize, value: T) -> Result<(), ShmError> {
        self.obj.region.store(self.item(i)?, T::WIDTH.into(), value.to_bits())
    }

    /// A copy of all items — `arr[:]`.
    pub fn to_vec(&self) -> Vec<T> {
        let mut bytes = vec![0u8; self.len * usize::from(T::WIDTH)];
        self.obj
            .region
            .read(self.obj.offset + layout::LOCK_SIZE, &mut bytes)
            .expect("the items lie inside their region");
        decode_items(&bytes).expect("whole items")
    }

    /// Overwrites all items — `arr[:] = items`; `items` must have the array's length.
    pub fn copy_from_slice(&self, items: &[T]) -> Result<(), ShmError> {
        layout::check_array_len(items.len() as u64, self.len as u64, T::WIDTH)?;
        self.obj.region.write(self.obj.offset + layout::LOCK_SIZE, &encode_items(items))
    }

    /// The array's lock — `arr.get_lock()`.
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }
}
