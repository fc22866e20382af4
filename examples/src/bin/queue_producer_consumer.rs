//! Twin of the tutorials' producer/consumer with a `None` sentinel:
//!
//! ```python
//! queue = Queue()
//! prod = Process(target=producer, args=(queue, range(5)))
//! cons = Process(target=consumer, args=(queue,))
//! prod.start(); cons.start(); prod.join(); cons.join()
//! ```
//!
//! `None` is `Option::None`: the queue carries `Option<i64>`.
//!
//! Run: `cargo run --release -p wasmproc-examples --bin queue_producer_consumer`

use wasmproc::{Process, Queue};

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let producer = module.task::<(Queue<Option<i64>>, Vec<i64>), ()>("producer")?;
    let consumer = module.task::<Queue<Option<i64>>, ()>("consumer")?;
    let queue = Queue::<Option<i64>>::new(&ctx)?;
    let prod = Process::builder(&ctx, &producer, (queue.clone(), (0..5).collect()))?.name("producer").build()?;
    let cons = Process::builder(&ctx, &consumer, queue.clone())?.name("consumer").build()?;
    prod.start()?;
    cons.start()?;
    prod.join();
    cons.join();
    assert_eq!((prod.exit_code(), cons.exit_code()), (Some(0), Some(0)));
    assert!(queue.is_empty());
    Ok(())
}
