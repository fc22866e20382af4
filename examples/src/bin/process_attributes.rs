//! Twin of the tutorial's "进程属性":
//!
//! ```python
//! p = Process(target=task, name="MyWorker")
//! print(f"Before start - alive: {p.is_alive()}")  # False
//! p.start()
//! print(f"After start - alive: {p.is_alive()}")   # True
//! p.join()
//! print(f"After join - alive: {p.is_alive()}")    # False
//! print(f"Exit code: {p.exitcode}")               # 0
//! ```
//!
//! Run: `cargo run --release -p wasmproc-examples --bin process_attributes`

use wasmproc::Process;

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let task = module.task::<(), ()>("show_attributes")?;
    let p = Process::builder(&ctx, &task, ())?.name("MyWorker").build()?;
    println!("Before start - alive: {}", p.is_alive());
    p.start()?;
    println!("After start - alive: {}", p.is_alive());
    p.join();
    println!("After join - alive: {}", p.is_alive());
    println!("Exit code: {:?}", p.exit_code());
    assert_eq!(p.exit_code(), Some(0));
    Ok(())
}
