//! The shared regions a worker has mapped, shared by all its instances: a guest attaches a region
//! by name once and then reaches it by number.
//!
//! Every instance keeps its own cache of the numbers it has used, so a shm or sync call takes no
//! lock and clones no `Arc`: it checks one generation counter (bumped when the worker's table
//! starts over) and indexes a vector.

use crate::shm::raw::Region;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
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

/// The worker's table, and how many times it started over.
#[derive(Debug, Default)]
struct Shared {
    table: Mutex<Table>,
    generation: AtomicU64,
}

/// The regions one worker has mapped, seen from one instance. Clones share the table, each with
/// a cache of its own.
#[derive(Debug, Default)]
pub(super) struct Attachments {
    shared: Arc<Shared>,
    /// Regions this instance has reached, by number (as of `generation`).
    cached: Vec<Option<Arc<Region>>>,
    generation: u64,
}

impl Clone for Attachments {
    fn clone(&self) -> Self {
        Attachments { shared: self.shared.clone(), cached: Vec::new(), generation: self.generation }
    }
}

impl Attachments {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.shared.table.lock().unwrap_or_else(|p| p.into_inner())
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
            self.shared.generation.fetch_add(1, Ordering::Release);
        }
        let h = table.regions.len() as u32;
        table.regions.push(Arc::new(region));
        table.by_name.insert(name, h);
        Ok(h)
    }

    /// Region number `handle`.
    pub(super) fn get(&mut self, handle: u32) -> Result<&Arc<Region>, ShmError> {
        let generation = self.shared.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.cached.clear();
            self.generation = generation;
        }
        let i = handle as usize;
        if self.cached.get(i).is_none_or(Option::is_none) {
            let region =
                self.lock().regions.get(i).cloned().ok_or_else(|| {
                    ShmError::Unknown(format!("region number {handle} is not attached in this worker"))
                })?;
            if self.cached.len() <= i {
                self.cached.resize(i + 1, None);
            }
            self.cached[i] = Some(region);
        }
        Ok(self.cached[i].as_ref().expect("cached above"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_share_numbers_and_forget_them_when_the_table_starts_over() {
        let name = format!("/wasmproc-attach-test-{}", std::process::id());
        let region = Region::create(&name, 4096, true).unwrap();
        let mut a = Attachments::default();
        let mut b = a.clone();
        let h = a.attach(name.clone()).unwrap();
        assert_eq!(b.attach(name.clone()).unwrap(), h, "one table per worker");
        assert_eq!(a.get(h).unwrap().len(), b.get(h).unwrap().len());
        assert!(a.get(h + 1).is_err());
        // Starting over (as at MAX_ATTACHED) invalidates what every instance cached.
        *a.lock() = Table::default();
        a.shared.generation.fetch_add(1, Ordering::Release);
        assert!(a.get(h).is_err() && b.get(h).is_err());
        drop(region);
    }
}
