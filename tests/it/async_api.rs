//! The async face of the same pool: awaitable results and an `imap` stream.

use crate::common::{ctx, fixtures};
use std::future::poll_fn;
use std::pin::Pin;
use wasmproc::Pool;

#[test]
fn results_are_awaitable_and_imap_is_a_stream() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let square = fixtures().task::<u64, u64>("square").unwrap();
        let add = fixtures().task::<(i64, i64), i64>("add").unwrap();
        let pool = Pool::with_processes_async(ctx(), 2).await.unwrap();
        assert_eq!(pool.apply_async(&add, (3, 4)).await.unwrap(), 7);
        assert_eq!(pool.map_async(&square, 0..5).await.unwrap(), vec![0, 1, 4, 9, 16]);

        let mut stream = pool.imap(&square, 0..20u64);
        let mut got = Vec::new();
        while let Some(item) = poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut stream), cx)).await {
            got.push(item.unwrap());
        }
        assert_eq!(got, (0..20).map(|x| x * x).collect::<Vec<_>>());
        pool.join_async().await;
        // Dropping inside async code must not panic.
        drop(pool);
    });
}
