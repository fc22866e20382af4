//! The `concurrent.futures` twin: futures, as_completed, wait, cancel, shutdown, broken workers.

use crate::common::{ctx, fixtures};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use wasmproc::{Error, Executor, FailureKind, ReturnWhen, as_completed, wait};

#[test]
fn futures_complete_with_values_errors_and_callbacks() {
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let even = fixtures().task::<u64, u64>("even_only").unwrap();
    let executor = Executor::new(ctx(), 2).unwrap();
    let futures: Vec<_> = (0..20).map(|x| executor.submit(&square, x)).collect();
    let called = Arc::new(AtomicUsize::new(0));
    for f in &futures {
        let called = called.clone();
        f.add_done_callback(move |f| {
            assert!(f.done());
            called.fetch_add(1, Ordering::SeqCst);
        });
    }
    let values: Vec<u64> = futures.iter().map(|f| f.result().unwrap()).collect();
    assert_eq!(values, (0..20).map(|x| x * x).collect::<Vec<_>>());
    assert!(crate::common::eventually(5, || called.load(Ordering::SeqCst) == 20), "every callback ran");
    assert!(matches!(futures[0].result(), Err(Error::AlreadyTaken)));

    let odd = executor.submit(&even, 3);
    let err = odd.exception().expect("3 is odd");
    assert!(matches!(&err, Error::Task(f) if f.kind == FailureKind::Failed), "{err}");
    assert!(matches!(odd.result(), Err(Error::Task(_))), "the error stays for result()");
    assert!(executor.submit(&even, 4).exception().is_none());
}

#[test]
fn as_completed_yields_in_completion_order_and_results_time_out() {
    let sleep = fixtures().task::<u64, u64>("sleep_ms").unwrap();
    let executor = Executor::new(ctx(), 3).unwrap();
    let futures: Vec<_> = [600, 100, 350].into_iter().map(|ms| executor.submit(&sleep, ms)).collect();
    assert!(matches!(futures[0].result_timeout(Duration::from_millis(10)), Err(Error::Timeout)));
    let order: Vec<u64> = as_completed(futures, None).map(|f| f.unwrap().result().unwrap()).collect();
    assert_eq!(order, vec![100, 350, 600]);

    let slow = executor.submit(&sleep, 2_000);
    let mut timed = as_completed([slow.clone()], Some(Duration::from_millis(50)));
    assert!(matches!(timed.next(), Some(Err(Error::Timeout))));
    assert!(timed.next().is_none());
    assert_eq!(slow.result().unwrap(), 2_000, "the call itself went on");
}

#[test]
fn cancel_withdraws_only_calls_that_have_not_started() {
    let sleep = fixtures().task::<u64, u64>("sleep_ms").unwrap();
    let executor = Executor::new(ctx(), 1).unwrap();
    let running = executor.submit(&sleep, 500);
    // The single worker holds `running` and may have one more queued at it; the rest wait.
    let queued: Vec<_> = (0..4).map(|_| executor.submit(&sleep, 10)).collect();
    assert!(!running.cancel(), "a running call is not cancelled");
    let cancelled: Vec<bool> = queued.iter().map(|f| f.cancel()).collect();
    assert!(cancelled.iter().filter(|c| **c).count() >= 2, "{cancelled:?}");
    for (f, c) in queued.iter().zip(&cancelled) {
        if *c {
            assert!(f.cancelled() && f.done());
            assert!(matches!(f.result(), Err(Error::Cancelled)));
        } else {
            assert_eq!(f.result().unwrap(), 10);
        }
    }
    assert_eq!(running.result().unwrap(), 500);
}

