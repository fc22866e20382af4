//! Twin of the tutorial's `Pool()` example:
//!
//! ```python
//! with Pool() as pool:
//!     result = pool.map(cube, [1, 2, 3, 4])
//! print(result)   # [1, 8, 27, 64]
//! ```
//!
//! Run: `cargo run --release -p wasmproc-examples --bin cube`

use wasmproc::Pool;

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let cube = module.task::<i64, i64>("cube")?;
    // Pool::new uses one worker per CPU, like Pool() without arguments.
    let pool = Pool::new(&ctx)?;
    let result = pool.map(&cube, [1, 2, 3, 4])?;
    println!("{result:?}");
    assert_eq!(result, vec![1, 8, 27, 64]);
    Ok(())
}
