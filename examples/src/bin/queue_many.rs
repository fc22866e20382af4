//! Twin of the tutorial's "生产者-消费者模式": two producers, three consumers, a queue of at most
//! 10 items, an `Event` that stops everyone after three seconds.
//!
//! ```python
//! queue = Queue(maxsize=10); stop_event = Event()
//! producers = [Process(target=producer, args=(queue, stop_event, i)) for i in range(2)]
//! consumers = [Process(target=consumer, args=(queue, stop_event, i)) for i in range(3)]
//! for p in producers + consumers: p.start()
//! time.sleep(3); stop_event.set()
//! for p in producers + consumers: p.join()
//! print("All processes finished")
//! ```
//!
//! Run: `cargo run --release -p wasmproc-examples --bin queue_many`

use std::time::Duration;
use wasmproc::{Event, Pool, Queue};

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let producer = module.task::<(Queue<(u32, u32)>, Event, u32), u32>("stoppable_producer")?;
    let consumer = module.task::<(Queue<(u32, u32)>, Event, u32), u32>("stoppable_consumer")?;
    let queue = Queue::<(u32, u32)>::bounded(&ctx, 10)?;
    let stop_event = Event::new(&ctx)?;
    let pool = Pool::with_processes(&ctx, 5)?;
    let producers: Vec<_> =
        (0..2).map(|i| pool.apply_async(&producer, (queue.clone(), stop_event.clone(), i))).collect();
    let consumers: Vec<_> =
        (0..3).map(|i| pool.apply_async(&consumer, (queue.clone(), stop_event.clone(), i))).collect();
    std::thread::sleep(Duration::from_secs(3));
    stop_event.set();
    let made: u32 = producers.into_iter().map(|p| p.get()).sum::<Result<u32, _>>()?;
    let taken: u32 = consumers.into_iter().map(|c| c.get()).sum::<Result<u32, _>>()?;
    println!("All processes finished: {made} produced, {taken} consumed");
    assert_eq!(made, taken, "every item produced was consumed once");
    Ok(())
}
