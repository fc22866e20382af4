//! What a task's `Store` holds: WASI state (granting nothing by default) and the outcomes the guest
//! emits during a call.

use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub(crate) struct GuestState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    /// Framed outcomes delivered through `host.emit` during the current `run`, in index order.
    pub(crate) emitted: Vec<u8>,
    /// How many outcomes `emitted` holds.
    pub(crate) emitted_count: u32,
    /// Set when the guest emitted something malformed or out of order.
    pub(crate) emit_error: Option<String>,
    /// The message passed to `host.panicked`, if the guest is panicking.
    pub(crate) panic: Option<String>,
}

impl GuestState {
    /// A guest with no filesystem, no environment, no arguments, no network and an empty stdin;
    /// stdout and stderr go to the worker's.
    pub(crate) fn sandboxed(max_memory: Option<usize>) -> GuestState {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout()
            .inherit_stderr()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let mut limits = StoreLimitsBuilder::new().trap_on_grow_failure(false);
        if let Some(bytes) = max_memory {
            limits = limits.memory_size(bytes);
        }
        GuestState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: limits.build(),
            emitted: Vec::new(),
            emitted_count: 0,
            emit_error: None,
            panic: None,
        }
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
