//! Managed objects: the dicts and lists `Manager` makes, held by the host and served to workers.
//!
//! Keys, values and items are postcard bytes; keys compare by their bytes (so equal keys must
//! encode identically, which every derived `Serialize` does). A dict keeps insertion order, as
//! Python's does.

use super::peer::Served;
use crate::ipc::protocol::{BrokerReply, ManagedOp, push_part, split_part};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use wasmproc_wire::QueueFault;

/// A dict: each entry remembers when it was first set, for insertion order.
#[derive(Debug, Default)]
pub(crate) struct DictState {
    entries: HashMap<Vec<u8>, (u64, Vec<u8>)>,
    next: u64,
}

impl DictState {
    /// Sets `key`; returns the value it replaced.
    pub(crate) fn set(&mut self, key: Vec<u8>, value: Vec<u8>) -> Option<Vec<u8>> {
        match self.entries.get_mut(&key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.next += 1;
                self.entries.insert(key, (self.next, value));
                None
            }
        }
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<&Vec<u8>> {
        self.entries.get(key).map(|(_, v)| v)
    }

    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        self.entries.remove(key).map(|(_, v)| v)
    }

    pub(crate) fn contains(&self, key: &[u8]) -> bool {
        self.entries.contains_key(key)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// The entries in insertion order.
    pub(crate) fn items(&self) -> Vec<(&Vec<u8>, &Vec<u8>)> {
        let mut all: Vec<_> = self.entries.iter().map(|(k, (at, v))| (*at, k, v)).collect();
        all.sort_unstable_by_key(|(at, _, _)| *at);
        all.into_iter().map(|(_, k, v)| (k, v)).collect()
    }
}

/// One managed object.
#[derive(Debug)]
pub(crate) enum Managed {
    Dict(Mutex<DictState>),
    List(Mutex<Vec<Vec<u8>>>),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Managed {
    /// The dict, if this is one.
    pub(crate) fn dict(&self) -> Option<MutexGuard<'_, DictState>> {
        match self {
            Managed::Dict(d) => Some(lock(d)),
            Managed::List(_) => None,
        }
    }

    /// The list, if this is one.
    pub(crate) fn list(&self) -> Option<MutexGuard<'_, Vec<Vec<u8>>>> {
        match self {
            Managed::List(l) => Some(lock(l)),
            Managed::Dict(_) => None,
        }
    }

    /// Serves `op` (a missing key or index is `Err(Empty)`; a malformed payload, or a dict
    /// operation on a list, `Err(Unknown)`).
    pub(crate) fn serve(&self, op: ManagedOp, payload: Vec<u8>) -> Served {
        let ok = |item: Vec<u8>| Served::Reply(BrokerReply::Ok, item);
        let len = |n: usize| Served::reply(BrokerReply::Len(n as u64));
        let missing = || Served::reply(BrokerReply::Err(QueueFault::Empty));
        let served = match op {
            ManagedOp::DictSet => split_part(&payload).and_then(|(key, value)| {
                self.dict().map(|mut d| {
                    d.set(key.to_vec(), value.to_vec());
                    Served::Nothing
                })
            }),
            ManagedOp::DictGet => self.dict().map(|d| d.get(&payload).map_or_else(missing, |v| ok(v.clone()))),
            ManagedOp::DictRemove => self.dict().map(|mut d| d.remove(&payload).map_or_else(missing, ok)),
            ManagedOp::DictContains => self.dict().map(|d| len(usize::from(d.contains(&payload)))),
            ManagedOp::DictLen => self.dict().map(|d| len(d.len())),
            ManagedOp::DictItems => self.dict().map(|d| {
                let mut out = Vec::new();
                for (k, v) in d.items() {
                    push_part(&mut out, k);
                    push_part(&mut out, v);
                }
                ok(out)
            }),
            ManagedOp::DictClear => self.dict().map(|mut d| {
                d.clear();
                ok(Vec::new())
            }),
            ManagedOp::ListAppend => self.list().map(|mut l| {
                l.push(payload);
                Served::Nothing
            }),
            ManagedOp::ListGet { index } => {
                self.list().map(|l| l.get(index as usize).map_or_else(missing, |item| ok(item.clone())))
            }
            ManagedOp::ListSet { index } => self.list().map(|mut l| match l.get_mut(index as usize) {
                Some(slot) => {
                    *slot = payload;
                    ok(Vec::new())
                }
                None => missing(),
            }),
            ManagedOp::ListPop => self.list().map(|mut l| l.pop().map_or_else(missing, ok)),
            ManagedOp::ListLen => self.list().map(|l| len(l.len())),
            ManagedOp::ListItems => self.list().map(|l| {
                let mut out = Vec::new();
                for item in l.iter() {
                    push_part(&mut out, item);
                }
                ok(out)
            }),
        };
        served.unwrap_or_else(|| Served::reply(BrokerReply::Err(QueueFault::Unknown)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::protocol::parts;

    #[test]
    fn dicts_keep_insertion_order_and_lists_index() {
        let d = Managed::Dict(Mutex::default());
        for (k, v) in [(b"b", b"2"), (b"a", b"1"), (b"b", b"3")] {
            let mut p = Vec::new();
            push_part(&mut p, k);
            p.extend_from_slice(v);
            assert_eq!(d.serve(ManagedOp::DictSet, p), Served::Nothing);
        }
        let Served::Reply(BrokerReply::Ok, items) = d.serve(ManagedOp::DictItems, Vec::new()) else { panic!() };
        let items = parts(&items).unwrap();
        assert_eq!((items[0], items[1]), (&b"b"[..], &b"3"[..]), "first set first, with its latest value");
        assert_eq!(d.serve(ManagedOp::DictGet, b"zz".to_vec()), Served::reply(BrokerReply::Err(QueueFault::Empty)));
        let l = Managed::List(Mutex::default());
        assert_eq!(l.serve(ManagedOp::ListAppend, b"x".to_vec()), Served::Nothing);
        assert_eq!(l.serve(ManagedOp::ListGet { index: 0 }, vec![]), Served::Reply(BrokerReply::Ok, b"x".to_vec()));
        assert_eq!(
            l.serve(ManagedOp::ListSet { index: 5 }, b"y".to_vec()),
            Served::reply(BrokerReply::Err(QueueFault::Empty))
        );
        assert_eq!(l.serve(ManagedOp::DictLen, vec![]), Served::reply(BrokerReply::Err(QueueFault::Unknown)));
        assert_eq!(d.serve(ManagedOp::DictSet, vec![9]), Served::reply(BrokerReply::Err(QueueFault::Unknown)));
    }
}
