//! `Manager`: Python's `multiprocessing.Manager()` dict, list and namespace, held by the host and
//! reached by guests through the broker (the `wasmproc:task/manager` interface).
//!
//! Keys, values and items are postcard bytes; the store compares keys by their bytes (so `K`
//! must encode equal keys identically, which every derived `Serialize` does). Writes from a
//! guest (`dict[k] = v`, `list.append(x)`) are sent without waiting, like unbounded queue puts:
//! batched, in order per task, and never lost silently (see `broker.rs`). Reads wait for their
//! answer.

use crate::broker::{BrokerReply, QueueFault, Served};
use crate::context::{Context, ContextInner};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};

/// An operation on a managed object; byte arguments ride in the frame's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ManagedOp {
    /// Payload: `[u32 key length][key][value]`. Sent without waiting.
    DictSet,
    DictGet,
    DictRemove,
    DictContains,
    DictLen,
    /// Answer: `[u32 len][key][u32 len][value]` per entry, in insertion order.
    DictItems,
    DictClear,
    /// Sent without waiting.
    ListAppend,
    ListGet {
        index: u64,
    },
    ListSet {
        index: u64,
    },
    ListPop,
    ListLen,
    /// Answer: `[u32 len][item]` per item.
    ListItems,
}

impl ManagedOp {
    /// Whether a worker sends this without waiting for an answer.
    pub(crate) fn is_sent(self) -> bool {
        matches!(self, ManagedOp::DictSet | ManagedOp::ListAppend)
    }
}

/// A dict keeps insertion order (as Python's does): each entry remembers when it was first set.
#[derive(Debug, Default)]
pub(crate) struct DictState {
    entries: HashMap<Vec<u8>, (u64, Vec<u8>)>,
    next: u64,
}

impl DictState {
    fn set(&mut self, key: Vec<u8>, value: Vec<u8>) -> Option<Vec<u8>> {
        match self.entries.get_mut(&key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.next += 1;
                self.entries.insert(key, (self.next, value));
                None
            }
        }
    }

    fn items(&self) -> Vec<(&Vec<u8>, &Vec<u8>)> {
        let mut all: Vec<_> = self.entries.iter().map(|(k, (at, v))| (*at, k, v)).collect();
        all.sort_unstable_by_key(|(at, _, _)| *at);
        all.into_iter().map(|(_, k, v)| (k, v)).collect()
    }
}

/// One managed object in the broker.
#[derive(Debug)]
pub(crate) enum Managed {
    Dict(Mutex<DictState>),
    List(Mutex<Vec<Vec<u8>>>),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn frame(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Splits `[u32 len][bytes]` off the front of `buf`.
pub(crate) fn unframe(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_le_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    let bytes = buf.get(4..4 + len)?;
    Some((bytes, &buf[4 + len..]))
}

impl Managed {
    fn dict(&self) -> Option<MutexGuard<'_, DictState>> {
        match self {
            Managed::Dict(d) => Some(lock(d)),
            Managed::List(_) => None,
        }
    }

    fn list(&self) -> Option<MutexGuard<'_, Vec<Vec<u8>>>> {
        match self {
            Managed::List(l) => Some(lock(l)),
            Managed::Dict(_) => None,
        }
    }

    /// The entries as `[u32 len][key][u32 len][value]…`, in insertion order.
    fn dict_items(&self) -> Option<Vec<u8>> {
        let d = self.dict()?;
        let mut out = Vec::new();
        for (k, v) in d.items() {
            frame(&mut out, k);
            frame(&mut out, v);
        }
        Some(out)
    }

    /// The items as `[u32 len][item]…`.
    fn list_items(&self) -> Option<Vec<u8>> {
        let l = self.list()?;
        let mut out = Vec::new();
        for item in l.iter() {
            frame(&mut out, item);
        }
        Some(out)
    }
}

