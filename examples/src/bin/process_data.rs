//! Twin of the guide's "进程池(Pool)高效管理":
//!
//! ```python
//! with multiprocessing.Pool(processes=4) as pool:
//!     results = pool.map(process_data, range(10))
//!     print(results)  # [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
//! ```
//!
//! Run: `cargo run --release -p wasmproc-examples --bin process_data`

use wasmproc::Pool;

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let process_data = module.task::<i64, i64>("process_data")?;
    let pool = Pool::with_processes(&ctx, 4)?;
    let results = pool.map(&process_data, 0..10)?;
    println!("{results:?}");
    assert_eq!(results, vec![0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    Ok(())
}
