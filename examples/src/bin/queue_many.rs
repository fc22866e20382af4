//! Twin of the tutorial's "生产者-消费者模式": two producers, three consumers, a queue of at most
//! 10 items, stopped after three seconds.
//!
//! ```python
//! queue = Queue(maxsize=10); stop_event = Event()
//! producers = [Process(target=producer, args=(queue, stop_event, i)) for i in range(2)]
//! consumers = [Process(target=consumer, args=(queue, stop_event, i)) for i in range(3)]
//! for p in producers + consumers: p.start()
//! time.sleep(3); stop_event.set()
//! for p in producers + consumers: p.join()
//! ```
//!
//! The Python stops everyone with an `Event`; here closing the queue is the stop signal
//! (producers' puts fail, consumers drain what is left and then see it closed). The `Event` of
//! the synchronization primitives will arrive with them.
//!
//! Run: `cargo run --release -p wasmproc-examples --bin queue_many`

use std::time::Duration;
use wasmproc::{Pool, Queue};

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let producer = module.task::<(Queue<(u32, u32)>, u32), u32>("produce_until_closed")?;
    let consumer = module.task::<(Queue<(u32, u32)>, u32), u32>("consume_until_closed")?;
    let queue = Queue::<(u32, u32)>::bounded(&ctx, 10);
    let pool = Pool::with_processes(&ctx, 5)?;
    let producers: Vec<_> = (0..2).map(|i| pool.apply_async(&producer, (queue.clone(), i))).collect();
    let consumers: Vec<_> = (0..3).map(|i| pool.apply_async(&consumer, (queue.clone(), i))).collect();
    std::thread::sleep(Duration::from_secs(3));
    queue.close();
    let made: u32 = producers.into_iter().map(|p| p.get()).sum::<Result<u32, _>>()?;
    let taken: u32 = consumers.into_iter().map(|c| c.get()).sum::<Result<u32, _>>()?;
    println!("All processes finished: {made} produced, {taken} consumed");
    assert_eq!(made, taken, "every item produced was consumed once");
    Ok(())
}
