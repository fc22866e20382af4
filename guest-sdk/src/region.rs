//! A shared region as a task reaches it: mapped into its worker by name once, then used by number.

use crate::bindings::wasmproc::task::shm as wit;
use serde::{Deserialize, Serialize};
use wasmproc_wire::ShmError;
use wasmproc_wire::handle::{ObjectHandle, RegionHandle};

/// The wire error of a WIT shared-memory error.
pub(crate) fn from_wit(e: wit::ShmError) -> ShmError {
    match e {
        wit::ShmError::Unknown(m) => ShmError::Unknown(m),
        wit::ShmError::OutOfBounds(b) => ShmError::OutOfBounds { offset: b.offset, len: b.len, size: b.size },
        wit::ShmError::Misaligned(a) => ShmError::Misaligned { offset: a.offset, width: a.width },
    }
}

/// A mapped region: its name (to pass it on) and its number in this worker.
#[derive(Clone, Debug)]
pub(crate) struct Mapped {
    pub(crate) name: String,
    pub(crate) handle: u32,
}

impl Mapped {
    fn attach(name: String) -> Result<Mapped, ShmError> {
        let handle = wit::attach(&name).map_err(from_wit)?;
        Ok(Mapped { name, handle })
    }
}

/// A region arrives as its handle and is mapped on arrival.
impl<'de> Deserialize<'de> for Mapped {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let RegionHandle(name) = RegionHandle::deserialize(deserializer)?;
        Mapped::attach(name).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Mapped {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RegionHandle(self.name.clone()).serialize(serializer)
    }
}

/// Where an object lives: a mapped region and an offset.
#[derive(Clone)]
pub(crate) struct Obj {
    pub(crate) map: Mapped,
    pub(crate) offset: u64,
}

impl std::fmt::Debug for Obj {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}+{}", self.map.name, self.offset)
    }
}

impl Obj {
    /// The object a handle names, its region mapped.
    pub(crate) fn attach(handle: ObjectHandle) -> Result<Obj, ShmError> {
        Ok(Obj { map: Mapped::attach(handle.region)?, offset: handle.offset })
    }

    /// Its handle, to pass it on.
    pub(crate) fn handle(&self) -> ObjectHandle {
        ObjectHandle { region: self.map.name.clone(), offset: self.offset }
    }
}

/// An object arrives as its `ObjectHandle`; its region is mapped on arrival.
impl<'de> Deserialize<'de> for Obj {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Obj::attach(ObjectHandle::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Obj {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.handle().serialize(serializer)
    }
}
