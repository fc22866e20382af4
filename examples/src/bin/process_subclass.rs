//! Twin of the tutorial's "进程类继承" (subclassing `Process` and overriding `run`):
//!
//! ```python
//! class MyProcess(Process):
//!     def __init__(self, name):
//!         super().__init__(); self.name = name
//!     def run(self):
//!         print(f"Process {self.name} is running")
//!
//! processes = [MyProcess(f"Worker-{i}") for i in range(3)]
//! for p in processes: p.start()
//! for p in processes: p.join()
//! ```
//!
//! wasmproc has no subclassing: `run` is a task, and the builder sets the name it reads through
//! `current_process()`.
//!
//! Run: `cargo run --release -p wasmproc-examples --bin process_subclass`

use wasmproc::Process;

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let run = module.task::<(), ()>("run")?;
    let processes: Vec<Process> = (0..3)
        .map(|i| Process::builder(&ctx, &run, ())?.name(format!("Worker-{i}")).build())
        .collect::<Result<_, _>>()?;
    for p in &processes {
        p.start()?;
    }
    for p in &processes {
        p.join();
        assert_eq!(p.exit_code(), Some(0));
    }
    Ok(())
}
