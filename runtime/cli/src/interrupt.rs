//! What an interrupt does: Ctrl-C or SIGTERM (on Windows: Ctrl-C, Ctrl-Break or closing the
//! console), handled by the `ctrlc` crate, whose one handler serves the whole process.
//!
//! A command ends at once with [`Code::Interrupted`] (130); its workers follow, each exiting when
//! its connection to this process closes (on Windows, also by the Job object they are in). A node
//! instead drains: from [`drain_into`] on, an interrupt only sets its flag.

use crate::exit::Code;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static DRAIN: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs the handler (once, before the command runs).
pub(crate) fn install() {
    let installed = ctrlc::set_handler(|| match DRAIN.get() {
        Some(flag) => flag.store(true, Ordering::Release),
        None => std::process::exit(Code::Interrupted as i32),
    });
    if let Err(e) = installed {
        eprintln!("wasmproc: cannot handle Ctrl-C ({e}); it will end the command without cleanup");
    }
}

/// From now on an interrupt sets `flag` instead of ending the process.
pub(crate) fn drain_into(flag: Arc<AtomicBool>) {
    let _ = DRAIN.set(flag);
}
