//! Hosting task components: the bindings, the store state, and running a chunk of calls.
//!
//! Used by the workers to run tasks and by the host to read a module's task listing.

mod bindings;
mod host;
mod instance;
mod manager;
mod output;
mod queue;
mod shm;
mod state;

pub(crate) use bindings::wasmproc::task::types::{Codec, TaskError, TaskInfo};
pub(crate) use instance::{Loaded, RunSettings, list_tasks, new_linker};
pub(crate) use output::PrefixedOutput;
pub(crate) use queue::BrokerClient;
pub(crate) use shm::SharedAttachments;
pub(crate) use state::{GuestState, ProcessIdentity};
