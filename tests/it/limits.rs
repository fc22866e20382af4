//! Timeouts, memory limits, recycling and retries: a misbehaving task costs one result, never the
//! pool.

use crate::common::{ctx, eventually, fixtures, process_gone};
use std::time::{Duration, Instant};
use wasmproc::{Error, Event, FailureKind, Pool, Value};
use wasmproc_tests::os;

fn sigkill(pid: u32) {
    assert!(os::kill(pid, os::SIGKILL), "kill {pid}");
}

fn kind_of<T: std::fmt::Debug>(r: Result<T, Error>) -> FailureKind {
    match r {
        Err(Error::Task(f)) => f.kind,
        other => panic!("expected a task failure, got {other:?}"),
    }
}

/// Worker processes run without epoch checks: an input past its timeout is stopped by killing its
/// worker, which is replaced; the pool goes on.
#[test]
fn a_timeout_stops_an_infinite_loop_by_replacing_the_worker_and_the_pool_goes_on() {
    let spin = fixtures().task::<(), u64>("spin").unwrap();
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let pool = Pool::builder(ctx()).processes(1).timeout(Duration::from_millis(200)).build().unwrap();
    let pid = pool.pids()[0];
    let start = Instant::now();
    match pool.apply(&spin, ()) {
        Err(Error::Task(f)) => {
            assert_eq!(f.kind, FailureKind::Timeout);
            let expected = format!(
                "interrupted after the per-task timeout of 200ms: worker process {pid} was killed and replaced"
            );
            assert_eq!(f.message, expected);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    assert!(process_gone(pid));
    assert_ne!(pool.pids(), vec![pid], "replaced");
    assert_eq!(pool.apply(&square, 12).unwrap(), 144);
    // Inputs of one chunk each get their own deadline.
    let results: Vec<_> = pool.chunksize(3).imap(&square, [1, 2, 3]).map(Result::unwrap).collect();
    assert_eq!(results, vec![1, 4, 9]);
}

/// One input of a chunk overruns: the inputs before it are answered (reported as progress), it
/// fails with `Timeout`, the ones after it run on the replacement worker, each exactly once.
#[test]
fn a_chunk_with_one_endless_input_loses_only_that_input() {
    let spin_on = fixtures().task::<(Value<i64>, u64, u64), u64>("spin_on").unwrap();
    let pool = Pool::builder(ctx()).processes(1).timeout(Duration::from_millis(300)).build().unwrap();
    let first = pool.pids()[0];
    let ran = Value::new(ctx(), 0_i64).unwrap();
    let results: Vec<_> = pool.chunksize(8).imap(&spin_on, (0..8).map(|x| (ran.clone(), x, 5))).collect();
    for (x, r) in results.iter().enumerate() {
        match (x, r) {
            (5, Err(Error::Task(f))) => assert_eq!((f.index, f.kind.clone()), (5, FailureKind::Timeout), "{f}"),
            (_, Ok(v)) => assert_eq!(*v, (x * x) as u64),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ran.get(), 8, "every input ran exactly once");
    assert!(process_gone(first));
    // The same through `map`, whose chunks are answered as a whole, on two workers.
    let pool = Pool::builder(ctx()).processes(2).timeout(Duration::from_millis(300)).build().unwrap();
    ran.set(0);
    match pool.chunksize(4).map(&spin_on, (0..12).map(|x| (ran.clone(), x, 6))) {
        Err(Error::Task(f)) => assert_eq!((f.index, f.kind), (6, FailureKind::Timeout)),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(ran.get(), 12, "every input ran exactly once");
    let ok: Vec<u64> = pool.map(&spin_on, (0..12).map(|x| (ran.clone(), x, 100))).unwrap();
    assert_eq!(ok, (0..12).map(|x| x * x).collect::<Vec<u64>>());
}

/// A sleep is a WASI wait, which ends at the input's deadline as a timeout; the worker is neither
/// killed nor replaced. Both start methods.
#[test]
fn a_task_sleeping_past_its_timeout_is_interrupted_and_the_worker_goes_on() {
    let (thread_ctx, thread_fixtures) = crate::common::thread_ctx();
    for (ctx, fixtures) in [(ctx(), fixtures()), (thread_ctx, thread_fixtures)] {
        let sleep = fixtures.task::<u64, u64>("sleep_ms").unwrap();
        let pool = Pool::builder(ctx).processes(1).timeout(Duration::from_millis(500)).build().unwrap();
        let pids = pool.pids();
        let start = Instant::now();
        match pool.apply(&sleep, 30_000) {
            Err(Error::Task(f)) => {
                assert_eq!(f.kind, FailureKind::Timeout);
                assert_eq!(f.message, "interrupted after the per-task timeout of 500ms");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(5), "answered at the deadline: {:?}", start.elapsed());
        assert_eq!(pool.pids(), pids, "the worker was not replaced");
        assert_eq!(pool.apply(&sleep, 10).unwrap(), 10, "the pool goes on");
    }
}

/// Opening a FIFO that nobody writes blocks in a system call nothing interrupts: the watchdog
/// replaces the worker (kills a process at the timeout; stops a thread a second later and, if it
/// must, abandons it) and says which.
#[test]
#[cfg(unix)] // FIFOs are a Unix file type.
fn a_task_blocked_where_nothing_interrupts_it_is_stopped_by_replacing_its_worker() {
    let (thread_ctx, thread_fixtures) = crate::common::thread_ctx();
    for (ctx, fixtures, mode) in [(ctx(), fixtures(), "process"), (thread_ctx, thread_fixtures, "thread")] {
        let dir = crate::common::scratch(&format!("fifo-{mode}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("never-written");
        let path = std::ffi::CString::new(fifo.display().to_string()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");
        let read = fixtures.task::<String, usize>("read_file").unwrap();
        let square = fixtures.task::<u64, u64>("square").unwrap();
        let sandbox = wasmproc::Sandbox::default().dir(&dir, "/in", wasmproc::DirAccess::ReadOnly);
        let pool =
            Pool::builder(ctx).processes(1).timeout(Duration::from_millis(200)).sandbox(sandbox).build().unwrap();
        let pid = pool.pids()[0];
        let start = Instant::now();
        match pool.apply(&read, "/in/never-written".to_string()) {
            Err(Error::Task(f)) => {
                assert_eq!(f.kind, FailureKind::Timeout, "{mode}");
                if mode == "process" {
                    let killed = format!(": worker process {pid} was killed and replaced");
                    assert!(f.message.ends_with(&killed), "{}", f.message);
                } else {
                    assert!(f.message.contains("; worker thread wasmproc-"), "{}", f.message);
                    assert!(f.message.ends_with("-0 was stopped and replaced"), "{}", f.message);
                }
            }
            other => panic!("{mode}: unexpected {other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(15), "{mode}: {:?}", start.elapsed());
        if mode == "process" {
            assert!(process_gone(pid));
        }
        assert_eq!(pool.apply(&square, 12).unwrap(), 144, "{mode}: the pool goes on");
        // Release an abandoned thread's open; with no reader left (a killed process), this fails
        // at once instead of blocking.
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&fifo);
    }
}

#[test]
fn a_memory_bomb_hits_the_limit_and_the_worker_goes_on() {
    let allocate = fixtures().task::<u32, usize>("allocate").unwrap();
    let pool = Pool::builder(ctx()).processes(1).max_memory(32 << 20).build().unwrap();
    let pid = pool.pids();
    match pool.apply(&allocate, 64) {
        Err(Error::Task(f)) => {
            assert_eq!(f.kind, FailureKind::MemoryLimit);
            assert!(f.message.contains("33554432"), "{}", f.message);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(pool.apply(&allocate, 8).unwrap(), 8 << 20);
    assert_eq!(pool.pids(), pid);
}

#[test]
fn max_tasks_per_child_recycles_workers() {
    let counter = fixtures().task::<(), u64>("counter").unwrap();
    let pool = Pool::builder(ctx()).processes(1).max_tasks_per_child(3).build().unwrap();
    let first = pool.pids()[0];
    let counts: Vec<u64> = (0..7).map(|_| pool.apply(&counter, ()).unwrap()).collect();
    // A fresh process (and so a fresh instance) every three tasks.
    assert_eq!(counts, vec![1, 2, 3, 1, 2, 3, 1]);
    assert!(eventually(5, || process_gone(first)));
    assert_ne!(pool.pids()[0], first);
}

#[test]
fn chunks_queued_behind_a_dead_worker_are_resent_and_retries_rerun_the_running_one() {
    let sleep = fixtures().task::<(Event, u64), u64>("signal_then_sleep").unwrap();
    let square = fixtures().task::<u64, u64>("square").unwrap();

    // One worker: the square waits at the worker behind the sleep; only the sleep is lost.
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    let started = Event::new(ctx()).unwrap();
    let running = pool.apply_async(&sleep, (started.clone(), 2_000));
    let queued = pool.apply_async(&square, 3);
    assert!(started.wait_timeout(Duration::from_secs(30)), "the task never started");
    sigkill(pool.pids()[0]);
    assert!(matches!(kind_of(running.get()), FailureKind::WorkerDied { .. }));
    assert_eq!(queued.get().unwrap(), 9);

    // With a retry, the running one is run again on the replacement.
    let pool = Pool::builder(ctx()).processes(1).retries(1).build().unwrap();
    let started = Event::new(ctx()).unwrap();
    let running = pool.apply_async(&sleep, (started.clone(), 500));
    assert!(started.wait_timeout(Duration::from_secs(30)), "the task never started");
    sigkill(pool.pids()[0]);
    assert_eq!(running.get().unwrap(), 500);
}

#[test]
fn every_one_of_2000_tasks_is_accounted_for_while_workers_are_killed_at_random() {
    let sleep = fixtures().task::<u64, u64>("sleep_ms").unwrap();
    let pool = Pool::with_processes(ctx(), 3).unwrap();
    let mut seen = vec![0u8; 2000];
    let (mut ok, mut died, mut killed) = (0, 0, 0);
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    // Inputs sleep 0 or 1 ms; every 97th result, SIGKILL a random worker (15 kills at most).
    for (n, r) in pool.imap_unordered(&sleep, (0..2000u64).map(|i| i % 2)).enumerate() {
        if n % 97 == 0 && killed < 15 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let pids: Vec<u32> = pool.pids().into_iter().filter(|p| *p != 0).collect();
            if !pids.is_empty() {
                sigkill(pids[(rng % pids.len() as u64) as usize]);
                killed += 1;
            }
        }
        match r {
            Ok(_) => ok += 1,
            Err(Error::Task(f)) if matches!(f.kind, FailureKind::WorkerDied { .. }) => {
                seen[f.index] += 1;
                died += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok + died, 2000, "each task yields exactly one outcome");
    assert!(seen.iter().all(|n| *n <= 1), "no task reported twice");
    assert!(killed >= 10, "the test killed workers ({killed})");
    // Only the chunk a worker was running fails; what was queued behind it is resent.
    assert!(died <= killed, "{died} failures from {killed} kills");
}

#[test]
fn an_initializer_prepares_every_instance_of_every_worker() {
    let set_greeting = fixtures().task::<String, ()>("set_greeting").unwrap();
    let greet = fixtures().task::<String, String>("greet").unwrap();
    let trap = fixtures().task::<(), u32>("trap").unwrap();
    let pool = Pool::builder(ctx()).processes(2).initializer(&set_greeting, "Hi".to_string()).unwrap().build().unwrap();
    let names: Vec<String> = (0..20).map(|i| format!("n{i}")).collect();
    let greetings = pool.chunksize(1).map(&greet, names.clone()).unwrap();
    assert_eq!(greetings, names.iter().map(|n| format!("Hi, {n}")).collect::<Vec<_>>());
    // A trap replaces the instance; the new one is initialized too.
    assert_eq!(kind_of(pool.apply(&trap, ())), FailureKind::Trapped);
    assert_eq!(pool.chunksize(1).map(&greet, names.clone()).unwrap().len(), 20);

    // Without an initializer the task sees no greeting.
    let plain = Pool::with_processes(ctx(), 1).unwrap();
    assert_eq!(kind_of(plain.apply(&greet, "x".to_string())), FailureKind::Failed);

    // With a timeout too, inputs are interrupted in place (epochs): a kill could not tell an input
    // from the initializer, and the worker would have to initialize again.
    let spin = fixtures().task::<(), u64>("spin").unwrap();
    let timed = Pool::builder(ctx())
        .processes(1)
        .timeout(Duration::from_millis(200))
        .initializer(&set_greeting, "Hi".to_string())
        .unwrap()
        .build()
        .unwrap();
    let pids = timed.pids();
    assert_eq!(kind_of(timed.apply(&spin, ())), FailureKind::Timeout);
    assert_eq!(timed.pids(), pids, "the worker was interrupted, not replaced");
    assert_eq!(timed.apply(&greet, "y".to_string()).unwrap(), "Hi, y");

    let failing = Pool::builder(ctx()).processes(1).initializer(&set_greeting, String::new()).unwrap().build().unwrap();
    match failing.apply(&greet, "x".to_string()) {
        Err(Error::Task(f)) => {
            assert_eq!(f.kind, FailureKind::Load);
            assert!(f.message.contains("initializer `set_greeting` failed: empty greeting"), "{}", f.message);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn map_timeout_bounds_a_whole_map_and_cancels_what_has_not_started() {
    let sleep = fixtures().task::<u64, u64>("sleep_ms").unwrap();
    let counted = fixtures().task::<(Value<i64>, u64), u64>("count_then_sleep").unwrap();
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    // 40 inputs of 100 ms in chunks of 5: 2 s of work on 2 workers.
    let ran = Value::new(ctx(), 0_i64).unwrap();
    let start = Instant::now();
    let inputs: Vec<(Value<i64>, u64)> = (0..40).map(|_| (ran.clone(), 100)).collect();
    assert!(matches!(pool.map_timeout(&counted, inputs, Duration::from_millis(300)), Err(Error::Timeout)));
    assert!(start.elapsed() < Duration::from_millis(1500), "{:?}", start.elapsed());
    // Only the chunks already handed to a worker finish (running, or queued behind: at most 2 per
    // worker, 20 inputs); the rest never run.
    let start = Instant::now();
    assert_eq!(pool.apply(&square, 4).unwrap(), 16);
    assert!(start.elapsed() < Duration::from_secs(5), "the cancelled chunks ran anyway: {:?}", start.elapsed());
    pool.close();
    pool.join();
    assert!(ran.get() <= 20, "{} of 40 inputs ran after the map was cancelled", ran.get());
    // A fresh pool (its workers hold at most 2 chunks each until they know chunks are short).
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let pending = pool.chunksize(1).map_async(&sleep, vec![200; 20]);
    pending.cancel();
    assert!(matches!(pending.get(), Err(Error::Terminated)));
    assert_eq!(pool.map_timeout(&square, 0..100, Duration::from_secs(10)).unwrap().len(), 100);
}

#[test]
fn a_fuel_budget_stops_endless_work_deterministically() {
    let spin = fixtures().task::<(), u64>("spin").unwrap();
    let heavy = fixtures().task::<u64, u64>("compute_heavy").unwrap();
    let pool = Pool::builder(ctx()).processes(1).fuel(5_000_000).build().unwrap();
    let pid = pool.pids();
    match pool.apply(&spin, ()) {
        Err(Error::Task(f)) => {
            assert_eq!(f.kind, FailureKind::FuelExhausted);
            assert!(f.message.contains("5000000"), "{}", f.message);
        }
        other => panic!("unexpected {other:?}"),
    }
    // Each input gets the whole budget: small work fits, large work runs dry, every time.
    assert_eq!(pool.apply(&heavy, 1000).unwrap(), (0..1000u64).map(|i| i * i).sum::<u64>());
    for _ in 0..2 {
        assert_eq!(kind_of(pool.apply(&heavy, 10_000_000)), FailureKind::FuelExhausted);
    }
    assert_eq!(pool.pids(), pid);
}
