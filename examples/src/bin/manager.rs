//! Twin of the tutorial's "Manager - 共享状态": five processes fill a managed dict and list.
//!
//! ```python
//! with Manager() as manager:
//!     shared_dict = manager.dict(); shared_list = manager.list(); lock = manager.Lock()
//!     for i in range(5): Process(target=worker, args=(shared_dict, shared_list, lock, i)).start() …
//!     print(f"Dict: {dict(shared_dict)}")  # {0: 0, 1: 10, 2: 20, 3: 30, 4: 40}
//!     print(f"List: {list(shared_list)}")  # [0, 1, 2, 3, 4] (order may differ)
//! ```
//!
//! Run: `cargo run --release -p wasmproc-examples --bin manager`

use std::collections::BTreeMap;
use wasmproc::{Dict, List, Lock, Manager, Process};

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let worker = module.task::<(Dict<u32, u32>, List<u32>, Lock, u32), ()>("manager_worker")?;
    let manager = Manager::new(&ctx)?;
    let shared_dict = manager.dict::<u32, u32>()?;
    let shared_list = manager.list::<u32>()?;
    let lock = Lock::new(&ctx)?;
    let processes: Vec<Process> = (0..5)
        .map(|i| Process::builder(&ctx, &worker, (shared_dict.clone(), shared_list.clone(), lock.clone(), i))?.start())
        .collect::<Result<_, _>>()?;
    processes.iter().for_each(Process::join);
    let dict: BTreeMap<u32, u32> = shared_dict.items()?.into_iter().collect();
    println!("Dict: {dict:?}");
    println!("List: {:?}", shared_list.to_vec()?);
    assert_eq!(dict, (0..5).map(|i| (i, i * 10)).collect());
    Ok(())
}