/// Serves `op` on `obj` (a missing key or index is `Err(Empty)`; malformed payloads, or a dict
/// operation on a list, `Unknown`).
pub(crate) fn serve(obj: &Managed, op: ManagedOp, payload: Vec<u8>) -> Served {
    let ok = |item: Vec<u8>| Served::Reply(BrokerReply::Ok, item);
    let len = |n: usize| Served::Reply(BrokerReply::Len(n as u64), Vec::new());
    let missing = || Served::Reply(BrokerReply::Err(QueueFault::Empty), Vec::new());
    let bad = || Served::Reply(BrokerReply::Err(QueueFault::Unknown), Vec::new());
    let served = match op {
        ManagedOp::DictSet => unframe(&payload).and_then(|(key, value)| {
            obj.dict().map(|mut d| {
                d.set(key.to_vec(), value.to_vec());
                Served::Nothing
            })
        }),
        ManagedOp::DictGet => obj.dict().map(|d| d.entries.get(&payload).map_or_else(missing, |(_, v)| ok(v.clone()))),
        ManagedOp::DictRemove => {
            obj.dict().map(|mut d| d.entries.remove(&payload).map_or_else(missing, |(_, v)| ok(v)))
        }
        ManagedOp::DictContains => obj.dict().map(|d| len(usize::from(d.entries.contains_key(&payload)))),
        ManagedOp::DictLen => obj.dict().map(|d| len(d.entries.len())),
        ManagedOp::DictItems => obj.dict_items().map(ok),
        ManagedOp::DictClear => obj.dict().map(|mut d| {
            d.entries.clear();
            ok(Vec::new())
        }),
        ManagedOp::ListAppend => obj.list().map(|mut l| {
            l.push(payload);
            Served::Nothing
        }),
        ManagedOp::ListGet { index } => {
            obj.list().map(|l| l.get(index as usize).map_or_else(missing, |item| ok(item.clone())))
        }
        ManagedOp::ListSet { index } => obj.list().map(|mut l| match l.get_mut(index as usize) {
            Some(slot) => {
                *slot = payload;
                ok(Vec::new())
            }
            None => missing(),
        }),
        ManagedOp::ListPop => obj.list().map(|mut l| l.pop().map_or_else(missing, ok)),
        ManagedOp::ListLen => obj.list().map(|l| len(l.len())),
        ManagedOp::ListItems => obj.list_items().map(ok),
    };
    served.unwrap_or_else(bad)
}

/// Why a managed-object operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManagerError {
    /// A key, value or item could not be encoded.
    #[error("cannot encode: {0}")]
    Encode(String),
    /// Stored bytes did not decode as the requested type.
    #[error("stored value does not decode as the requested type: {0}")]
    Decode(String),
    /// `List::set` at an index past the end (Python's `IndexError`).
    #[error("index {index} is out of range for a list of {len}")]
    IndexOutOfRange {
        /// The index.
        index: usize,
        /// The list's length.
        len: usize,
    },
}

fn encode<T: Serialize + ?Sized>(x: &T) -> Result<Vec<u8>, ManagerError> {
    postcard::to_stdvec(x).map_err(|e| ManagerError::Encode(e.to_string()))
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ManagerError> {
    postcard::from_bytes(bytes).map_err(|e| ManagerError::Decode(e.to_string()))
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

    fn serialize_id<S: serde::Serializer>(self: &Arc<Self>, serializer: S) -> Result<S::Ok, S::Error> {
        crate::queue::keep_with_task(self.clone());
        serializer.serialize_u64(self.id)
    }
}

/// Python's `multiprocessing.Manager()`: makes dicts, lists and namespaces held by the host and
/// shared with any task they are passed to. (There is no manager process: the host is the
/// manager, and its objects die with it.)
///
/// ```
/// # fn main() -> wasmproc::Result<()> {
/// let ctx = wasmproc::Context::builder().cache_dir(std::env::temp_dir().join("wasmproc-doc-cache")).build()?;
/// let manager = wasmproc::Manager::new(&ctx);
/// let d = manager.dict::<u32, u32>();
/// d.insert(1, 10).unwrap();
/// assert_eq!(d.get(&1).unwrap(), Some(10));
/// let l = manager.list::<String>();
/// l.append("a".to_string()).unwrap();
/// assert_eq!(l.to_vec().unwrap(), vec!["a".to_string()]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Manager {
    ctx: Context,
}

impl Manager {
    /// A manager for objects shared with tasks of `ctx`.
    pub fn new(ctx: &Context) -> Manager {
        Manager { ctx: ctx.clone() }
    }

    /// An empty dict — `manager.dict()`.
    pub fn dict<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned>(&self) -> Dict<K, V> {
        Dict { handle: Handle::new(&self.ctx, Managed::Dict(Mutex::default())), _t: PhantomData }
    }

    /// An empty list — `manager.list()`.
    pub fn list<T: Serialize + DeserializeOwned>(&self) -> List<T> {
        List { handle: Handle::new(&self.ctx, Managed::List(Mutex::default())), _t: PhantomData }
    }

    /// An empty namespace — `manager.Namespace()`.
    pub fn namespace(&self) -> Namespace {
        Namespace { dict: self.dict() }
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
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.handle.serialize_id(serializer)
    }
}

impl<K: Serialize + DeserializeOwned, V: Serialize + DeserializeOwned> Dict<K, V> {
    /// Sets `key` to `value` — `d[key] = value`.
    pub fn insert(&self, key: K, value: V) -> Result<(), ManagerError> {
        let (k, v) = (encode(&key)?, encode(&value)?);
        self.handle.dict().set(k, v);
        Ok(())
    }

