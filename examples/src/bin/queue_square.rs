//! Twin of the tutorial's `Queue()` example:
//!
//! ```python
//! def square(numbers, q):
//!     for n in numbers: q.put(n * n)
//!
//! q = Queue()
//! p = Process(target=square, args=(numbers, q)); p.start(); p.join()
//! while not q.empty(): print(q.get())
//! ```
//!
//! Run: `cargo run --release -p wasmproc-examples --bin queue_square`

use wasmproc::{Process, Queue};

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let square = module.task::<(Vec<i64>, Queue<i64>), ()>("square_into")?;
    let numbers = vec![1, 2, 3, 4];
    let q = Queue::<i64>::new(&ctx)?;
    let p = Process::builder(&ctx, &square, (numbers, q.clone()))?.start()?;
    p.join();
    let mut got = Vec::new();
    while !q.is_empty() {
        let n = q.get()?;
        println!("{n}");
        got.push(n);
    }
    assert_eq!(got, vec![1, 4, 9, 16]);
    Ok(())
}
