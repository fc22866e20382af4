//! Queues shared by the host and guests.

use crate::common::{ctx, fixtures};
use std::time::{Duration, Instant};
use wasmproc::{Error, FailureKind, GetError, Pool, Process, PutError, Queue};

#[test]
fn host_side_semantics() {
    let q = Queue::<u64>::bounded(ctx(), 2).unwrap();
    assert_eq!((q.capacity(), q.is_empty(), q.is_full()), (Some(2), true, false));
    q.put(1).unwrap();
    q.try_put(2).unwrap();
    assert!(q.is_full());
    assert_eq!(q.try_put(3), Err(PutError::Full(3)));
    let start = Instant::now();
    assert_eq!(q.put_timeout(4, Duration::from_millis(50)).unwrap_err().into_inner(), 4);
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!((q.get().unwrap(), q.get().unwrap()), (1, 2));
    assert_eq!(q.try_get(), Err(GetError::Empty));
    assert_eq!(q.get_timeout(Duration::from_millis(20)), Err(GetError::Empty));
    q.put(5).unwrap();
    q.close();
    assert_eq!(q.put(6), Err(PutError::Closed(6)));
    assert_eq!(q.get().unwrap(), 5, "a closed queue drains");
    assert_eq!(q.get(), Err(GetError::Closed));
}

#[test]
fn a_guest_puts_and_the_host_gets_in_order() {
    let square = fixtures().task::<(Vec<u64>, Queue<u64>), usize>("square_to_queue").unwrap();
    let q = Queue::<u64>::new(ctx()).unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    assert_eq!(pool.apply(&square, (vec![1, 2, 3, 4], q.clone())).unwrap(), 4);
    let got: Vec<u64> = std::iter::from_fn(|| q.try_get().ok()).collect();
    assert_eq!(got, vec![1, 4, 9, 16]);
}

