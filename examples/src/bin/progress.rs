//! Twin of the tutorial's "进度回调" (tqdm + imap_unordered):
//!
//! ```python
//! with Pool(4) as pool:
//!     results = []
//!     with tqdm(total=len(items)) as pbar:
//!         for result in pool.imap_unordered(task, items):
//!             results.append(result)
//!             pbar.update()
//!     print(f"Processed {len(results)} items")
//! ```
//!
//! indicatif plays tqdm. (The `wasmproc map` command draws the same bar by itself.)
//!
//! Run: `cargo run --release -p wasmproc-examples --bin progress`

use indicatif::ProgressBar;
use wasmproc::Pool;

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let task = module.task::<u64, u64>("square")?;
    let items = 0..100u64;
    let pool = Pool::with_processes(&ctx, 4)?;

    let mut results = Vec::new();
    let pbar = ProgressBar::new(items.end);
    for result in pool.imap_unordered(&task, items) {
        results.push(result?);
        pbar.inc(1);
    }
    pbar.finish();
    println!("Processed {} items", results.len());
    assert_eq!(results.len(), 100);
    Ok(())
}
