//! `Dict`, `List` and `Namespace` inside a task: the host's managed objects
//! (`wasmproc::Manager`), passed as arguments and reached through the host.

use crate::bindings::wasmproc::task::manager as wit;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::marker::PhantomData;
use wasmproc_wire::ManagerError;
use wasmproc_wire::codec;
use wasmproc_wire::handle::ManagedHandle;

fn encode<T: Serialize + ?Sized>(x: &T) -> Result<Vec<u8>, ManagerError> {
    codec::to_item(x).map_err(|e| ManagerError::Encode(e.to_string()))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ManagerError> {
    codec::from_item(bytes).map_err(|e| ManagerError::Decode(e.to_string()))
}

/// A missing key/index is `None`; a gone object an error.
fn optional(r: Result<Vec<u8>, wit::ManagerError>) -> Result<Option<Vec<u8>>, ManagerError> {
    match r {
        Ok(b) => Ok(Some(b)),
        Err(wit::ManagerError::Missing) => Ok(None),
        Err(wit::ManagerError::Gone) => Err(ManagerError::Gone),
    }
}

fn gone(_: wit::ManagerError) -> ManagerError {
    ManagerError::Gone
}

/// The host's `manager.dict()`, passed as an argument.
///
/// ```no_run
/// #[wasmproc_guest::task]
/// fn record(d: wasmproc_guest::Dict<u32, u32>, l: wasmproc_guest::List<u32>, id: u32) {
///     d.insert(id, id * 10).unwrap();
///     l.append(id).unwrap();
/// }
/// ```
pub struct Dict<K, V> {
    id: u64,
    _t: Types<K, V>,
}

/// Invariant in `K` and `V`, and `Send + Sync` whatever they are (no `K` or `V` is stored).
type Types<K, V> = PhantomData<fn(K, V) -> (K, V)>;

impl<K, V> Clone for Dict<K, V> {
    fn clone(&self) -> Self {
        Dict { id: self.id, _t: PhantomData }
    }
}

impl<K, V> fmt::Debug for Dict<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dict").field("id", &self.id).finish()
    }
}

impl<'de, K, V> Deserialize<'de> for Dict<K, V> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Dict { id: ManagedHandle::deserialize(deserializer)?.0, _t: PhantomData })
    }
}

impl<K, V> Serialize for Dict<K, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ManagedHandle(self.id).serialize(serializer)
    }
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> Dict<K, V> {
    /// Sets `key` to `value` (sent without waiting; in order with this task's other writes).
    pub fn insert(&self, key: K, value: V) -> Result<(), ManagerError> {
        wit::dict_set(self.id, &encode(&key)?, &encode(&value)?);
        Ok(())
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &K) -> Result<Option<V>, ManagerError> {
        optional(wit::dict_get(self.id, &encode(key)?))?.map(|b| decode(&b)).transpose()
    }

    /// Removes `key`, returning its value.
    pub fn remove(&self, key: &K) -> Result<Option<V>, ManagerError> {
        optional(wit::dict_remove(self.id, &encode(key)?))?.map(|b| decode(&b)).transpose()
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &K) -> Result<bool, ManagerError> {
        wit::dict_contains(self.id, &encode(key)?).map_err(gone)
    }

    /// The number of entries.
    pub fn len(&self) -> Result<usize, ManagerError> {
        wit::dict_len(self.id).map(|n| n as usize).map_err(gone)
    }

    /// Whether the dict is empty.
    pub fn is_empty(&self) -> Result<bool, ManagerError> {
        self.len().map(|n| n == 0)
    }

    /// Removes every entry.
    pub fn clear(&self) -> Result<(), ManagerError> {
        wit::dict_clear(self.id).map_err(gone)
    }

    /// A copy of the entries, in insertion order.
    pub fn items(&self) -> Result<Vec<(K, V)>, ManagerError> {
        wit::dict_items(self.id).map_err(gone)?.into_iter().map(|(k, v)| Ok((decode(&k)?, decode(&v)?))).collect()
    }
}

/// The host's `manager.list()`, passed as an argument.
pub struct List<T> {
    id: u64,
    _t: PhantomData<fn(T) -> T>,
}

impl<T> Clone for List<T> {
    fn clone(&self) -> Self {
        List { id: self.id, _t: PhantomData }
    }
}

impl<T> fmt::Debug for List<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("List").field("id", &self.id).finish()
    }
}

impl<'de, T> Deserialize<'de> for List<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(List { id: ManagedHandle::deserialize(deserializer)?.0, _t: PhantomData })
    }
}

impl<T> Serialize for List<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ManagedHandle(self.id).serialize(serializer)
    }
}

impl<T: Serialize + DeserializeOwned> List<T> {
    /// Appends `item` (sent without waiting; in order with this task's other writes).
    pub fn append(&self, item: T) -> Result<(), ManagerError> {
        wit::list_append(self.id, &encode(&item)?);
        Ok(())
    }

    /// Item `index`, if there is one.
    pub fn get(&self, index: usize) -> Result<Option<T>, ManagerError> {
        optional(wit::list_get(self.id, index as u64))?.map(|b| decode(&b)).transpose()
    }

    /// Replaces item `index`.
    pub fn set(&self, index: usize, item: T) -> Result<(), ManagerError> {
        match wit::list_set(self.id, index as u64, &encode(&item)?) {
            Ok(()) => Ok(()),
            Err(wit::ManagerError::Missing) => Err(ManagerError::IndexOutOfRange { index, len: self.len()? }),
            Err(wit::ManagerError::Gone) => Err(ManagerError::Gone),
        }
    }

    /// Removes and returns the last item.
    pub fn pop(&self) -> Result<Option<T>, ManagerError> {
        optional(wit::list_pop(self.id))?.map(|b| decode(&b)).transpose()
    }

    /// The number of items.
    pub fn len(&self) -> Result<usize, ManagerError> {
        wit::list_len(self.id).map(|n| n as usize).map_err(gone)
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> Result<bool, ManagerError> {
        self.len().map(|n| n == 0)
    }

    /// A copy of the items.
    pub fn to_vec(&self) -> Result<Vec<T>, ManagerError> {
        wit::list_items(self.id).map_err(gone)?.iter().map(|b| decode(b)).collect()
    }
}

/// The host's `manager.namespace()`: named values of any serde types.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Namespace {
    dict: Dict<String, wasmproc_wire::ByteBuf>,
}

impl Namespace {
    /// Sets attribute `name`.
    pub fn set<T: Serialize>(&self, name: &str, value: T) -> Result<(), ManagerError> {
        self.dict.insert(name.to_string(), wasmproc_wire::ByteBuf::from(encode(&value)?))
    }

    /// Attribute `name` as a `T`, if set.
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ManagerError> {
        self.dict.get(&name.to_string())?.map(|b| decode(&b)).transpose()
    }
}
