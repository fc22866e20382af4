//! wasmproc vs CPython's multiprocessing vs native Rust, side by side in one run.
//!
//! Run: `cargo bench -p wasmproc-tests` (needs `python3` on PATH for the CPython column).
//!
//! Workloads (the foundation issue's list), each on 2 worker processes:
//! - pool startup to first result: create a pool and `apply(square, 3)`; CPython with fork and spawn;
//! - `map` of a trivial task (`square`) with the default chunksize, and with chunksize 1;
//! - `apply_async(...).get()` round trip, one at a time;
//! - `compute_heavy` (sum of i² for i < 10⁶, 8 items): serial vs 2 processes, with native Rust
//!   (serial, and 2 threads) as the third column;
//! - `Process` start → join of an empty task, vs CPython's `Process` with fork and spawn;
//! - the cost of per-task timeouts (epoch interruption) on the large `compute_heavy`, serial.
//!
//! Prints a table of medians/throughputs and the ratios the issue sets targets for.

use serde::Deserialize;
use std::process::Command;
use std::time::{Duration, Instant};
use wasmproc::{
    ByteBuf, Connection, Context, Dict, Manager, Pool, Process, Queue, SharedMemory, Value, pipe, pipe_simplex,
};

/// Every measurement is repeated this often (startup: `STARTUP_REPS`) and the median reported.
const REPS: usize = 5;
const STARTUP_REPS: usize = 15;
const MAP_ITEMS: u64 = 200_000;
const MAP1_ITEMS: u64 = 20_000;
const APPLY_REPS: u64 = 3_000;
const HEAVY_N: u64 = 1_000_000;
const HEAVY_ITEMS: usize = 8;
/// A larger compute workload (wasm vs native only): at 0.5 ms per item the small one is dominated
/// by scheduling noise on a 2-CPU machine.
const BIG_HEAVY_N: u64 = 100_000_000;
const Q_ITEMS: u64 = 100_000;
const BLOB_COUNT: u32 = 200;
const BLOB_SIZE: u32 = 1 << 20;
const PINGPONGS: u64 = 2_000;
const VALUE_ADDS: u32 = 100_000;
const SHM_BYTES: usize = 256 << 20;
const DICT_SETS: u64 = 20_000;

#[derive(Deserialize, Debug)]
struct Python {
    python: String,
    startup_fork_s: f64,
    startup_spawn_s: f64,
    process_fork_s: f64,
    process_spawn_s: f64,
    map_default_items_per_s: f64,
    map_chunk1_items_per_s: f64,
    apply_async_rtt_s: f64,
    heavy_serial_s: f64,
    heavy_parallel_s: f64,
    heavy_result: u64,
    queue_small_msgs_per_s: f64,
    queue_blob_mb_per_s: f64,
    pipe_rtt_s: f64,
    pipe_blob_mb_per_s: f64,
    value_adds_per_s: f64,
    shm_fresh_gb_per_s: f64,
    shm_rewrite_gb_per_s: f64,
    dict_sets_per_s: f64,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The median wall time of `REPS` runs of `f`, in seconds.
fn median_secs(mut f: impl FnMut()) -> f64 {
    median(
        (0..REPS)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
    .as_secs_f64()
}

fn native_heavy(n: u64) -> u64 {
    let mut result: u64 = 0;
    // The same loop as the guest's, black_box included, so both run every iteration.
    for i in 0..n {
        let i = std::hint::black_box(i);
        result = result.wrapping_add(i.wrapping_mul(i));
    }
    result
}

/// The floor for a plugin call: `square(7)` on a warm instance of the fixtures, called through
/// wasmtime directly in this process (no worker, no socket, no scheduling). Returns seconds per
/// call.
fn direct_wasmtime_call(reps: u32) -> f64 {
    use wasmtime::component::{Component, Linker, ResourceTable, Val};
    use wasmtime::{Config, Engine, Store};
    use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

    struct State {
        wasi: WasiCtx,
        table: ResourceTable,
        emitted: Vec<u8>,
    }
    impl WasiView for State {
        fn ctx(&mut self) -> WasiCtxView<'_> {
            WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
        }
    }
    let mut config = Config::new();
    config.wasm_component_model(true);
    let engine = Engine::new(&config).expect("engine");
    let component = Component::from_file(&engine, wasmproc_tests::FIXTURES_WASM).expect("component");
    let mut linker = Linker::<State>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("wasi");
    linker
        .instance("wasmproc:task/host@0.1.0")
        .expect("host interface")
        .func_wrap("emit", |mut store: wasmtime::StoreContextMut<'_, State>, (_first, outcomes): (u32, Vec<u8>)| {
            store.data_mut().emitted = outcomes;
            Ok(())
        })
        .expect("emit");
    linker.define_unknown_imports_as_traps(&component).expect("other imports");
    let state = State { wasi: WasiCtx::builder().build(), table: ResourceTable::new(), emitted: Vec::new() };
    let mut store = Store::new(&engine, state);
    let instance = linker.instantiate(&mut store, &component).expect("instantiate");
    let guest = instance.get_export_index(&mut store, None, "wasmproc:task/guest@0.1.0").expect("guest export");
    let run_idx = instance.get_export_index(&mut store, Some(&guest), "run").expect("run export");
    let run = instance.get_func(&mut store, run_idx).expect("run func");
    let arg = postcard::to_stdvec(&7u64).expect("encode");
    let call = |store: &mut Store<State>| {
        let params = [
            Val::String("square".into()),
            Val::Enum("postcard".into()),
            Val::List(arg.iter().map(|b| Val::U8(*b)).collect()),
            Val::List(vec![Val::U32(arg.len() as u32)]),
        ];
        let mut results = [Val::Bool(false)];
        run.call(&mut *store, &params, &mut results).expect("call");
        let out = std::mem::take(&mut store.data_mut().emitted);
        let value: u64 = postcard::from_bytes(&out[5..]).expect("decode");
        assert_eq!(value, 49);
    };
    for _ in 0..100 {
        call(&mut store);
    }
    let start = Instant::now();
    for _ in 0..reps {
        call(&mut store);
    }
    start.elapsed().as_secs_f64() / f64::from(reps)
}

