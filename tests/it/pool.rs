//! Pool semantics, mirroring Python's `multiprocessing.Pool`.

use crate::common::{ctx, eventually, fixtures, process_gone};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use wasmproc::{Error, FailureKind, Pool};

#[test]
fn map_squares_in_order() {
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let pool = Pool::new(ctx()).unwrap();
    assert_eq!(pool.processes(), 2);
    assert_eq!(pool.map(&square, 0..10).unwrap(), vec![0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
    assert_eq!(pool.map(&square, Vec::<u64>::new()).unwrap(), Vec::<u64>::new());
}

#[test]
fn map_with_default_and_explicit_chunksizes_keeps_order() {
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let pool = Pool::with_processes(ctx(), 3).unwrap();
    let expected: Vec<u64> = (0..10_000u64).map(|x| x * x).collect();
    assert_eq!(pool.map(&square, 0..10_000).unwrap(), expected);
    for k in [1, 7, 10_000, 50_000] {
        assert_eq!(pool.chunksize(k).map(&square, 0..10_000).unwrap(), expected, "chunksize {k}");
    }
}

#[test]
fn starmap_and_zero_parameter_tasks() {
    let add = fixtures().task::<(i64, i64), i64>("add").unwrap();
    let answer = fixtures().task::<(), u32>("answer").unwrap();
    let join = fixtures().task::<(Vec<String>, String), String>("join").unwrap();
    let pool = Pool::new(ctx()).unwrap();
    assert_eq!(pool.starmap(&add, [(1, 2), (3, 4), (5, 6)]).unwrap(), vec![3, 7, 11]);
    assert_eq!(pool.apply(&answer, ()).unwrap(), 42);
    assert_eq!(pool.apply(&join, (vec!["a".into(), "b".into()], "+".into())).unwrap(), "a+b");
}

#[test]
fn apply_async_get_timeout_ready_wait_successful() {
    let sleep = fixtures().task::<u64, u64>("sleep_ms").unwrap();
    let even = fixtures().task::<u64, u64>("even_only").unwrap();
    let pool = Pool::new(ctx()).unwrap();
    let slow = pool.apply_async(&sleep, 300);
    assert!(!slow.ready());
    assert_eq!(slow.successful(), None);
    assert!(matches!(slow.get_timeout(Duration::from_millis(10)), Err(Error::Timeout)));
    assert!(slow.wait_timeout(Duration::from_secs(10)));
    assert!(slow.ready());
    assert_eq!(slow.successful(), Some(true));
    assert_eq!(slow.get_timeout(Duration::from_secs(1)).unwrap(), 300);
    assert!(matches!(slow.get_timeout(Duration::from_secs(1)), Err(Error::AlreadyTaken)));

    let bad = pool.apply_async(&even, 3);
    bad.wait();
    assert_eq!(bad.successful(), Some(false));
    match bad.get() {
        Err(Error::Task(f)) => {
            assert_eq!((f.task.as_str(), f.index, &f.kind), ("even_only", 0, &FailureKind::Failed));
            assert_eq!(f.message, "3 is odd");
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// A caller that waits for an answer takes its worker's answers itself (see `pool::pump`); an
/// answer that nobody waits for, or whose caller stopped waiting, still arrives.
#[test]
fn answers_arrive_whether_or_not_their_caller_waits_for_them() {
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let sleep = fixtures().task::<u64, u64>("sleep_ms").unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    let arrives = |r: &wasmproc::AsyncResult<u64>| {
        let end = Instant::now() + Duration::from_secs(20);
        while !r.ready() {
            assert!(Instant::now() < end, "an answer nobody waits for never arrived");
            std::thread::yield_now();
        }
    };
    for i in 0..200u64 {
        assert_eq!(pool.apply(&square, i).unwrap(), i * i);
        // Right after a caller took its answer, with nobody waiting for this one.
        let unwatched = pool.apply_async(&square, i + 1);
        arrives(&unwatched);
        assert_eq!(unwatched.get().unwrap(), (i + 1) * (i + 1));
    }
    // A caller that stops waiting before its answer comes, and one that waits past its spin.
    let slow = pool.apply_async(&sleep, 100);
    assert!(matches!(slow.get_timeout(Duration::from_millis(1)), Err(Error::Timeout)));
    arrives(&slow);
    assert_eq!(pool.apply(&sleep, 30).unwrap(), 30);
    // Callers on several threads at once, each waiting for its own.
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (pool, square) = (&pool, &square);
            s.spawn(move || {
                for i in 0..100 {
                    assert_eq!(pool.apply(square, t * 1000 + i).unwrap(), (t * 1000 + i).pow(2));
                }
            });
        }
    });
}

#[test]
fn map_async_runs_while_the_caller_works() {
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let pool = Pool::new(ctx()).unwrap();
    let pending = pool.map_async(&square, 0..1000);
    let many: Vec<_> = (0..10).map(|i| pool.apply_async(&square, i)).collect();
    let singles: Vec<u64> = many.into_iter().map(|r| r.get().unwrap()).collect();
    assert_eq!(singles, (0..10).map(|x| x * x).collect::<Vec<_>>());
    assert_eq!(pending.get().unwrap().len(), 1000);
}

#[test]
fn imap_yields_in_order_and_unordered_in_completion_order() {
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let sleep = fixtures().task::<u64, u64>("sleep_ms").unwrap();
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let ordered: Vec<u64> = pool.imap(&square, 0..100).map(Result::unwrap).collect();
    assert_eq!(ordered, (0..100).map(|x| x * x).collect::<Vec<_>>());
    let chunked: Vec<u64> = pool.chunksize(7).imap(&square, 0..100).map(Result::unwrap).collect();
    assert_eq!(chunked, ordered);
    let unordered: BTreeSet<u64> = pool.imap_unordered(&square, 0..100).map(Result::unwrap).collect();
    assert_eq!(unordered, ordered.iter().copied().collect());

    // Two workers: the long sleep starts first but the short one finishes first.
    let finished: Vec<u64> = pool.imap_unordered(&sleep, [600, 10]).map(Result::unwrap).collect();
    assert_eq!(finished, vec![10, 600]);
    let in_order: Vec<u64> = pool.imap(&sleep, [300, 10]).map(Result::unwrap).collect();
    assert_eq!(in_order, vec![300, 10]);
}

#[test]
fn imap_next_timeout_gives_up_waiting_without_losing_the_input() {
    // A guest that waits on an event the test sets: the first wait must time out, the second gets
    // the value (a timed-out wait loses nothing), then the end.
    let wait = fixtures().task::<(wasmproc::Event, u64), bool>("wait_event").unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    let go = wasmproc::Event::new(ctx()).unwrap();
    let mut results = pool.imap(&wait, [(go.clone(), 60_000)]);
    assert!(matches!(results.next_timeout(Duration::from_millis(200)), Some(Err(Error::Timeout))));
    go.set();
    assert!(matches!(results.next_timeout(Duration::from_secs(30)), Some(Ok(true))));
    assert!(results.next_timeout(Duration::from_millis(1)).is_none(), "every input was yielded");
}

#[test]
fn imap_pulls_an_endless_input_lazily() {
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let pulled = Cell::new(0u64);
    let input = (0u64..).inspect(|_| pulled.set(pulled.get() + 1));
    let first: Vec<u64> = pool.chunksize(5).imap(&square, input).take(1000).map(Result::unwrap).collect();
    assert_eq!(first[999], 999 * 999);
    // At most the window (4 chunks of 5 per worker) beyond what was consumed.
    assert!(pulled.get() <= 1000 + 2 * 4 * 5, "pulled {} items for 1000 results", pulled.get());
}

#[test]
fn failures_arrive_in_place_and_map_reports_the_lowest_index() {
    let even = fixtures().task::<u64, u64>("even_only").unwrap();
    let pool = Pool::new(ctx()).unwrap();
    let results: Vec<_> = pool.imap(&even, 0..6).collect();
    for (i, r) in results.iter().enumerate() {
        match (i % 2, r) {
            (0, Ok(v)) => assert_eq!(*v, i as u64),
            (1, Err(Error::Task(f))) => assert_eq!((f.index, &f.kind), (i, &FailureKind::Failed)),
            other => panic!("unexpected {other:?}"),
        }
    }
    match pool.chunksize(2).map(&even, [0, 2, 4, 5, 7]) {
        Err(Error::Task(f)) => assert_eq!((f.index, f.message.as_str()), (3, "5 is odd")),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_panic_costs_one_result_not_the_worker() {
    let panic_on = fixtures().task::<(u64, u64), u64>("panic_on").unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    let pids = pool.pids();
    // One chunk of five: the panic at input 2 fails only input 2.
    let results: Vec<_> = pool.chunksize(5).imap(&panic_on, (0..5).map(|x| (x, 2))).collect();
    assert_eq!(results.len(), 5);
    for (i, r) in results.iter().enumerate() {
        if i == 2 {
            match r {
                Err(Error::Task(f)) => {
                    assert_eq!((f.task.as_str(), f.index, &f.kind), ("panic_on", 2, &FailureKind::Panicked));
                    assert!(f.message.contains("boom at 2"), "{}", f.message);
                }
                other => panic!("unexpected {other:?}"),
            }
        } else {
            assert_eq!(*r.as_ref().unwrap(), i as u64);
        }
    }
    assert_eq!(pool.pids(), pids, "the worker survived the panic");
}

#[test]
fn instances_stay_warm_and_restart_after_a_trap() {
    let counter = fixtures().task::<(), u64>("counter").unwrap();
    let trap = fixtures().task::<(), u32>("trap").unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    assert_eq!(pool.apply(&counter, ()).unwrap(), 1);
    assert_eq!(pool.apply(&counter, ()).unwrap(), 2);
    match pool.apply(&trap, ()) {
        Err(Error::Task(f)) => {
            assert_eq!(f.kind, FailureKind::Trapped);
            assert!(f.message.contains("unreachable"), "{}", f.message);
        }
        other => panic!("unexpected {other:?}"),
    }
    // The trapped instance was discarded; the next task gets a fresh one.
    assert_eq!(pool.apply(&counter, ()).unwrap(), 1);
}

#[test]
fn large_results_and_records() {
    #[derive(Serialize, Deserialize)]
    struct Record {
        id: u64,
        value: i64,
    }
    #[derive(Serialize, Deserialize, Debug)]
    struct Processed {
        id: u64,
        processed: i64,
        category: String,
    }
    let bytes = fixtures().task::<u32, Vec<u8>>("bytes").unwrap();
    let process = fixtures().task::<Record, Processed>("process_record").unwrap();
    let pool = Pool::new(ctx()).unwrap();
    let big = pool.apply(&bytes, 16 << 20).unwrap();
    assert_eq!(big.len(), 16 << 20);
    assert!(big.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
    let out = pool.map(&process, (0..10_000).map(|i| Record { id: i, value: i as i64 * 2 })).unwrap();
    assert_eq!(out.len(), 10_000);
    assert_eq!((out[0].id, out[0].processed, out[0].category.as_str()), (0, 0, "low"));
    assert_eq!((out[30].processed, out[30].category.as_str()), (3600, "high"));
}

#[test]
fn the_sandbox_grants_no_files_and_no_environment() {
    let read = fixtures().task::<String, usize>("read_file").unwrap();
    let env = fixtures().task::<(), usize>("env_count").unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    let readable = wasmproc_tests::FIXTURES_WASM.to_string();
    assert!(std::path::Path::new(&readable).exists());
    match pool.apply(&read, readable) {
        Err(Error::Task(f)) => assert_eq!(f.kind, FailureKind::Failed),
        other => panic!("a guest read a host file: {other:?}"),
    }
    assert_eq!(pool.apply(&env, ()).unwrap(), 0);
}

#[test]
fn close_join_and_terminate() {
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let sleep = fixtures().task::<(wasmproc::Event, u64), u64>("signal_then_sleep").unwrap();

    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let pids = pool.pids();
    let queued = pool.map_async(&square, 0..100);
    pool.close();
    assert!(matches!(pool.apply(&square, 1), Err(Error::PoolClosed)));
    pool.join();
    assert_eq!(queued.get().unwrap().len(), 100, "close lets queued work finish");
    assert!(pids.iter().all(|p| process_gone(*p)), "joined workers are reaped");

    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let pids = pool.pids();
    let started = wasmproc::Event::new(ctx()).unwrap();
    let running = pool.apply_async(&sleep, (started.clone(), 30_000));
    assert!(started.wait_timeout(Duration::from_secs(30)), "the task never started");
    let start = Instant::now();
    pool.terminate();
    assert!(start.elapsed() < Duration::from_secs(10), "terminate does not wait for the task");
    assert!(matches!(running.get(), Err(Error::Terminated)));
    assert!(pids.iter().all(|p| process_gone(*p)), "terminated workers are reaped");
    assert!(matches!(pool.apply(&square, 1), Err(Error::Terminated)));
}

#[test]
fn dropping_a_pool_leaves_no_processes() {
    let sleep = fixtures().task::<u64, u64>("sleep_ms").unwrap();
    let pool = Pool::with_processes(ctx(), 3).unwrap();
    let pids = pool.pids();
    assert_eq!(pids.len(), 3);
    assert!(pids.iter().all(|p| !process_gone(*p)));
    let pending = pool.apply_async(&sleep, 10_000);
    drop(pool);
    assert!(matches!(pending.get(), Err(Error::Terminated)));
    assert!(eventually(5, || pids.iter().all(|p| process_gone(*p))), "workers left behind: {pids:?}");
}
