//! `Manager`: Python's `multiprocessing.Manager()` dict, list and namespace, held by the host and
//! reached by guests through the broker (the `wasmproc:task/manager` interface; the store is
//! `broker::managed`).
//!
//! Writes from a guest (`dict[k] = v`, `list.append(x)`) are sent without waiting, like unbounded
//! queue puts: batched, in order per task, and never lost silently. Reads wait for their answer.

use crate::broker::managed::{DictState, Managed};
use crate::context::{Context, ContextInner};
use crate::error::Result;
use crate::keep;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};
use wasmproc_wire::ManagerError;
use wasmproc_wire::codec;
use wasmproc_wire::handle::ManagedHandle;

fn encode<T: Serialize + ?Sized>(x: &T) -> std::result::Result<Vec<u8>, ManagerError> {
    codec::to_item(x).map_err(|e| ManagerError::Encode(e.to_string()))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> std::result::Result<T, ManagerError> {
    codec::from_item(bytes).map_err(|e| ManagerError::Decode(e.to_string()))
}

/// The host's handle on one managed object; the object lives while a handle or a task holds it.
struct Handle {
    id: u64,
    obj: Arc<Managed>,
    ctx: Arc<ContextInner>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.ctx.broker.remove_managed(self.id);
    }
}

impl Handle {
    fn new(ctx: &Context, obj: Managed) -> Arc<Handle> {
        let obj = Arc::new(obj);
        let id = ctx.inner.broker.add_managed(obj.clone());
        Arc::new(Handle { id, obj, ctx: ctx.inner.clone() })
    }

    fn dict(&self) -> MutexGuard<'_, DictState> {
        self.obj.dict().expect("a Dict handle holds a dict")
    }

    fn list(&self) -> MutexGuard<'_, Vec<Vec<u8>>> {
        self.obj.list().expect("a List handle holds a list")
    }

    fn serialize_id<S: serde::Serializer>(self: &Arc<Self>, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        keep::with_call(self.clone());
        ManagedHandle(self.id).serialize(serializer)
    }
}

/// Python's `multiprocessing.Manager()`: makes dicts, lists and namespaces held by the host and
/// shared with any task they are passed to. (There is no manager process: the host is the
/// manager, and its objects die with it.)
///
/// ```
/// # fn main() -> wasmproc::Result<()> {
/// let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
/// let manager = wasmproc::Manager::new(&ctx)?;
/// let d = manager.dict::<u32, u32>()?;
/// d.insert(1, 10)?;
/// assert_eq!(d.get(&1)?, Some(10));
/// let l = manager.list::<String>()?;
/// l.append("a".to_string())?;
/// assert_eq!(l.to_vec()?, vec!["a".to_string()]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Manager {
    ctx: Context,
}

impl Manager {
    /// A manager for objects shared with tasks of `ctx` — `ctx.Manager()`.
    pub fn new(ctx: &Context) -> Result<Manager> {
        Ok(Manager { ctx: ctx.clone() })
    }

    /// An empty dict — `manager.dict()`.
    pub fn dict<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned>(&self) -> Result<Dict<K, V>> {
        Ok(Dict { handle: Handle::new(&self.ctx, Managed::Dict(Mutex::default())), _t: PhantomData })
    }

    /// An empty list — `manager.list()`.
    pub fn list<T: Serialize + DeserializeOwned>(&self) -> Result<List<T>> {
        Ok(List { handle: Handle::new(&self.ctx, Managed::List(Mutex::default())), _t: PhantomData })
    }

    /// An empty namespace — `manager.Namespace()`.
    pub fn namespace(&self) -> Result<Namespace> {
        Ok(Namespace { dict: self.dict()? })
    }
}

/// A dict held by the host — `manager.dict()`. Pass it to tasks (`wasmproc_guest::Dict<K, V>`);
/// entries come back in insertion order.
pub struct Dict<K, V> {
    handle: Arc<Handle>,
    _t: Types<K, V>,
}

/// Invariant in `K` and `V`, and `Send + Sync` whatever they are (no `K` or `V` is stored).
type Types<K, V> = PhantomData<fn(K, V) -> (K, V)>;

impl<K, V> Clone for Dict<K, V> {
    fn clone(&self) -> Self {
        Dict { handle: self.handle.clone(), _t: PhantomData }
    }
}

impl<K, V> fmt::Debug for Dict<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dict").field("id", &self.handle.id).finish()
    }
}

