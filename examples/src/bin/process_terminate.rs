//! Twin of the tutorial's `terminate()` example, `stress_cpu(2)`: two processes spin forever
//! until the main program stops them.
//!
//! ```python
//! def stress_cpu(num_cores):
//!     processes = [Process(target=cpu_heavy_task) for _ in range(num_cores)]
//!     for p in processes: p.start()
//!     try:
//!         while True: time.sleep(1)
//!     except KeyboardInterrupt:
//!         for p in processes: p.terminate()
//! ```
//!
//! Instead of waiting for Ctrl-C, the twin lets them spin for two seconds (pass another number of
//! seconds as an argument), then terminates them and shows Python's exit code for SIGTERM, -15.
//! `join` after `terminate` leaves no zombie behind.
//!
//! Run: `cargo run --release -p wasmproc-examples --bin process_terminate`

use std::time::Duration;
use wasmproc::Process;

fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(2);
    let (ctx, module) = wasmproc_examples::setup()?;
    let cpu_heavy_task = module.task::<(), ()>("cpu_heavy_task")?;
    let processes: Vec<Process> =
        (0..2).map(|_| Process::builder(&ctx, &cpu_heavy_task, ())?.start()).collect::<Result<_, _>>()?;
    println!("{} processes spinning; stopping them in {seconds} s", processes.len());
    std::thread::sleep(Duration::from_secs(seconds));
    for p in &processes {
        p.terminate();
    }
    for p in &processes {
        p.join();
        println!("{} (pid {}) exit code: {:?}", p.name(), p.pid().unwrap_or(0), p.exit_code());
        assert_eq!(p.exit_code(), Some(-15));
    }
    Ok(())
}
