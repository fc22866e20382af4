//! The `wasmproc:task/manager` interface: requests to the host's broker (its managed objects),
//! writes sent without waiting, reads answered.

use super::super::GuestState;
use super::wasmproc::task::manager::{self, ManagerError};
use crate::ipc::protocol::{self, BrokerOp, BrokerReply, ManagedOp};
use wasmproc_wire::QueueFault;

impl GuestState {
    fn managed(&self, object: u64, op: ManagedOp, payload: &[&[u8]]) -> Result<(BrokerReply, Vec<u8>), ManagerError> {
        let client = self.client().map_err(|_| ManagerError::Gone)?;
        if op.is_sent() {
            // A send the host refuses fails this chunk (see broker.rs); nothing to answer here.
            let _ = client.send(BrokerOp::Managed { object, op }, payload);
            return Ok((BrokerReply::Ok, Vec::new()));
        }
        match client.call(BrokerOp::Managed { object, op }, payload) {
            (BrokerReply::Err(QueueFault::Empty), _) => Err(ManagerError::Missing),
            (BrokerReply::Err(_), _) => Err(ManagerError::Gone),
            answer => Ok(answer),
        }
    }

    fn bytes(&self, object: u64, op: ManagedOp, payload: &[&[u8]]) -> Result<Vec<u8>, ManagerError> {
        self.managed(object, op, payload).map(|(_, b)| b)
    }

    fn number(&self, object: u64, op: ManagedOp, payload: &[&[u8]]) -> Result<u64, ManagerError> {
        match self.managed(object, op, payload)? {
            (BrokerReply::Len(n), _) => Ok(n),
            _ => Err(ManagerError::Gone),
        }
    }
}

/// Splits a framed answer into its parts; a malformed one means the host is not ours.
fn parts(bytes: &[u8]) -> Result<Vec<Vec<u8>>, ManagerError> {
    let parts = protocol::parts(bytes).ok_or(ManagerError::Gone)?;
    Ok(parts.into_iter().map(<[u8]>::to_vec).collect())
}

impl manager::Host for GuestState {
    fn dict_set(&mut self, dict: u64, key: Vec<u8>, value: Vec<u8>) {
        let mut framed_key = Vec::with_capacity(4 + key.len());
        protocol::push_part(&mut framed_key, &key);
        let _ = self.managed(dict, ManagedOp::DictSet, &[&framed_key, &value]);
    }

    fn dict_get(&mut self, dict: u64, key: Vec<u8>) -> Result<Vec<u8>, ManagerError> {
        self.bytes(dict, ManagedOp::DictGet, &[&key])
    }

    fn dict_remove(&mut self, dict: u64, key: Vec<u8>) -> Result<Vec<u8>, ManagerError> {
        self.bytes(dict, ManagedOp::DictRemove, &[&key])
    }

    fn dict_contains(&mut self, dict: u64, key: Vec<u8>) -> Result<bool, ManagerError> {
        self.number(dict, ManagedOp::DictContains, &[&key]).map(|n| n != 0)
    }

    fn dict_len(&mut self, dict: u64) -> Result<u64, ManagerError> {
        self.number(dict, ManagedOp::DictLen, &[])
    }

    fn dict_items(&mut self, dict: u64) -> Result<Vec<(Vec<u8>, Vec<u8>)>, ManagerError> {
        let flat = parts(&self.bytes(dict, ManagedOp::DictItems, &[])?)?;
        let mut it = flat.into_iter();
        let mut out = Vec::new();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            out.push((k, v));
        }
        Ok(out)
    }

    fn dict_clear(&mut self, dict: u64) -> Result<(), ManagerError> {
        self.bytes(dict, ManagedOp::DictClear, &[]).map(|_| ())
    }

    fn list_append(&mut self, object: u64, item: Vec<u8>) {
        let _ = self.managed(object, ManagedOp::ListAppend, &[&item]);
    }

    fn list_get(&mut self, object: u64, index: u64) -> Result<Vec<u8>, ManagerError> {
        self.bytes(object, ManagedOp::ListGet { index }, &[])
    }

    fn list_set(&mut self, object: u64, index: u64, item: Vec<u8>) -> Result<(), ManagerError> {
        self.bytes(object, ManagedOp::ListSet { index }, &[&item]).map(|_| ())
    }

    fn list_pop(&mut self, object: u64) -> Result<Vec<u8>, ManagerError> {
        self.bytes(object, ManagedOp::ListPop, &[])
    }

    fn list_len(&mut self, object: u64) -> Result<u64, ManagerError> {
        self.number(object, ManagedOp::ListLen, &[])
    }

    fn list_items(&mut self, object: u64) -> Result<Vec<Vec<u8>>, ManagerError> {
        parts(&self.bytes(object, ManagedOp::ListItems, &[])?)
    }
}