impl<K, V> Serialize for Dict<K, V> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.handle.serialize_id(serializer)
    }
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> Dict<K, V> {
    /// Sets `key` to `value` — `d[key] = value`.
    pub fn insert(&self, key: K, value: V) -> std::result::Result<(), ManagerError> {
        let (k, v) = (encode(&key)?, encode(&value)?);
        self.handle.dict().set(k, v);
        Ok(())
    }

    /// The value of `key` — `d.get(key)`.
    pub fn get(&self, key: &K) -> std::result::Result<Option<V>, ManagerError> {
        let k = encode(key)?;
        self.handle.dict().get(&k).map(|v| decode(v)).transpose()
    }

    /// Removes `key`, returning its value — `d.pop(key, None)`.
    pub fn remove(&self, key: &K) -> std::result::Result<Option<V>, ManagerError> {
        let k = encode(key)?;
        let removed = self.handle.dict().remove(&k);
        removed.map(|v| decode(&v)).transpose()
    }

    /// Whether `key` is set — `key in d`.
    pub fn contains_key(&self, key: &K) -> std::result::Result<bool, ManagerError> {
        let k = encode(key)?;
        Ok(self.handle.dict().contains(&k))
    }

    /// The number of entries — `len(d)`.
    pub fn len(&self) -> usize {
        self.handle.dict().len()
    }

    /// Whether the dict is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry — `d.clear()`.
    pub fn clear(&self) {
        self.handle.dict().clear();
    }

    /// A copy of the entries in insertion order — `d.items()`.
    pub fn items(&self) -> std::result::Result<Vec<(K, V)>, ManagerError> {
        self.handle.dict().items().into_iter().map(|(k, v)| Ok((decode(k)?, decode(v)?))).collect()
    }
}

/// A list held by the host — `manager.list()`. Pass it to tasks (`wasmproc_guest::List<T>`).
pub struct List<T> {
    handle: Arc<Handle>,
    _t: PhantomData<fn(T) -> T>,
}

impl<T> Clone for List<T> {
    fn clone(&self) -> Self {
        List { handle: self.handle.clone(), _t: PhantomData }
    }
}

impl<T> fmt::Debug for List<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("List").field("id", &self.handle.id).finish()
    }
}

impl<T> Serialize for List<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.handle.serialize_id(serializer)
    }
}

impl<T: Serialize + DeserializeOwned> List<T> {
    /// Appends `item` — `l.append(item)`.
    pub fn append(&self, item: T) -> std::result::Result<(), ManagerError> {
        let item = encode(&item)?;
        self.handle.list().push(item);
        Ok(())
    }

    /// Item `index`, if there is one — `l[index]`.
    pub fn get(&self, index: usize) -> std::result::Result<Option<T>, ManagerError> {
        self.handle.list().get(index).map(|v| decode(v)).transpose()
    }

    /// Replaces item `index` — `l[index] = item`.
    pub fn set(&self, index: usize, item: T) -> std::result::Result<(), ManagerError> {
        let item = encode(&item)?;
        let mut l = self.handle.list();
        let len = l.len();
        let slot = l.get_mut(index).ok_or(ManagerError::IndexOutOfRange { index, len })?;
        *slot = item;
        Ok(())
    }

    /// Removes and returns the last item — `l.pop()`.
    pub fn pop(&self) -> std::result::Result<Option<T>, ManagerError> {
        let popped = self.handle.list().pop();
        popped.map(|v| decode(&v)).transpose()
    }

    /// The number of items — `len(l)`.
    pub fn len(&self) -> usize {
        self.handle.list().len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the items — `list(l)`.
    pub fn to_vec(&self) -> std::result::Result<Vec<T>, ManagerError> {
        self.handle.list().iter().map(|v| decode(v)).collect()
    }
}

/// A bag of named values of any serde types — `manager.Namespace()` (`ns.x = 1` is
/// `ns.set("x", 1)`). Pass it to tasks (`wasmproc_guest::Namespace`).
#[derive(Clone, Debug)]
pub struct Namespace {
    dict: Dict<String, serde_bytes::ByteBuf>,
}

impl Serialize for Namespace {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        self.dict.serialize(serializer)
    }
}

impl Namespace {
    /// Sets attribute `name` — `ns.name = value`.
    pub fn set<T: Serialize>(&self, name: &str, value: T) -> std::result::Result<(), ManagerError> {
        self.dict.insert(name.to_string(), serde_bytes::ByteBuf::from(encode(&value)?))
    }

    /// Attribute `name` as a `T`, if set — `ns.name`.
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> std::result::Result<Option<T>, ManagerError> {
        match self.dict.get(&name.to_string())? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }
}
