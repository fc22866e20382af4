//! Twin of the tutorial's "apply 和 starmap":
//!
//! ```python
//! with Pool(4) as pool:
//!     result = pool.apply(add, (1, 2))                      # 3
//!     async_result = pool.apply_async(add, (3, 4))          # 7
//!     results = pool.starmap(add, [(1, 2), (3, 4), (5, 6)]) # [3, 7, 11]
//!     for result in pool.imap(process_item, [{'value': i} for i in range(5)]):
//!         print(result)                                     # 0, 2, 4, 6, 8
//! ```
//!
//! Run: `cargo run --release -p wasmproc-examples --bin apply_starmap`

use serde::Serialize;
use wasmproc::Pool;

/// The `{'value': i}` dict, as a struct the guest's `process_item` accepts.
#[derive(Serialize)]
struct Item {
    value: i64,
}

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let add = module.task::<(i64, i64), i64>("add")?;
    let process_item = module.task::<Item, i64>("process_item")?;
    let pool = Pool::with_processes(&ctx, 4)?;

    // apply: one call, blocking.
    let result = pool.apply(&add, (1, 2))?;
    println!("apply: {result}");
    assert_eq!(result, 3);

    // apply_async: one call, non-blocking.
    let async_result = pool.apply_async(&add, (3, 4));
    let result = async_result.get()?;
    println!("apply_async: {result}");
    assert_eq!(result, 7);

    // starmap: map over argument tuples.
    let results = pool.starmap(&add, [(1, 2), (3, 4), (5, 6)])?;
    println!("starmap: {results:?}");
    assert_eq!(results, vec![3, 7, 11]);

    // imap: a lazy iterator of results, in order.
    let mut seen = Vec::new();
    for result in pool.imap(&process_item, (0..5).map(|i| Item { value: i })) {
        let result = result?;
        println!("imap: {result}");
        seen.push(result);
    }
    assert_eq!(seen, vec![0, 2, 4, 6, 8]);
    Ok(())
}
