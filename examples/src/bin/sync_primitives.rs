//! Twins of the tutorial's "同步原语": a `Lock` passed between three processes, a
//! `Semaphore(2)` over five, and an `Event` three waiters wait for.
//!
//! ```python
//! lock = Lock()
//! processes = [Process(target=task_with_lock, args=(lock, f"Process-{i}")) for i in range(3)]
//!
//! sem = Semaphore(2)   # at most 2 processes at a time
//! processes = [Process(target=limited_resource, args=(sem, f"Process-{i}")) for i in range(5)]
//!
//! event = Event()
//! waiters = [Process(target=waiter, args=(event, f"Waiter-{i}")) for i in range(3)]
//! setter_proc = Process(target=setter, args=(event,))
//! ```
//!
//! Run: `cargo run --release -p wasmproc-examples --bin sync_primitives`

use std::time::Instant;
use wasmproc::{Event, Lock, Process, Semaphore};

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let task_with_lock = module.task::<(Lock, String), ()>("task_with_lock")?;
    let limited_resource = module.task::<(Semaphore, String), ()>("limited_resource")?;
    let waiter = module.task::<(Event, String), ()>("waiter")?;
    let setter = module.task::<Event, ()>("setter")?;

    let lock = Lock::new(&ctx)?;
    let processes: Vec<Process> = (0..3)
        .map(|i| Process::builder(&ctx, &task_with_lock, (lock.clone(), format!("Process-{i}")))?.start())
        .collect::<Result<_, _>>()?;
    processes.iter().for_each(Process::join);

    let sem = Semaphore::new(&ctx, 2)?;
    let start = Instant::now();
    let processes: Vec<Process> = (0..5)
        .map(|i| Process::builder(&ctx, &limited_resource, (sem.clone(), format!("Process-{i}")))?.start())
        .collect::<Result<_, _>>()?;
    processes.iter().for_each(Process::join);
    // Five one-second holds, two at a time: three rounds.
    println!("Semaphore(2): five processes took {:.1} s", start.elapsed().as_secs_f64());

    let event = Event::new(&ctx)?;
    let waiters: Vec<Process> = (0..3)
        .map(|i| Process::builder(&ctx, &waiter, (event.clone(), format!("Waiter-{i}")))?.start())
        .collect::<Result<_, _>>()?;
    let setter_proc = Process::builder(&ctx, &setter, event.clone())?.start()?;
    waiters.iter().for_each(Process::join);
    setter_proc.join();
    assert!(event.is_set());
    Ok(())
}
