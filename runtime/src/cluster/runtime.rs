//! The tokio runtime the cluster transport runs on: one per process, two threads, started on
//! first use. The rest of wasmproc is plain threads; only the NATS client is async.

use std::future::Future;
use std::sync::OnceLock;

/// The process's cluster runtime.
pub(crate) fn handle() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("wasmproc-cluster")
            .enable_all()
            .build()
            .expect("start the cluster's tokio runtime")
    })
}

/// Runs `f` on the cluster runtime and waits for it, from any thread (also from inside a caller's
/// own async runtime, where `block_on` would panic).
pub(crate) fn wait<F>(f: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = flume::bounded(1);
    handle().spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv().expect("the cluster runtime runs every task it is given to completion")
}
