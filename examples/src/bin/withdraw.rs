//! Twin of the tutorial's "进程锁(Lock)同步控制": ten processes each withdraw 1 under a lock.
//!
//! ```python
//! balance = multiprocessing.Value('i', 100); lock = multiprocessing.Lock()
//! for _ in range(10): Process(target=withdraw, args=(balance, lock)).start() …
//! print(f'最终余额: {balance.value}')  # 90
//! ```
//!
//! Run: `cargo run --release -p wasmproc-examples --bin withdraw`

use wasmproc::{Lock, Process, Value};

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let withdraw = module.task::<(Value<i32>, Lock), ()>("withdraw")?;
    let balance = Value::new(&ctx, 100)?;
    let lock = Lock::new(&ctx)?;
    let processes: Vec<Process> = (0..10)
        .map(|_| Process::builder(&ctx, &withdraw, (balance.clone(), lock.clone()))?.start())
        .collect::<Result<_, _>>()?;
    processes.iter().for_each(Process::join);
    println!("最终余额: {}", balance.get());
    assert_eq!(balance.get(), 90);
    Ok(())
}
