//! Twin of the tutorial's "并行数据处理":
//!
//! ```python
//! data = [{'id': i, 'value': i * 2} for i in range(10000)]
//! with Pool(4) as pool:
//!     results = pool.map(process_record, data)
//! print(f"Processed {len(results)} records")
//! print(f"First result: {results[0]}")
//! ```
//!
//! Run: `cargo run --release -p wasmproc-examples --bin process_record`

use serde::{Deserialize, Serialize};
use wasmproc::Pool;

#[derive(Serialize)]
struct Record {
    id: u64,
    value: i64,
}

#[derive(Deserialize, Debug)]
struct Processed {
    id: u64,
    processed: i64,
    category: String,
}

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let process_record = module.task::<Record, Processed>("process_record")?;
    let data = (0..10_000).map(|i| Record { id: i, value: i as i64 * 2 });
    let pool = Pool::with_processes(&ctx, 4)?;
    let results = pool.map(&process_record, data)?;
    println!("Processed {} records", results.len());
    println!("First result: {:?}", results[0]);
    assert_eq!(results.len(), 10_000);
    assert_eq!((results[26].id, results[26].processed, results[26].category.as_str()), (26, 2704, "high"));
    Ok(())
}
