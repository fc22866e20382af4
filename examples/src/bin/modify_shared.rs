//! Twin of the tutorial's shared `Value` and `Array`:
//!
//! ```python
//! num = multiprocessing.Value('d', 0.0)
//! arr = multiprocessing.Array('i', range(5))
//! p = multiprocessing.Process(target=modify_shared, args=(num, arr)); p.start(); p.join()
//! print(num.value)  # 3.1415926
//! print(arr[:])     # [0, 2, 4, 6, 8]
//! ```
//!
//! Run: `cargo run --release -p wasmproc-examples --bin modify_shared`

use wasmproc::{Array, Process, Value};

fn main() -> anyhow::Result<()> {
    let (ctx, module) = wasmproc_examples::setup()?;
    let modify_shared = module.task::<(Value<f64>, Array<i32>), ()>("modify_shared")?;
    let num = Value::new(&ctx, 0.0_f64)?;
    let arr = Array::new(&ctx, &[0, 1, 2, 3, 4])?;
    let p = Process::builder(&ctx, &modify_shared, (num.clone(), arr.clone()))?.start()?;
    p.join();
    println!("{}", num.get());
    println!("{:?}", arr.to_vec());
    assert_eq!(arr.to_vec(), vec![0, 2, 4, 6, 8]);
    Ok(())
}