    /// The value of `key` — `d.get(key)`.
    pub fn get(&self, key: &K) -> Result<Option<V>, ManagerError> {
        let k = encode(key)?;
        self.handle.dict().entries.get(&k).map(|(_, v)| decode(v)).transpose()
    }

    /// Removes `key`, returning its value — `d.pop(key, None)`.
    pub fn remove(&self, key: &K) -> Result<Option<V>, ManagerError> {
        let k = encode(key)?;
        let removed = self.handle.dict().entries.remove(&k);
        removed.map(|(_, v)| decode(&v)).transpose()
    }

    /// Whether `key` is set — `key in d`.
    pub fn contains_key(&self, key: &K) -> Result<bool, ManagerError> {
        let k = encode(key)?;
        Ok(self.handle.dict().entries.contains_key(&k))
    }

    /// The number of entries — `len(d)`.
    pub fn len(&self) -> usize {
        self.handle.dict().entries.len()
    }

    /// Whether the dict is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry — `d.clear()`.
    pub fn clear(&self) {
        self.handle.dict().entries.clear();
    }

    /// A copy of the entries in insertion order — `d.items()`.
    pub fn items(&self) -> Result<Vec<(K, V)>, ManagerError> {
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
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.handle.serialize_id(serializer)
    }
}

impl<T: Serialize + DeserializeOwned> List<T> {
    /// Appends `item` — `l.append(item)`.
    pub fn append(&self, item: T) -> Result<(), ManagerError> {
        let item = encode(&item)?;
        self.handle.list().push(item);
        Ok(())
    }

    /// Item `index`, if there is one — `l[index]`.
    pub fn get(&self, index: usize) -> Result<Option<T>, ManagerError> {
        self.handle.list().get(index).map(|v| decode(v)).transpose()
    }

    /// Replaces item `index` — `l[index] = item`.
    pub fn set(&self, index: usize, item: T) -> Result<(), ManagerError> {
        let item = encode(&item)?;
        let mut l = self.handle.list();
        let len = l.len();
        let slot = l.get_mut(index).ok_or(ManagerError::IndexOutOfRange { index, len })?;
        *slot = item;
        Ok(())
    }

    /// Removes and returns the last item — `l.pop()`.
    pub fn pop(&self) -> Result<Option<T>, ManagerError> {
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
    pub fn to_vec(&self) -> Result<Vec<T>, ManagerError> {
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
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.dict.serialize(serializer)
    }
}

impl Namespace {
    /// Sets attribute `name` — `ns.name = value`.
    pub fn set<T: Serialize>(&self, name: &str, value: T) -> Result<(), ManagerError> {
        self.dict.insert(name.to_string(), serde_bytes::ByteBuf::from(encode(&value)?))
    }

    /// Attribute `name` as a `T`, if set — `ns.name`.
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ManagerError> {
        match self.dict.get(&name.to_string())? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dicts_keep_insertion_order_and_lists_index() {
        let d = Managed::Dict(Mutex::default());
        for (k, v) in [(b"b", b"2"), (b"a", b"1"), (b"b", b"3")] {
            let mut p = Vec::new();
            frame(&mut p, k);
            p.extend_from_slice(v);
            assert_eq!(serve(&d, ManagedOp::DictSet, p), Served::Nothing);
        }
        let Served::Reply(BrokerReply::Ok, items) = serve(&d, ManagedOp::DictItems, Vec::new()) else { panic!() };
        let (k1, rest) = unframe(&items).unwrap();
        let (v1, _) = unframe(rest).unwrap();
        assert_eq!((k1, v1), (&b"b"[..], &b"3"[..]), "first set first, with its latest value");
        assert_eq!(
            serve(&d, ManagedOp::DictGet, b"zz".to_vec()),
            Served::Reply(BrokerReply::Err(QueueFault::Empty), vec![])
        );
        let l = Managed::List(Mutex::default());
        assert_eq!(serve(&l, ManagedOp::ListAppend, b"x".to_vec()), Served::Nothing);
        assert_eq!(serve(&l, ManagedOp::ListGet { index: 0 }, vec![]), Served::Reply(BrokerReply::Ok, b"x".to_vec()));
        assert_eq!(
            serve(&l, ManagedOp::ListSet { index: 5 }, b"y".to_vec()),
            Served::Reply(BrokerReply::Err(QueueFault::Empty), vec![])
        );
        assert_eq!(serve(&l, ManagedOp::DictLen, vec![]), Served::Reply(BrokerReply::Err(QueueFault::Unknown), vec![]));
    }
}
