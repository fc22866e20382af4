//! The thread start method: workers are threads of the host, isolated by the wasm sandbox alone.

use crate::common::thread_ctx;
use std::time::{Duration, Instant};
use wasmproc::{Error, Event, Executor, FailureKind, Lock, Pool, Process, Queue, Value};

#[test]
fn pools_run_on_threads_of_this_process() {
    let (ctx, fixtures) = thread_ctx();
    let square = fixtures.task::<u64, u64>("square").unwrap();
    let whoami = fixtures.task::<(), (String, u32, u32, u32)>("whoami").unwrap();
    let pool = Pool::with_processes(ctx, 2).unwrap();
    assert_eq!(pool.map(&square, 0..1000u64).unwrap()[999], 999 * 999);
    assert!(pool.pids().iter().all(|p| *p == std::process::id()), "no worker processes");
    let (_, pid, _, _) = pool.apply(&whoami, ()).unwrap();
    assert_eq!(pid, std::process::id());
}

#[test]
fn a_trap_a_loop_and_a_memory_bomb_fail_only_their_inputs() {
    let (ctx, fixtures) = thread_ctx();
    let panic_on = fixtures.task::<(u64, u64), u64>("panic_on").unwrap();
    let spin = fixtures.task::<(), u64>("spin").unwrap();
    let allocate = fixtures.task::<u32, usize>("allocate").unwrap();
    let pool =
        Pool::builder(ctx).processes(1).timeout(Duration::from_millis(300)).max_memory(16 << 20).build().unwrap();
    let results = pool.chunksize(1).map(&panic_on, [(1, 2), (2, 2), (3, 2)]);
    match results {
        Err(Error::Task(f)) => assert_eq!((f.index, f.kind), (1, FailureKind::Panicked)),
        other => panic!("expected a panic, got {other:?}"),
    }
    let start = Instant::now();
    assert!(matches!(pool.apply(&spin, ()), Err(Error::Task(f)) if f.kind == FailureKind::Timeout));
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(matches!(pool.apply(&allocate, 64), Err(Error::Task(f)) if f.kind == FailureKind::MemoryLimit));
    assert_eq!(pool.apply(&panic_on, (1, 2)).unwrap(), 1, "the pool goes on");
}

#[test]
fn terminate_and_kill_stop_a_thread_worker_with_python_exit_codes() {
    let (ctx, fixtures) = thread_ctx();
    let spin = fixtures.task::<Event, u64>("signal_then_spin").unwrap();
    let even = fixtures.task::<u64, u64>("even_only").unwrap();
    for (x, code) in [(2, 0), (3, 1)] {
        let p = Process::builder(ctx, &even, x).unwrap().start().unwrap();
        p.join();
        assert_eq!(p.exit_code(), Some(code), "a finished thread worker exits like a process");
    }
    for (stop, code) in [(Process::terminate as fn(&Process<u64>), -15), (Process::kill, -9)] {
        let started = Event::new(ctx).unwrap();
        let p = Process::builder(ctx, &spin, started.clone()).unwrap().start().unwrap();
        assert!(started.wait_timeout(Duration::from_secs(30)), "the task never started");
        assert!(p.is_alive());
        stop(&p);
        assert!(p.join_timeout(Duration::from_secs(5)), "stopped within a few ticks");
        assert_eq!(p.exit_code(), Some(code));
        assert_eq!(p.pid(), Some(std::process::id()));
        match p.result() {
            Err(Error::Task(f)) => {
                let said = format!("(a thread worker) was stopped, as by signal {}", -code);
                assert!(f.message.contains(&said), "a true message for a thread: {}", f.message);
            }
            other => panic!("expected the task to have died, got {other:?}"),
        }
    }
}

#[test]
fn queues_locks_and_executors_work_with_thread_workers() {
    let (ctx, fixtures) = thread_ctx();
    let square_to_queue = fixtures.task::<(Vec<u64>, Queue<u64>), usize>("square_to_queue").unwrap();
    let add = fixtures.task::<(Value<i32>, Lock, u32), ()>("add_with_lock").unwrap();
    let square = fixtures.task::<u64, u64>("square").unwrap();
    let pool = Pool::with_processes(ctx, 2).unwrap();
    let q = Queue::<u64>::new(ctx).unwrap();
    assert_eq!(pool.apply(&square_to_queue, (vec![1, 2, 3], q.clone())).unwrap(), 3);
    assert_eq!((q.get().unwrap(), q.get().unwrap(), q.get().unwrap()), (1, 4, 9));

    let (counter, lock) = (Value::new(ctx, 0).unwrap(), Lock::new(ctx).unwrap());
    let runs: Vec<_> = (0..2).map(|_| pool.apply_async(&add, (counter.clone(), lock.clone(), 2000))).collect();
    runs.into_iter().for_each(|r| r.get().unwrap());
    assert_eq!(counter.get(), 4000, "each worker thread is its own lock owner");

    let executor = Executor::new(ctx, 2).unwrap();
    let futures: Vec<_> = (0..10).map(|x| executor.submit(&square, x)).collect();
    assert_eq!(futures.iter().map(|f| f.result().unwrap()).sum::<u64>(), 285);
    executor.shutdown(true, false);
    pool.close();
    pool.join();
}

#[test]
fn callers_that_take_a_thread_workers_answers_hand_them_on_when_they_stop() {
    // Several threads call one or two thread workers at once, with calls shorter and longer than
    // a caller's spin: a caller takes other callers' answers while it waits for its own, stops
    // waiting before its own came (the worker's reader or its doorbell takes over), or finds the
    // worker answering its own. Every call is answered, with its own result.
    let (ctx, fixtures) = thread_ctx();
    let square = fixtures.task::<u64, u64>("square").unwrap();
    let sleep_ms = fixtures.task::<u64, u64>("sleep_ms").unwrap();
    for workers in [1, 2] {
        let pool = Pool::with_processes(ctx, workers).unwrap();
        std::thread::scope(|s| {
            for t in 0..3u64 {
                let (pool, square, sleep_ms) = (&pool, &square, &sleep_ms);
                s.spawn(move || {
                    for i in 0..300u64 {
                        if (i + t) % 50 == 0 {
                            let slow = pool.apply_async(sleep_ms, 1);
                            assert_eq!(slow.get_timeout(Duration::from_secs(30)).unwrap(), 1);
                        } else {
                            let x = t * 1000 + i;
                            let fast = pool.apply_async(square, x);
                            assert_eq!(fast.get_timeout(Duration::from_secs(30)).unwrap(), x * x);
                        }
                    }
                });
            }
        });
        // One caller waits past its spin for a call that a later one, queued behind it, waits on
        // too; then both are answered.
        let started = Event::new(ctx).unwrap();
        let wait_event = fixtures.task::<(Event, u64), bool>("wait_event").unwrap();
        let first = pool.apply_async(&wait_event, (started.clone(), 60_000));
        let behind: Vec<_> = (0..4u64).map(|x| pool.apply_async(&square, x)).collect();
        assert!(!first.wait_timeout(Duration::from_millis(20)), "waits for the event");
        started.set();
        assert!(first.get_timeout(Duration::from_secs(30)).unwrap());
        let squares: Vec<u64> = behind.into_iter().map(|r| r.get_timeout(Duration::from_secs(30)).unwrap()).collect();
        assert_eq!(squares, [0, 1, 4, 9]);
    }
}
