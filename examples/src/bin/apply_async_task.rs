//! Twin of the Pool-vs-Process article's "基础用法示例":
//!
//! ```python
//! def task(msg):
//!     print(f"Start: {msg}"); time.sleep(2); return f"End: {msg}"
//!
//! with Pool(processes=3) as pool:
//!     results = pool.apply_async(task, ("Hello", ))
//!     print(results.get())
//!     multiple_results = [pool.apply_async(task, (i,)) for i in range(4)]
//!     print([res.get() for res in multiple_results])
//! ```
//!
//! The Python version passes integers to a function that formats them; wasm tasks have one
//! declared type, so the twin sends the numbers as strings. With 3 workers, the 4 two-second tasks
//! take about 4 s, as in Python. Timeouts work as in the article: `get_timeout` gives up and leaves
//! the result to arrive later.
//!
//! Run: `cargo run --release -p wasmproc-examples --bin apply_async_task`

use std::time::{Duration, Instant};
use wasmproc::{Error, Pool};

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let task = module.task::<String, String>("task")?;
    let pool = Pool::with_processes(&ctx, 3)?;

    let result = pool.apply_async(&task, "Hello".to_string());
    println!("{}", result.get()?);

    let start = Instant::now();
    let multiple: Vec<_> = (0..4).map(|i| pool.apply_async(&task, i.to_string())).collect();
    let outputs: Vec<String> = multiple.into_iter().map(|r| r.get()).collect::<Result<_, _>>()?;
    println!("{outputs:?}  ({:.1} s)", start.elapsed().as_secs_f64());
    assert_eq!(outputs, ["End: 0", "End: 1", "End: 2", "End: 3"]);

    // "超时控制与容错": result.get(timeout=…) raising TimeoutError.
    let slow = pool.apply_async(&task, "late".to_string());
    match slow.get_timeout(Duration::from_millis(500)) {
        Err(Error::Timeout) => println!("Task timed out (still running; waiting for it now)"),
        other => anyhow::bail!("expected a timeout, got {other:?}"),
    }
    println!("{}", slow.get_timeout(Duration::from_secs(5))?);
    Ok(())
}
