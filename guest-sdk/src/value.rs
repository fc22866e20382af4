//! `Value<T>` and `Array<T>` inside a task: the host's shared numbers, each with its lock.

use crate::bindings::wasmproc::task::shm as wit;
use crate::locks::Lock;
use crate::region::{Obj, from_wit};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::marker::PhantomData;
use wasmproc_wire::handle::ArrayHandle;
use wasmproc_wire::layout::{self, VALUE_OFFSET};
use wasmproc_wire::scalar::{decode_items, encode_items};
use wasmproc_wire::{Scalar, ShmError};

/// A shared number with its lock — the host's `wasmproc::Value<T>`, passed as an argument.
///
/// ```no_run
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
        (self.lock.obj.map.handle, self.lock.obj.offset + VALUE_OFFSET)
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

    /// Adds `delta` under the lock, in one call to the host; returns the new value —
    /// `with v.get_lock(): v.value += delta`. Integers wrap at their width.
    pub fn add(&self, delta: T) -> T {
        let (h, o) = (self.lock.obj.map.handle, self.lock.obj.offset);
        let bits = crate::bindings::wasmproc::task::sync::value_add(h, o, T::TYPECODE as u8, delta.to_bits())
            .unwrap_or_else(|e| crate::locks::fatal(e));
        T::from_bits(bits)
    }

    /// Replaces the value with `f(value)` under the lock; returns the new value (for a plain
    /// `+=`, [`add`](Value::add) is one host call instead of four).
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

/// An array arrives as its `ArrayHandle`; its region is mapped on arrival.
impl<'de, T> Deserialize<'de> for Array<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let ArrayHandle { at, len } = ArrayHandle::deserialize(deserializer)?;
        let obj = Obj::attach(at).map_err(serde::de::Error::custom)?;
        Ok(Array { lock: Lock { obj }, len: len as usize, _t: PhantomData })
    }
}

impl<T> Serialize for Array<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ArrayHandle { at: self.lock.obj.handle(), len: self.len as u64 }.serialize(serializer)
    }
}

impl<T: Scalar> Array<T> {
    /// Where item `i` starts in the region; past the end is the same error the host gives.
    fn item(&self, i: usize) -> Result<u64, ShmError> {
        Ok(self.lock.obj.offset + layout::array_item(i as u64, self.len as u64, T::WIDTH)?)
    }

    fn items(&self) -> u64 {
        self.lock.obj.offset + layout::LOCK_SIZE
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
        wit::load(self.lock.obj.map.handle, self.item(i)?, T::WIDTH).map(T::from_bits).map_err(from_wit)
    }

    /// Sets item `i`.
    pub fn set(&self, i: usize, value: T) -> Result<(), ShmError> {
        wit::store(self.lock.obj.map.handle, self.item(i)?, T::WIDTH, value.to_bits()).map_err(from_wit)
    }

    /// A copy of all items.
    pub fn to_vec(&self) -> Vec<T> {
        let bytes = wit::read(self.lock.obj.map.handle, self.items(), self.len as u64 * u64::from(T::WIDTH))
            .expect("the items lie inside their region");
        decode_items(&bytes).expect("whole items")
    }

    /// Overwrites all items; `items` must have the array's length.
    pub fn copy_from_slice(&self, items: &[T]) -> Result<(), ShmError> {
        layout::check_array_len(items.len() as u64, self.len as u64, T::WIDTH)?;
        wit::write(self.lock.obj.map.handle, self.items(), &encode_items(items)).map_err(from_wit)
    }

    /// The array's lock.
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }
}