#[test]
fn the_host_feeds_a_process_until_a_none_sentinel() {
    let drain = fixtures().task::<Queue<Option<u64>>, u64>("drain").unwrap();
    let q = Queue::<Option<u64>>::new(ctx()).unwrap();
    let p = Process::builder(ctx(), &drain, q.clone()).unwrap().start().unwrap();
    for i in 1..=10 {
        q.put(Some(i)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    q.put(None).unwrap();
    p.join();
    assert_eq!(p.exit_code(), Some(0));
    // Closing works as the stop signal too.
    let q = Queue::<Option<u64>>::new(ctx()).unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    let pending = pool.apply_async(&drain, q.clone());
    q.put(Some(5)).unwrap();
    q.close();
    assert_eq!(pending.get().unwrap(), 5);
}

#[test]
fn many_producers_lose_nothing_and_duplicate_nothing() {
    let produce = fixtures().task::<(Queue<u64>, u64, u64), u64>("produce").unwrap();
    let q = Queue::<u64>::bounded(ctx(), 64).unwrap();
    let pool = Pool::with_processes(ctx(), 3).unwrap();
    let producers: Vec<_> = (0..6).map(|p| pool.apply_async(&produce, (q.clone(), p * 500, 500))).collect();
    let mut got: Vec<u64> = (0..3000).map(|_| q.get_timeout(Duration::from_secs(20)).unwrap()).collect();
    for p in producers {
        assert_eq!(p.get().unwrap(), 500);
    }
    assert_eq!(q.try_get(), Err(GetError::Empty));
    got.sort();
    assert_eq!(got, (0..3000).collect::<Vec<_>>());
}

#[test]
fn a_bounded_queue_holds_a_fast_producer_back_and_keeps_its_order() {
    let produce = fixtures().task::<(Queue<u64>, u64, u64), u64>("produce").unwrap();
    let q = Queue::<u64>::bounded(ctx(), 2).unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    let producer = pool.apply_async(&produce, (q.clone(), 0, 100));
    assert!(crate::common::eventually(30, || q.is_full()), "the producer never filled the queue");
    assert!(q.len() <= 2, "the bound holds: {}", q.len());
    assert!(!producer.ready(), "the producer waits for room");
    let got: Vec<u64> = (0..100).map(|_| q.get_timeout(Duration::from_secs(10)).unwrap()).collect();
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    assert_eq!(producer.get().unwrap(), 100);
}

#[test]
fn waiting_in_a_guest_honours_its_own_timeout_and_the_task_timeout() {
    let get_within = fixtures().task::<(Queue<u64>, u64), String>("get_within").unwrap();
    let q = Queue::<u64>::new(ctx()).unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    let start = Instant::now();
    assert_eq!(pool.apply(&get_within, (q.clone(), 100)).unwrap(), "queue is empty");
    assert!(start.elapsed() >= Duration::from_millis(100));
    q.put(7).unwrap();
    assert_eq!(pool.apply(&get_within, (q.clone(), 1000)).unwrap(), "got 7");

    let timed = Pool::builder(ctx()).processes(1).timeout(Duration::from_millis(300)).build().unwrap();
    let start = Instant::now();
    match timed.apply(&get_within, (q.clone(), 60_000)) {
        Err(Error::Task(f)) => assert_eq!(f.kind, FailureKind::Timeout),
        other => panic!("unexpected {other:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(10), "{:?}", start.elapsed());
}

#[test]
fn an_item_of_the_wrong_type_is_a_clear_error_and_the_queue_stays_usable() {
    // The typed lookup refuses a queue of the wrong item type outright…
    assert!(fixtures().task::<(Queue<String>, u64, u64), u64>("produce").is_err());
    // …and if the check is skipped, the reader gets a decode error, not garbage.
    let produce = fixtures().task_unchecked::<(Queue<String>, u64, u64), u64>("produce").unwrap();
    let q = Queue::<String>::new(ctx()).unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    pool.apply(&produce, (q.clone(), 300, 1)).unwrap();
    assert!(matches!(q.get(), Err(GetError::Decode(_))));
    q.put("fine".to_string()).unwrap();
    assert_eq!(q.get().unwrap(), "fine");
}

#[test]
fn a_joinable_queue_is_joined_when_guests_mark_every_item_done() {
    use wasmproc::JoinableQueue;
    let worker = fixtures().task::<(JoinableQueue<u64>, Queue<u64>), u64>("joinable_worker").unwrap();
    let jobs = JoinableQueue::<u64>::new(ctx()).unwrap();
    let results = Queue::<u64>::new(ctx()).unwrap();
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let workers: Vec<_> = (0..2).map(|_| pool.apply_async(&worker, (jobs.clone(), results.clone()))).collect();
    for i in 0..100 {
        jobs.put(i).unwrap();
    }
    assert!(jobs.join_timeout(Duration::from_secs(20)), "{} unfinished", jobs.unfinished());
    assert_eq!(results.len(), 100, "join returned only after every item was processed");
    jobs.close();
    let handled: u64 = workers.into_iter().map(|w| w.get().unwrap()).sum();
    assert_eq!(handled, 100);
    assert_eq!(jobs.task_done(), Err(wasmproc::TooManyTaskDone));
}

#[test]
fn puts_refused_after_close_fail_the_task_and_stop_the_producer() {
    let produce = fixtures().task::<Queue<u64>, u64>("produce_until_closed").unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    let q = Queue::<u64>::new(ctx()).unwrap();
    let made = pool.apply_async(&produce, q.clone());
    // Read some, then close while the producer is still putting as fast as it can.
    for i in 0..1000 {
        assert_eq!(q.get().unwrap(), i, "per-producer order");
    }
    q.close();
    let mut received = 1000;
    while q.try_get().is_ok() {
        received += 1;
    }
    // The producer learns of the close and stops; what it put after the close was not delivered,
    // and the task says so instead of claiming success.
    match made.get_timeout(Duration::from_secs(20)) {
        Ok(n) => assert_eq!(n, received, "every put it counted was delivered"),
        Err(Error::Task(f)) => {
            assert_eq!(f.kind, FailureKind::Undelivered, "{f}");
            assert!(f.message.contains("not delivered"), "{f}");
        }
        Err(e) => panic!("the producer did not stop cleanly: {e}"),
    }
}

#[test]
fn a_process_whose_two_queues_are_closed_is_told_of_both_and_stops() {
    let produce = fixtures().task::<(Queue<u64>, Queue<u64>), (u64, u64)>("produce_to_both").unwrap();
    let (a, b) = (Queue::<u64>::new(ctx()).unwrap(), Queue::<u64>::new(ctx()).unwrap());
    let p = Process::builder(ctx(), &produce, (a.clone(), b.clone())).unwrap().daemon(true).start().unwrap();
    // Both queues flow: the worker knows them unbounded, so its puts are sent without waiting.
    for i in 0..100 {
        assert_eq!((a.get().unwrap(), b.get().unwrap()), (i, i));
    }
    a.close();
    b.close();
    // Sends to both are refused now. Told of each refusal, the worker waits for answers to its
    // next puts, which say `Closed`, and the task ends; told of the first only, it would put to the
    // second forever.
    assert!(p.join_timeout(Duration::from_secs(60)), "the producer was not told that both queues closed");
    assert_eq!(p.exit_code(), Some(1));
    let failure = p.failure().unwrap();
    assert_eq!(failure.kind, FailureKind::Undelivered, "{failure}");
}
