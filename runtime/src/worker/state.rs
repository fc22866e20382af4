//! What a task's `Store` holds: WASI state (granting nothing by default) and the outcomes the guest
//! emits during a call.

use super::Stop;
use super::attachments::Attachments;
use super::line::Line;
use super::output::PrefixedOutput;
use crate::config::Sandbox;
use std::sync::Arc;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub(crate) struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limits: Limits,
    /// Framed outcomes delivered through `host.emit` during the current `run`, in index order.
    pub(super) emitted: Vec<u8>,
    /// How many outcomes `emitted` holds.
    pub(super) emitted_count: u32,
    /// Set when the guest emitted something malformed or out of order.
    pub(super) emit_error: Option<String>,
    /// What `process.current` reports.
    pub(super) process: ProcessIdentity,
    /// The worker's line to the host's queues (`None` where there is no host, e.g. inspection).
    pub(super) line: Option<Arc<Line>>,
    /// The shared regions this worker has mapped.
    pub(super) attachments: Attachments,
    /// When the current input must be done (its timeout), for blocking queue calls.
    pub(super) deadline: Option<std::time::Instant>,
    /// The message passed to `host.panicked`, if the guest is panicking.
    pub(super) panic: Option<String>,
    /// A thread worker's stop switch, which ends blocking host calls too.
    pub(super) stop: Option<Arc<Stop>>,
}

impl GuestState {
    /// A guest with what `sandbox` grants and nothing else (no network, an empty stdin); its
    /// stdout and stderr go to the worker's, each line prefixed with the process name.
    pub(super) fn new(
        sandbox: &Sandbox,
        process: &ProcessIdentity,
        max_memory: Option<usize>,
        stdout_fd: i32,
    ) -> Result<GuestState, String> {
        let name = &process.name;
        let wasi = super::wasi::ctx(sandbox, PrefixedOutput::new(name, stdout_fd), PrefixedOutput::new(name, 2))?;
        let limits = Limits { max_memory, exceeded: None };
        Ok(GuestState {
            wasi,
            table: ResourceTable::new(),
            limits,
            emitted: Vec::new(),
            emitted_count: 0,
            emit_error: None,
            panic: None,
            process: process.clone(),
            line: None,
            attachments: Default::default(),
            deadline: None,
            stop: None,
        })
    }
}

/// Who a worker is, for `process.current` and for the prefix of its output lines.
#[derive(Debug, Clone, Default)]
pub(super) struct ProcessIdentity {
    pub(super) name: Arc<str>,
    pub(super) pid: u32,
    pub(super) worker_id: u32,
    pub(super) parent_pid: u32,
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// The memory limit of one instance; records a refused growth so the trap that follows can be
/// reported as [`FailureKind::MemoryLimit`](crate::FailureKind::MemoryLimit).
pub(super) struct Limits {
    max_memory: Option<usize>,
    /// The size a refused growth asked for.
    pub(super) exceeded: Option<usize>,
}

impl ResourceLimiter for Limits {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        match self.max_memory {
            Some(limit) if desired > limit => {
                self.exceeded = Some(desired);
                // Trap instead of letting `memory.grow` fail: Rust's allocator would abort
                // without a message, and the input would look like any other trap.
                Err(wasmtime::format_err!("memory limit of {limit} bytes exceeded (asked for {desired})"))
            }
            _ => Ok(true),
        }
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}
