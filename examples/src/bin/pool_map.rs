//! Twin of the tutorial's "进程池 Pool / 基础用法":
//!
//! ```python
//! with Pool(4) as pool:
//!     results = pool.map(square, range(10))          # square sleeps 0.5 s per item
//!     async_result = pool.map_async(square, range(5))
//!     results = async_result.get()
//! ```
//!
//! Run: `cargo run --release -p wasmproc-examples --bin pool_map`

use std::time::Instant;
use wasmproc::Pool;

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let square = module.task::<u64, u64>("slow_square")?;

    // Create a pool of 4 worker processes.
    let pool = Pool::with_processes(&ctx, 4)?;

    // map blocks and returns the results in order: 10 items × 0.5 s on 4 workers ≈ 1.5 s.
    let start = Instant::now();
    let results = pool.map(&square, 0..10)?;
    println!("{results:?}  ({:.1} s)", start.elapsed().as_secs_f64());
    assert_eq!(results, vec![0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);

    // map_async returns at once; do other things, then get() the results.
    let async_result = pool.map_async(&square, 0..5);
    println!("map_async submitted; ready yet? {}", async_result.ready());
    let results = async_result.get()?;
    println!("{results:?}");
    assert_eq!(results, vec![0, 1, 4, 9, 16]);
    Ok(())
}