#[test]
fn a_dead_worker_fails_only_its_futures_and_the_executor_goes_on() {
    let sleep = fixtures().task::<u64, u64>("sleep_ms").unwrap();
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let executor = Executor::new(ctx(), 2).unwrap();
    let doomed = executor.submit(&sleep, 5_000);
    let fine = executor.submit(&sleep, 300);
    // Kill whichever worker holds the long call: the one that is still busy after `fine` ends.
    assert_eq!(fine.result().unwrap(), 300);
    let pids = executor.pool().pids();
    for pid in &pids {
        // A worker not running `doomed` idles, and killing it fails nothing (it is replaced).
        wasmproc_tests::os::kill(*pid, wasmproc_tests::os::SIGKILL);
    }
    match doomed.result() {
        Err(Error::Task(f)) => assert!(matches!(f.kind, FailureKind::WorkerDied { .. }), "{f}"),
        other => panic!("expected WorkerDied, got {other:?}"),
    }
    // Wait for both replacements: a call handed to a killed worker before the pool noticed its
    // death would be blamed on it (the pool cannot tell whether it started).
    assert!(crate::common::eventually(10, || { executor.pool().pids().iter().all(|p| *p != 0 && !pids.contains(p)) }));
    let after: Vec<_> = (0..4).map(|x| executor.submit(&square, x)).collect();
    assert_eq!(after.iter().map(|f| f.result().unwrap()).collect::<Vec<_>>(), vec![0, 1, 4, 9]);
}

#[test]
fn wait_returns_when_asked() {
    let sleep = fixtures().task::<u64, u64>("sleep_ms").unwrap();
    let even = fixtures().task::<u64, u64>("even_only").unwrap();
    let executor = Executor::new(ctx(), 2).unwrap();
    let fs = vec![executor.submit(&sleep, 50), executor.submit(&sleep, 1_500)];
    let first = wait(fs.clone(), None, ReturnWhen::FirstCompleted);
    assert_eq!((first.done.len(), first.not_done.len()), (1, 1));
    let timed = wait(fs.clone(), Some(Duration::from_millis(10)), ReturnWhen::AllCompleted);
    assert_eq!(timed.not_done.len(), 1);
    let all = wait(fs, None, ReturnWhen::AllCompleted);
    assert_eq!(all.done.len(), 2);

    let fs = vec![executor.submit(&even, 1), executor.submit(&sleep, 2_000)];
    let start = Instant::now();
    let failed = wait(fs, None, ReturnWhen::FirstException);
    assert!(start.elapsed() < Duration::from_millis(1_900), "returned at the first failure");
    assert_eq!(failed.done.len(), 1);
}

#[test]
fn map_with_a_timeout_and_shutdown() {
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let sleep = fixtures().task::<u64, u64>("sleep_ms").unwrap();
    let executor = Executor::new(ctx(), 2).unwrap();
    let squares: Vec<u64> = executor.map(&square, 0..10, None).collect::<Result<_, _>>().unwrap();
    assert_eq!(squares[9], 81);
    let mut timed = executor.map(&sleep, [10, 3_000, 10], Some(Duration::from_millis(500)));
    assert_eq!(timed.next().unwrap().unwrap(), 10);
    assert!(matches!(timed.next(), Some(Err(Error::Timeout))));
    assert!(timed.next().is_none());

    // A fresh executor: after tiny tasks a worker may hold up to 16 calls queued at it, and a call
    // handed to a worker runs (as in Python, whose executor also pre-queues calls).
    let executor = Executor::new(ctx(), 2).unwrap();
    let long = executor.submit(&sleep, 300);
    let queued: Vec<_> = (0..6).map(|_| executor.submit(&sleep, 200)).collect();
    executor.shutdown(true, true);
    assert_eq!(long.result().unwrap(), 300, "started calls finish");
    assert!(queued.iter().any(|f| f.cancelled()), "calls that had not started were cancelled");
    assert!(queued.iter().all(|f| f.done()));
    assert!(matches!(executor.submit(&square, 2).result(), Err(Error::PoolClosed)));
}

#[test]
fn futures_can_be_awaited() {
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let executor = Executor::new(ctx(), 1).unwrap();
    let f = executor.submit(&square, 12);
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    assert_eq!(rt.block_on(f).unwrap(), 144);
}
