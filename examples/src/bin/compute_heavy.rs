//! Twin of the tutorial's "CPU 密集型任务": serial vs parallel, with the speedup printed.
//!
//! ```python
//! numbers = [10**6] * 8
//! serial_results = [compute_heavy(n) for n in numbers]
//! with Pool(cpu_count()) as pool:
//!     parallel_results = pool.map(compute_heavy, numbers)
//! print(f"Speedup: {serial_time / parallel_time:.2f}x")
//! ```
//!
//! "Serial" runs the eight calls one after another on a one-worker pool, so both sides pay the
//! same wasm costs and the ratio shows what the extra workers buy. Native Rust is printed too, for
//! scale. Pass a larger `n` to make the work heavier: `… --bin compute_heavy -- 100000000`.
//!
//! Run: `cargo run --release -p wasmproc-examples --bin compute_heavy`

use std::time::Instant;
use wasmproc::Pool;

fn native(n: u64) -> u64 {
    let mut result: u64 = 0;
    for i in 0..n {
        let i = std::hint::black_box(i);
        result = result.wrapping_add(i.wrapping_mul(i));
    }
    result
}

fn main() -> anyhow::Result<()> {
    let n: u64 = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(10u64.pow(8));
    let numbers = vec![n; 8];
    let (ctx, module) = wasmproc_examples::setup()?;
    let compute_heavy = module.task::<u64, u64>("compute_heavy")?;

    let serial_pool = Pool::with_processes(&ctx, 1)?;
    serial_pool.apply(&compute_heavy, 1)?; // warm up: module loaded and instantiated
    let start = Instant::now();
    let serial: Vec<u64> = numbers.iter().map(|&n| serial_pool.apply(&compute_heavy, n)).collect::<Result<_, _>>()?;
    let serial_time = start.elapsed().as_secs_f64();

    let pool = Pool::new(&ctx)?;
    pool.map(&compute_heavy, vec![1; pool.processes()])?; // warm up every worker
    let start = Instant::now();
    let parallel = pool.map(&compute_heavy, numbers.clone())?;
    let parallel_time = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let native_results: Vec<u64> = numbers.iter().map(|&n| native(n)).collect();
    let native_time = start.elapsed().as_secs_f64();

    assert_eq!(serial, parallel);
    assert_eq!(serial, native_results);
    println!("n = {n}, 8 items, {} worker processes", pool.processes());
    println!("Serial:   {serial_time:.2}s");
    println!("Parallel: {parallel_time:.2}s");
    println!("Speedup:  {:.2}x", serial_time / parallel_time);
    println!("(native Rust, serial: {native_time:.2}s)");
    Ok(())
}
