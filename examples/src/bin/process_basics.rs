//! Twins of the tutorials' first `Process` programs:
//!
//! ```python
//! def worker(name):
//!     print(f"Worker {name}, PID: {os.getpid()}, Parent PID: {os.getppid()}")
//!
//! print(f"Main process PID: {os.getpid()}")
//! p1 = Process(target=worker, args=('A',)); p2 = Process(target=worker, args=('B',))
//! p1.start(); p2.start(); p1.join(); p2.join()
//! print("All workers finished")
//!
//! p = Process(target=func); p.start(); p.join()
//! p = Process(target=calculate_square, args=([1, 2, 3, 4],)); p.start(); p.join()
//! ```
//!
//! Each line a task prints carries its process's name in front.
//!
//! Run: `cargo run --release -p wasmproc-examples --bin process_basics`

use wasmproc::Process;

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let worker = module.task::<String, ()>("worker")?;
    let func = module.task::<(), ()>("func")?;
    let calculate_square = module.task::<Vec<i64>, ()>("calculate_square")?;

    println!("Main process PID: {}", std::process::id());
    let p1 = Process::builder(&ctx, &worker, "A".to_string())?.build()?;
    let p2 = Process::builder(&ctx, &worker, "B".to_string())?.build()?;
    p1.start()?;
    p2.start()?;
    p1.join();
    p2.join();
    println!("All workers finished");
    assert_eq!((p1.exit_code(), p2.exit_code()), (Some(0), Some(0)));

    let p = Process::builder(&ctx, &func, ())?.start()?;
    p.join();
    let p = Process::builder(&ctx, &calculate_square, vec![1, 2, 3, 4])?.start()?;
    p.join();
    assert_eq!(p.exit_code(), Some(0));
    Ok(())
}
