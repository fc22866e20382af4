//! The shared regions a worker has mapped, shared by all its instances: a guest attaches a region
//! by name once and then reaches it by number.

use crate::shm::raw::Region;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use wasmproc_wire::ShmError;

/// Most regions a worker keeps mapped; attaching one more starts over (older numbers then report
/// `Unknown`).
const MAX_ATTACHED: usize = 4096;

#[derive(Debug, Default)]
struct Table {
    regions: Vec<Arc<Region>>,
    by_name: HashMap<String, u32>,
}

/// The regions one worker has mapped (clones share them).
#[derive(Debug, Default, Clone)]
pub(super) struct Attachments(Arc<Mutex<Table>>);

impl Attachments {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Maps region `name` (once per worker); returns its number.
    pub(super) fn attach(&self, name: String) -> Result<u32, ShmError> {
        let mut table = self.lock();
        if let Some(&h) = table.by_name.get(&name) {
            return Ok(h);
        }
        let region = Region::attach(&name).map_err(|e| ShmError::Unknown(format!("region {name}: {e}")))?;
        if table.regions.len() >= MAX_ATTACHED {
            *table = Table::default();
        }
        let h = table.regions.len() as u32;
        table.regions.push(Arc::new(region));
        table.by_name.insert(name, h);
        Ok(h)
    }

    /// Region number `handle`.
    pub(super) fn get(&self, handle: u32) -> Result<Arc<Region>, ShmError> {
        self.lock()
            .regions
            .get(handle as usize)
            .cloned()
            .ok_or_else(|| ShmError::Unknown(format!("region number {handle} is not attached in this worker")))
    }
}
