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

/// Serves `op` on `obj` (a missing key or index is `Err(Empty)`; malformed payloads `Unknown`).
pub(crate) fn serve(obj: &Managed, op: ManagedOp, payload: Vec<u8>) -> Served {
    let ok = |item: Vec<u8>| Served::Reply(BrokerReply::Ok, item);
    let len = |n: usize| Served::Reply(BrokerReply::Len(n as u64), Vec::new());
    let missing = || Served::Reply(BrokerReply::Err(QueueFault::Empty), Vec::new());
    let bad = || Served::Reply(BrokerReply::Err(QueueFault::Unknown), Vec::new());
    match (obj, op) {
        (Managed::Dict(d), ManagedOp::DictSet) => match unframe(&payload) {
            Some((key, value)) => {
                lock(d).set(key.to_vec(), value.to_vec());
                Served::Nothing
            }
            None => bad(),
        },
        (Managed::Dict(d), ManagedOp::DictGet) => {
            lock(d).entries.get(&payload).map_or_else(missing, |(_, v)| ok(v.clone()))
        }
        (Managed::Dict(d), ManagedOp::DictRemove) => {
            lock(d).entries.remove(&payload).map_or_else(missing, |(_, v)| ok(v))
        }
        (Managed::Dict(d), ManagedOp::DictContains) => len(usize::from(lock(d).entries.contains_key(&payload))),
        (Managed::Dict(d), ManagedOp::DictLen) => len(lock(d).entries.len()),
        (Managed::Dict(d), ManagedOp::DictItems) => {
            let mut out = Vec::new();
            for (k, v) in lock(d).items() {
                frame(&mut out, k);
                frame(&mut out, v);
            }
            ok(out)
        }
        (Managed::Dict(d), ManagedOp::DictClear) => {
            lock(d).entries.clear();
            ok(Vec::new())
        }
        (Managed::List(l), ManagedOp::ListAppend) => {
            lock(l).push(payload);
            Served::Nothing
        }
        (Managed::List(l), ManagedOp::ListGet { index }) => {
            lock(l).get(index as usize).map_or_else(missing, |item| ok(item.clone()))
        }
        (Managed::List(l), ManagedOp::ListSet { index }) => match lock(l).get_mut(index as usize) {
            Some(slot) => {
                *slot = payload;
                ok(Vec::new())
            }
            None => missing(),
        },
        (Managed::List(l), ManagedOp::ListPop) => lock(l).pop().map_or_else(missing, ok),
        (Managed::List(l), ManagedOp::ListLen) => len(lock(l).len()),
        (Managed::List(l), ManagedOp::ListItems) => {
            let mut out = Vec::new();
            for item in lock(l).iter() {
                frame(&mut out, item);
            }
            ok(out)
        }
        // A dict operation on a list or the other way round: the handle is not what it claims.
        _ => bad(),
    }
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

    fn serve(&self, op: ManagedOp, payload: Vec<u8>) -> Result<Vec<u8>, QueueFault> {
        match serve(&self.obj, op, payload) {
            Served::Reply(BrokerReply::Ok, item) => Ok(item),
            Served::Reply(BrokerReply::Len(n), _) => Ok(n.to_le_bytes().to_vec()),
            Served::Reply(BrokerReply::Err(f), _) => Err(f),
            _ => Ok(Vec::new()),
        }
    }

    fn count(&self, op: ManagedOp, payload: Vec<u8>) -> u64 {
        self.serve(op, payload).ok().and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes)
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
        let mut payload = Vec::with_capacity(4 + k.len() + v.len());
        frame(&mut payload, &k);
        payload.extend_from_slice(&v);
        let _ = self.handle.serve(ManagedOp::DictSet, payload);
        Ok(())
    }

    /// The value of `key` — `d.get(key)`.
    pub fn get(&self, key: &K) -> Result<Option<V>, ManagerError> {
        match self.handle.serve(ManagedOp::DictGet, encode(key)?) {
            Ok(v) => decode(&v).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Removes `key`, returning its value — `d.pop(key, None)`.
    pub fn remove(&self, key: &K) -> Result<Option<V>, ManagerError> {
        match self.handle.serve(ManagedOp::DictRemove, encode(key)?) {
            Ok(v) => decode(&v).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Whether `key` is set — `key in d`.
    pub fn contains_key(&self, key: &K) -> Result<bool, ManagerError> {
        Ok(self.handle.count(ManagedOp::DictContains, encode(key)?) != 0)
    }

    /// The number of entries — `len(d)`.
    pub fn len(&self) -> usize {
        self.handle.count(ManagedOp::DictLen, Vec::new()) as usize
    }

    /// Whether the dict is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry — `d.clear()`.
    pub fn clear(&self) {
        let _ = self.handle.serve(ManagedOp::DictClear, Vec::new());
    }

    /// A copy of the entries in insertion order — `d.items()`.
    pub fn items(&self) -> Result<Vec<(K, V)>, ManagerError> {
        let bytes = self.handle.serve(ManagedOp::DictItems, Vec::new()).unwrap_or_default();
        let mut rest = &bytes[..];
        let mut out = Vec::new();
        while let Some((k, after)) = unframe(rest) {
            let (v, after) = unframe(after).ok_or_else(|| ManagerError::Decode("truncated entry".into()))?;
            out.push((decode(k)?, decode(v)?));
            rest = after;
        }
        Ok(out)
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
        let _ = self.handle.serve(ManagedOp::ListAppend, encode(&item)?);
        Ok(())
    }

    /// Item `index`, if there is one — `l[index]`.
    pub fn get(&self, index: usize) -> Result<Option<T>, ManagerError> {
        match self.handle.serve(ManagedOp::ListGet { index: index as u64 }, Vec::new()) {
            Ok(v) => decode(&v).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Replaces item `index` — `l[index] = item`.
    pub fn set(&self, index: usize, item: T) -> Result<(), ManagerError> {
        match self.handle.serve(ManagedOp::ListSet { index: index as u64 }, encode(&item)?) {
            Ok(_) => Ok(()),
            Err(_) => Err(ManagerError::IndexOutOfRange { index, len: self.len() }),
        }
    }

    /// Removes and returns the last item — `l.pop()`.
    pub fn pop(&self) -> Result<Option<T>, ManagerError> {
        match self.handle.serve(ManagedOp::ListPop, Vec::new()) {
            Ok(v) => decode(&v).map(Some),
            Err(_) => Ok(None),
        }
    }

    /// The number of items — `len(l)`.
    pub fn len(&self) -> usize {
        self.handle.count(ManagedOp::ListLen, Vec::new()) as usize
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the items — `list(l)`.
    pub fn to_vec(&self) -> Result<Vec<T>, ManagerError> {
        let bytes = self.handle.serve(ManagedOp::ListItems, Vec::new()).unwrap_or_default();
        let mut rest = &bytes[..];
        let mut out = Vec::new();
        while let Some((item, after)) = unframe(rest) {
            out.push(decode(item)?);
            rest = after;
        }
        Ok(out)
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