fn run_python() -> Option<Python> {
    let cfg = serde_json::json!({
        "reps": REPS, "startup_reps": STARTUP_REPS, "map_items": MAP_ITEMS, "map1_items": MAP1_ITEMS,
        "apply_reps": APPLY_REPS, "heavy_n": HEAVY_N, "heavy_items": HEAVY_ITEMS,
        "q_items": Q_ITEMS, "blob_count": BLOB_COUNT, "blob_size": BLOB_SIZE, "pingpongs": PINGPONGS,
        "value_adds": VALUE_ADDS, "shm_bytes": SHM_BYTES, "dict_sets": DICT_SETS,
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/vs_cpython.py");
    let out = match Command::new("python3").arg(script).arg(cfg.to_string()).output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("python3 not runnable ({e}); the CPython column stays empty");
            return None;
        }
    };
    if !out.status.success() {
        eprintln!("the CPython benchmark failed:\n{}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    serde_json::from_slice(&out.stdout).map_err(|e| eprintln!("CPython output: {e}")).ok()
}

fn main() -> wasmproc::Result<()> {
    // `cargo bench` passes `--bench`; nothing to filter here.
    let cache = std::env::temp_dir().join(format!("wasmproc-bench-cache-{}", std::process::id()));
    let ctx = Context::builder().processes(2).cache_dir(&cache).build()?;
    let module = ctx.load(wasmproc_tests::FIXTURES_WASM)?;
    let square = module.task::<u64, u64>("square")?;
    let heavy = module.task::<u64, u64>("compute_heavy")?;

    eprintln!("measuring wasmproc…");
    let startup = median(
        (0..STARTUP_REPS)
            .map(|_| {
                let t = Instant::now();
                let pool = Pool::with_processes(&ctx, 2).expect("pool");
                pool.apply(&square, 3).expect("apply");
                let took = t.elapsed();
                drop(pool);
                took
            })
            .collect(),
    );

    let pool = Pool::with_processes(&ctx, 2)?;
    pool.map(&square, 0..1000)?; // warm: every worker has loaded the module
    let map_default = MAP_ITEMS as f64
        / median_secs(|| assert_eq!(pool.map(&square, 0..MAP_ITEMS).expect("map").len() as u64, MAP_ITEMS));
    let map_chunk1 =
        MAP1_ITEMS as f64 / median_secs(|| drop(pool.chunksize(1).map(&square, 0..MAP1_ITEMS).expect("map")));
    let apply_rtt = median_secs(|| {
        for i in 0..APPLY_REPS {
            pool.apply_async(&square, i).get().expect("apply");
        }
    }) / APPLY_REPS as f64;

    let numbers = vec![HEAVY_N; HEAVY_ITEMS];
    let serial_pool = Pool::with_processes(&ctx, 1)?;
    serial_pool.apply(&heavy, 1)?;
    let serial: Vec<u64> = numbers.iter().map(|&n| serial_pool.apply(&heavy, n)).collect::<Result<_, _>>()?;
    let heavy_serial = median_secs(|| {
        for &n in &numbers {
            serial_pool.apply(&heavy, n).expect("apply");
        }
    });
    pool.map(&heavy, [1, 1])?;
    assert_eq!(pool.map(&heavy, numbers.clone())?, serial);
    let heavy_parallel = median_secs(|| drop(pool.map(&heavy, numbers.clone()).expect("map")));

    let native: Vec<u64> = numbers.iter().map(|&n| native_heavy(n)).collect();
    assert_eq!(native, serial);
    let native_serial =
        median_secs(|| drop(std::hint::black_box(numbers.iter().map(|&n| native_heavy(n)).collect::<Vec<_>>())));
    let native_parallel = median_secs(|| {
        std::thread::scope(|s| {
            for half in numbers.chunks(HEAVY_ITEMS / 2) {
                s.spawn(move || std::hint::black_box(half.iter().map(|&n| native_heavy(n)).collect::<Vec<_>>()));
            }
        })
    });

    let big = vec![BIG_HEAVY_N; HEAVY_ITEMS];
    let big_serial = median_secs(|| {
        for &n in &big {
            serial_pool.apply(&heavy, n).expect("apply");
        }
    });
    let big_parallel = median_secs(|| drop(pool.map(&heavy, big.clone()).expect("map")));
    let big_native_serial =
        median_secs(|| drop(std::hint::black_box(big.iter().map(|&n| native_heavy(n)).collect::<Vec<_>>())));
    let big_native_parallel = median_secs(|| {
        std::thread::scope(|s| {
            for half in big.chunks(HEAVY_ITEMS / 2) {
                s.spawn(move || std::hint::black_box(half.iter().map(|&n| native_heavy(n)).collect::<Vec<_>>()));
            }
        })
    });

    let answer = module.task::<(), u32>("answer")?;
    let process_roundtrip = median(
        (0..STARTUP_REPS)
            .map(|_| {
                let t = Instant::now();
                let p = Process::builder(&ctx, &answer, ()).expect("process").start().expect("start");
                p.join();
                let took = t.elapsed();
                assert_eq!(p.exit_code(), Some(0));
                took
            })
            .collect(),
    );
    let timed_pool = Pool::builder(&ctx).processes(1).timeout(Duration::from_secs(60)).build()?;
    timed_pool.apply(&heavy, 1)?;
    // On the large workload: at 3 ms in all, the small one is too short to time this reliably.
    let big_serial_timeout = median_secs(|| {
        for &n in &big {
            timed_pool.apply(&heavy, n).expect("apply");
        }
    });

    // Queues and pipes: a producer process to the host, and a ping-pong partner.
    let produce = module.task::<(Queue<u64>, u64, u64), u64>("produce")?;
    let produce_blobs = module.task::<(Queue<ByteBuf>, u32, u32), u32>("produce_blobs")?;
    let send_blobs = module.task::<(Connection<ByteBuf>, u32, u32), u32>("send_blobs")?;
    let doubler = module.task::<Connection<u64>, u64>("doubler")?;
    let queue_small = Q_ITEMS as f64
        / median_secs(|| {
            let q = Queue::<u64>::new(&ctx).expect("create");
            let p = Process::builder(&ctx, &produce, (q.clone(), 0, Q_ITEMS)).expect("process").start().expect("start");
            for _ in 0..Q_ITEMS {
                q.get().expect("item");
            }
            p.join();
        });
    let blob_mb = f64::from(BLOB_COUNT) * f64::from(BLOB_SIZE) / 1e6;
    let queue_blobs = blob_mb
        / median_secs(|| {
            let q = Queue::<ByteBuf>::new(&ctx).expect("create");
            let p = Process::builder(&ctx, &produce_blobs, (q.clone(), BLOB_COUNT, BLOB_SIZE))
                .expect("process")
                .start()
                .expect("start");
            for _ in 0..BLOB_COUNT {
                assert_eq!(q.get().expect("blob").len(), BLOB_SIZE as usize);
            }
            p.join();
        });
    let (here, there) = pipe::<u64>(&ctx).expect("create");
    let partner = Process::builder(&ctx, &doubler, there)?.start()?;
    here.send(1).expect("send");
    here.recv().expect("recv");
    let pipe_rtt = median_secs(|| {
        for i in 0..PINGPONGS {
            here.send(i).expect("send");
            here.recv().expect("recv");
        }
    }) / PINGPONGS as f64;
    here.close();
    partner.join();
    let pipe_blobs = blob_mb
        / median_secs(|| {
            let (r, w) = pipe_simplex::<ByteBuf>(&ctx).expect("create");
            let p = Process::builder(&ctx, &send_blobs, (w, BLOB_COUNT, BLOB_SIZE))
                .expect("process")
                .start()
                .expect("start");
            for _ in 0..BLOB_COUNT {
                r.recv().expect("blob");
            }
            p.join();
        });

    // Shared state: a counter under its lock from 2 processes, a 256 MiB region, manager dict sets.
    let add = module.task::<(Value<i64>, u32), ()>("add_under_value_lock")?;
    let value_adds = f64::from(2 * VALUE_ADDS)
        / median_secs(|| {
            let v = Value::new(&ctx, 0_i64).expect("value");
            let procs: Vec<Process> = (0..2)
                .map(|_| {
                    Process::builder(&ctx, &add, (v.clone(), VALUE_ADDS)).expect("process").start().expect("start")
                })
                .collect();
            procs.iter().for_each(Process::join);
            assert_eq!(v.get(), 2 * i64::from(VALUE_ADDS));
        });
    let data = vec![7u8; SHM_BYTES];
    let (mut fresh, mut rewrite) = (Vec::new(), Vec::new());
    for _ in 0..REPS {
        let shm = SharedMemory::new(&ctx, SHM_BYTES).expect("region");
        let t = Instant::now();
        shm.write(0, &data).expect("write");
        fresh.push(t.elapsed());
        let t = Instant::now();
        shm.write(0, &data).expect("write");
        rewrite.push(t.elapsed());
    }
    let shm_fresh = SHM_BYTES as f64 / 1e9 / median(fresh).as_secs_f64();
    let shm_rewrite = SHM_BYTES as f64 / 1e9 / median(rewrite).as_secs_f64();
    let fill = module.task::<(Dict<u64, u64>, u64, u64), (Option<u64>, usize)>("manager_fill")?;
    let manager = Manager::new(&ctx).expect("create");
    let dict_sets = DICT_SETS as f64
        / median_secs(|| {
            let d = manager.dict::<u64, u64>().expect("create");
            let p = Process::builder(&ctx, &fill, (d.clone(), 0, DICT_SETS)).expect("process").start().expect("start");
            p.join();
            assert_eq!(d.len() as u64, DICT_SETS);
        });

    // A plugin call (issue 6): one `apply` at a time, with process and thread workers, and the
    // same call through wasmtime directly (the floor).
    let thread_ctx = Context::builder().start_method(wasmproc::StartMethod::Thread).build()?;
    let thread_module = thread_ctx.load(wasmproc_tests::FIXTURES_WASM)?;
    let thread_square = thread_module.task::<u64, u64>("square")?;
    let call_rtt = |pool: &Pool, task: &wasmproc::Task<u64, u64>| {
        for _ in 0..200 {
            pool.apply(task, 7).expect("warm up");
        }
        median_secs(|| {
            for _ in 0..APPLY_REPS {
                pool.apply(task, 7).expect("apply");
            }
        }) / APPLY_REPS as f64
    };
    let process_pool = Pool::with_processes(&ctx, 1)?;
    let process_call = call_rtt(&process_pool, &square);
    let thread_pool = Pool::with_processes(&thread_ctx, 1)?;
    let thread_call = call_rtt(&thread_pool, &thread_square);
    let direct_call = direct_wasmtime_call(20_000);
    drop((process_pool, thread_pool));

    eprintln!("measuring CPython…");
    let py = run_python();
    if let Some(py) = &py {
        assert_eq!(py.heavy_result, serial[0], "CPython and wasm computed the same sum");
    }

    let ms = |s: f64| format!("{:.2} ms", s * 1e3);
    let us = |s: f64| format!("{:.1} µs", s * 1e6);
    let per_s = |r: f64| format!("{:.0}/s", r);
    let secs = |s: f64| format!("{:.3} s", s);
    let pyv = |f: &dyn Fn(&Python) -> String| py.as_ref().map(f).unwrap_or_else(|| "–".into());
    let ratio = |f: &dyn Fn(&Python) -> f64| py.as_ref().map(|p| format!("{:.2}×", f(p))).unwrap_or_else(|| "–".into());

    println!();
    println!(
        "wasmproc {} vs CPython {} multiprocessing (2 worker processes, {} CPUs; medians of {REPS} runs, startup of {STARTUP_REPS})",
        env!("CARGO_PKG_VERSION"),
        py.as_ref().map(|p| p.python.as_str()).unwrap_or("?"),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!();
    println!("| workload | wasmproc | CPython | ratio | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| pool startup → first result | {} | {} (fork), {} (spawn) | {} of fork, {} of spawn | ≤ 0.5× |",
        ms(startup.as_secs_f64()),
        pyv(&|p| ms(p.startup_fork_s)),
        pyv(&|p| ms(p.startup_spawn_s)),
        ratio(&|p| startup.as_secs_f64() / p.startup_fork_s),
        ratio(&|p| startup.as_secs_f64() / p.startup_spawn_s),
    );
    println!(
        "| Process start → join, empty task | {} | {} (fork), {} (spawn) | {} of fork, {} of spawn | ≤ 1.0× of fork |",
        ms(process_roundtrip.as_secs_f64()),
        pyv(&|p| ms(p.process_fork_s)),
        pyv(&|p| ms(p.process_spawn_s)),
        ratio(&|p| process_roundtrip.as_secs_f64() / p.process_fork_s),
        ratio(&|p| process_roundtrip.as_secs_f64() / p.process_spawn_s),
    );
    println!(
        "| map square, default chunksize ({MAP_ITEMS} items) | {} | {} | {} throughput | ≥ 2× |",
        per_s(map_default),
        pyv(&|p| per_s(p.map_default_items_per_s)),
        ratio(&|p| map_default / p.map_default_items_per_s)
    );
    println!(
        "| map square, chunksize 1 ({MAP1_ITEMS} items) | {} | {} | {} throughput | ≥ 5× |",
        per_s(map_chunk1),
        pyv(&|p| per_s(p.map_chunk1_items_per_s)),
        ratio(&|p| map_chunk1 / p.map_chunk1_items_per_s)
    );
    println!(
        "| apply_async round trip | {} | {} | {} time | ≤ 0.3× |",
        us(apply_rtt),
        pyv(&|p| us(p.apply_async_rtt_s)),
        ratio(&|p| apply_rtt / p.apply_async_rtt_s)
    );
    println!(
        "| compute_heavy 8 × 10⁶, serial | {} | {} | {} time | – |",
        secs(heavy_serial),
        pyv(&|p| secs(p.heavy_serial_s)),
        ratio(&|p| heavy_serial / p.heavy_serial_s)
    );
    println!(
        "| compute_heavy 8 × 10⁶, 2 processes | {} | {} | {} time | – |",
        secs(heavy_parallel),
        pyv(&|p| secs(p.heavy_parallel_s)),
        ratio(&|p| heavy_parallel / p.heavy_parallel_s)
    );
    println!(
        "| compute_heavy speedup, 2 processes | {:.2}× | {} | – | ≥ 1.9× |",
        heavy_serial / heavy_parallel,
        pyv(&|p| format!("{:.2}×", p.heavy_serial_s / p.heavy_parallel_s))
    );
    println!(
        "| Queue: {Q_ITEMS} small messages, process → host | {} | {} | {} throughput | ≥ 5× |",
        per_s(queue_small),
        pyv(&|p| per_s(p.queue_small_msgs_per_s)),
        ratio(&|p| queue_small / p.queue_small_msgs_per_s)
    );
    println!(
        "| Queue: {BLOB_COUNT} × 1 MiB, process → host | {:.0} MB/s | {} | {} throughput | ≥ 4× |",
        queue_blobs,
        pyv(&|p| format!("{:.0} MB/s", p.queue_blob_mb_per_s)),
        ratio(&|p| queue_blobs / p.queue_blob_mb_per_s)
    );
    println!(
        "| Pipe: ping-pong round trip | {} | {} | {} time | ≤ 0.3× |",
        us(pipe_rtt),
        pyv(&|p| us(p.pipe_rtt_s)),
        ratio(&|p| pipe_rtt / p.pipe_rtt_s)
    );
    println!(
        "| Pipe: {BLOB_COUNT} × 1 MiB, process → host | {:.0} MB/s | {} | {} throughput | ≥ 1.5× |",
        pipe_blobs,
        pyv(&|p| format!("{:.0} MB/s", p.pipe_blob_mb_per_s)),
        ratio(&|p| pipe_blobs / p.pipe_blob_mb_per_s)
    );
    println!(
        "| Value += 1 under its lock, 2 processes × {VALUE_ADDS} | {} | {} | {} throughput | ≥ 3× |",
        per_s(value_adds),
        pyv(&|p| per_s(p.value_adds_per_s)),
        ratio(&|p| value_adds / p.value_adds_per_s)
    );
    println!(
        "| SharedMemory: write 256 MiB, fresh region | {shm_fresh:.2} GB/s | {} | {} throughput | ≥ 1× |",
        pyv(&|p| format!("{:.2} GB/s", p.shm_fresh_gb_per_s)),
        ratio(&|p| shm_fresh / p.shm_fresh_gb_per_s)
    );
    println!(
        "| SharedMemory: rewrite 256 MiB | {shm_rewrite:.2} GB/s | {} | {} throughput | ≥ 0.5× |",
        pyv(&|p| format!("{:.2} GB/s", p.shm_rewrite_gb_per_s)),
        ratio(&|p| shm_rewrite / p.shm_rewrite_gb_per_s)
    );
    println!(
        "| Manager dict: {DICT_SETS} sets from a process | {} | {} | {} throughput | ≥ 10× |",
        per_s(dict_sets),
        pyv(&|p| per_s(p.dict_sets_per_s)),
        ratio(&|p| dict_sets / p.dict_sets_per_s)
    );
    println!();
    println!("| plugin call `square(7)`, one at a time | time per call | vs wasmtime direct |");
    println!("|---|---|---|");
    println!("| wasmtime, called directly in process (floor) | {} | 1× |", us(direct_call));
    println!("| `Pool::apply`, thread start method | {} | {:.0}× |", us(thread_call), thread_call / direct_call);
    println!("| `Pool::apply`, process start method | {} | {:.0}× |", us(process_call), process_call / direct_call);
    println!();
    println!("| compute_heavy 8 × 10⁶ | wasmproc | native Rust | wasmproc / native | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| serial | {} | {} | {:.2}× | – |",
        secs(heavy_serial),
        secs(native_serial),
        heavy_serial / native_serial
    );
    println!(
        "| 2 processes / 2 threads | {} | {} | {:.2}× | ≤ 1.3× |",
        secs(heavy_parallel),
        secs(native_parallel),
        heavy_parallel / native_parallel
    );
    println!(
        "| 8 × 10⁸: serial | {} | {} | {:.2}× | – |",
        secs(big_serial),
        secs(big_native_serial),
        big_serial / big_native_serial
    );
    println!(
        "| 8 × 10⁸: 2 processes / 2 threads | {} | {} | {:.2}× | ≤ 1.3× |",
        secs(big_parallel),
        secs(big_native_parallel),
        big_parallel / big_native_parallel
    );
    println!(
        "| 8 × 10⁸: speedup on 2 | {:.2}× | {:.2}× | – | ≥ 1.9× |",
        big_serial / big_parallel,
        big_native_serial / big_native_parallel
    );
    println!();
    println!("| compute_heavy 8 × 10⁸, serial | without timeout | with timeout (epochs) | ratio | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| 1 worker | {} | {} | {:.2}× | ≤ 1.3× |",
        secs(big_serial),
        secs(big_serial_timeout),
        big_serial_timeout / big_serial
    );
    drop(pool);
    drop(serial_pool);
    drop(timed_pool);
    let _ = std::fs::remove_dir_all(&cache);
    Ok(())
}
