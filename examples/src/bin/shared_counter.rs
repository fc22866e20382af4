//! Twins of the tutorials' counters: four processes add 1 a thousand times each, first without a
//! lock (updates get lost: two processes read the same value and both write it plus one), then
//! with one (always 4000).
//!
//! ```python
//! def increment(counter, array):          # no lock
//!     for _ in range(1000): counter.value += 1
//!     for i in range(len(array)): array[i] += 1
//! counter = Value('i', 0); array = Array('d', [0.0, 1.0, 2.0])
//! print(f"Counter: {counter.value}")  # may not be 4000 (needs a lock)
//!
//! def increment(lock, counter):           # with a lock
//!     for _ in range(1000):
//!         lock.acquire(); counter.value += 1; lock.release()
//! print(counter.value)  # 4000
//! ```
//!
//! Run: `cargo run --release -p wasmproc-examples --bin shared_counter`

use wasmproc::{Array, Event, Lock, Process, Value};

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let unlocked = module.task::<(Value<i32>, Array<f64>, Event), ()>("increment_unlocked")?;
    let locked = module.task::<(Lock, Value<i32>), ()>("increment")?;

    let counter = Value::new(&ctx, 0)?;
    let array = Array::new(&ctx, &[0.0, 1.0, 2.0])?;
    let go = Event::new(&ctx)?;
    let processes: Vec<Process> = (0..4)
        .map(|_| Process::builder(&ctx, &unlocked, (counter.clone(), array.clone(), go.clone()))?.start())
        .collect::<Result<_, _>>()?;
    // Let all four start, then release them together.
    std::thread::sleep(std::time::Duration::from_millis(200));
    go.set();
    processes.iter().for_each(Process::join);
    println!("Counter: {} (without a lock; 4000 only by luck)", counter.get());
    println!("Array: {:?}", array.to_vec());

    let counter = Value::new(&ctx, 0)?;
    let lock = Lock::new(&ctx)?;
    let processes: Vec<Process> = (0..4)
        .map(|_| Process::builder(&ctx, &locked, (lock.clone(), counter.clone()))?.start())
        .collect::<Result<_, _>>()?;
    processes.iter().for_each(Process::join);
    println!("{}", counter.get());
    assert_eq!(counter.get(), 4000);
    Ok(())
}
