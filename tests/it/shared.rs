//! Shared memory, `Value`/`Array` and the synchronization primitives, across real processes.

use crate::common::{ctx, fixtures};
use std::time::{Duration, Instant};
use wasmproc::{
    AcquireError, Array, Barrier, Condition, Error, Event, FailureKind, Lock, Pool, Process, Semaphore, SharedMemory,
    Value,
};

#[test]
fn four_processes_add_under_a_lock_and_none_is_lost() {
    let add = fixtures().task::<(Value<i32>, Lock, u32), ()>("add_with_lock").unwrap();
    let counter = Value::new(ctx(), 0).unwrap();
    let lock = Lock::new(ctx()).unwrap();
    let procs: Vec<Process> = (0..4)
        .map(|_| Process::builder(ctx(), &add, (counter.clone(), lock.clone(), 1000)).unwrap().start().unwrap())
        .collect();
    // The host takes part too.
    for _ in 0..1000 {
        let _held = lock.acquire().unwrap();
        counter.set(counter.get() + 1);
    }
    for p in &procs {
        p.join();
        assert_eq!(p.exit_code(), Some(0));
    }
    assert_eq!(counter.get(), 5000);
}

/// `Value::add` is one host call in a task, under the same lock as the host's `add`, `update`
/// and explicit holders: none of 2 × 2000 + 2000 + 2000 adds is lost, for integers and floats.
#[test]
fn fused_adds_from_processes_and_the_host_lose_nothing() {
    let fused = fixtures().task::<(Value<i64>, u32), ()>("add_one_fused").unwrap();
    let counter = Value::new(ctx(), 0_i64).unwrap();
    let procs: Vec<Process> =
        (0..2).map(|_| Process::builder(ctx(), &fused, (counter.clone(), 2000)).unwrap().start().unwrap()).collect();
    for _ in 0..2000 {
        counter.add(1);
        let held = counter.get_lock().acquire().unwrap();
        counter.set(counter.get() + 1);
        drop(held);
    }
    for p in &procs {
        p.join();
        assert_eq!(p.exit_code(), Some(0));
    }
    assert_eq!(counter.get(), 8000);
    // Floats add as floats (halves are exact), and a task sees the value its add made.
    let add = fixtures().task::<(Value<f64>, f64, u32), f64>("add_to_value").unwrap();
    let x = Value::new(ctx(), 1.0_f64).unwrap();
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let last: Vec<f64> = pool.map(&add, (0..4).map(|_| (x.clone(), 0.5, 100))).unwrap();
    assert_eq!(x.get(), 201.0);
    assert!(last.contains(&201.0), "the last add returned the final value: {last:?}");
    assert_eq!(x.add(-1.0), 200.0);
}

#[test]
fn a_lock_held_elsewhere_times_out_in_a_guest_and_at_the_task_timeout() {
    let try_lock = fixtures().task::<(Lock, u64), String>("try_lock_for").unwrap();
    let lock = Lock::new(ctx()).unwrap();
    let held = lock.acquire().unwrap();
    let pool = Pool::builder(ctx()).processes(1).timeout(Duration::from_millis(500)).build().unwrap();
    assert_eq!(pool.apply(&try_lock, (lock.clone(), 50)).unwrap(), "timed out");
    // Waiting longer than the task may run: the task times out.
    let start = Instant::now();
    match pool.apply(&try_lock, (lock.clone(), 60_000)) {
        Err(Error::Task(f)) => assert_eq!(f.kind, FailureKind::Timeout, "{f}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(5));
    drop(held);
    assert_eq!(pool.apply(&try_lock, (lock.clone(), 50)).unwrap(), "acquired");
    assert!(!lock.is_locked(), "the guest's guard released it");
}

#[test]
fn a_lock_whose_holder_is_killed_reports_owner_died_to_the_next_acquirer() {
    let hold = fixtures().task::<Lock, ()>("hold_lock_forever").unwrap();
    let try_lock = fixtures().task::<(Lock, u64), String>("try_lock_for").unwrap();
    let lock = Lock::new(ctx()).unwrap();
    let p = Process::builder(ctx(), &hold, lock.clone()).unwrap().start().unwrap();
    let start = Instant::now();
    while !lock.is_locked() {
        assert!(start.elapsed() < Duration::from_secs(10), "the process never took the lock");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(matches!(lock.try_acquire(), Err(AcquireError::Timeout)));
    p.kill();
    p.join();
    // A guest is the next acquirer: it is told, and holds the lock until its task ends.
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    assert_eq!(pool.apply(&try_lock, (lock.clone(), 5_000)).unwrap(), "owner died");
    assert!(lock.acquire_timeout(Duration::from_secs(5)).is_ok(), "then it is an ordinary lock again");
}

#[test]
fn a_region_shared_by_the_host_and_two_guests_shows_every_write() {
    let mark = fixtures().task::<(SharedMemory, u32, u8), Vec<u8>>("shm_mark").unwrap();
    let shm = SharedMemory::new(ctx(), 4).unwrap();
    shm.write(0, b"h").unwrap();
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let a = pool.apply(&mark, (shm.clone(), 1, b'a')).unwrap();
    assert_eq!(a, b"ha\0\0");
    let b = Process::builder(ctx(), &mark, (shm.clone(), 2, b'b')).unwrap().start().unwrap();
    b.join();
    assert_eq!(shm.read_vec(0, 4).unwrap(), b"hab\0");
    // Out of bounds in a guest is an error of that call, not a crash.
    match pool.apply(&mark, (shm.clone(), 4, b'x')) {
        Err(Error::Task(f)) => assert!(f.message.contains("out of bounds"), "{f}"),
        other => panic!("expected an out-of-bounds error, got {other:?}"),
    }
    assert!(shm.write(3, b"xy").is_err(), "and on the host");
    // Atomic counting from two processes at once is exact.
    let count = fixtures().task::<(SharedMemory, u32), ()>("shm_count").unwrap();
    let counter = SharedMemory::new(ctx(), 8).unwrap();
    let runs: Vec<_> = (0..2).map(|_| pool.apply_async(&count, (counter.clone(), 50_000))).collect();
    runs.into_iter().for_each(|r| r.get().unwrap());
    assert_eq!(counter.load_u64(0).unwrap(), 100_000);
}

#[test]
fn named_regions_attach_by_name_and_live_until_unlinked() {
    let name = format!("wasmproc-it-{}", std::process::id());
    let created = SharedMemory::create(ctx(), &name, 16).unwrap();
    let attached = SharedMemory::attach(ctx(), &name).unwrap();
    created.store_u32(4, 7).unwrap();
    assert_eq!(attached.load_u32(4).unwrap(), 7);
    assert!(SharedMemory::create(ctx(), &name, 16).is_err(), "the name is taken");
    drop(created);
    assert!(SharedMemory::attach(ctx(), &name).is_ok(), "a named region outlives its handles");
    attached.unlink().unwrap();
    if cfg!(windows) {
        // Windows has no unlink: a name lives while a mapping of it is open (`attached`, here).
        assert!(SharedMemory::attach(ctx(), &name).is_ok());
    } else {
        assert!(matches!(SharedMemory::attach(ctx(), &name), Err(Error::SharedMemory { .. })));
    }
    assert_eq!(attached.load_u32(4).unwrap(), 7, "mappings stay valid after unlink");
}

#[test]
fn a_barrier_releases_all_parties_together() {
    let wait = fixtures().task::<Barrier, u32>("barrier_wait").unwrap();
    let barrier = Barrier::new(ctx(), 4).unwrap();
    let pool = Pool::with_processes(ctx(), 3).unwrap();
    let guests: Vec<_> = (0..3).map(|_| pool.apply_async(&wait, barrier.clone())).collect();
    let mut indices = vec![barrier.wait_timeout(Duration::from_secs(30)).unwrap()];
    indices.extend(guests.into_iter().map(|g| g.get().unwrap()));
    indices.sort();
    assert_eq!(indices, vec![0, 1, 2, 3]);
}

#[test]
fn events_semaphores_and_conditions_work_across_processes() {
    let wait = fixtures().task::<(Event, u64), bool>("wait_event").unwrap();
    let arrive = fixtures().task::<(Event, Value<i32>, u64), bool>("arrive_and_wait_event").unwrap();
    let event = Event::new(ctx()).unwrap();
    let pool = Pool::with_processes(ctx(), 3).unwrap();
    assert!(!pool.apply(&wait, (event.clone(), 20)).unwrap(), "not set: times out");
    let arrived = Value::new(ctx(), 0).unwrap();
    let waiting: Vec<_> = (0..3).map(|_| pool.apply_async(&arrive, (event.clone(), arrived.clone(), 30_000))).collect();
    assert!(crate::common::eventually(30, || arrived.get() == 3), "the waiters never arrived");
    event.set();
    assert!(waiting.into_iter().all(|w| w.get().unwrap()));

    // Semaphore(2) over 5 callers: never more than 2 at once.
    let permit = fixtures().task::<(Semaphore, Value<i32>, Value<i32>, u64), ()>("use_permit").unwrap();
    let sem = Semaphore::new(ctx(), 2).unwrap();
    let (active, peak) = (Value::new(ctx(), 0).unwrap(), Value::new(ctx(), 0).unwrap());
    // Each holds its permit long enough for the next process to start (a process start takes
    // ~5 ms on Linux, up to ~0.5 s under Wine).
    let hold = if cfg!(windows) { 1_500 } else { 100 };
    let procs: Vec<Process> = (0..5)
        .map(|_| {
            Process::builder(ctx(), &permit, (sem.clone(), active.clone(), peak.clone(), hold))
                .unwrap()
                .start()
                .unwrap()
        })
        .collect();
    procs.iter().for_each(Process::join);
    assert_eq!(peak.get(), 2);
    assert_eq!((active.get(), sem.value()), (0, 2));
    let bounded = Semaphore::bounded(ctx(), 1).unwrap();
    assert!(bounded.release().is_err(), "a bounded semaphore refuses an extra release");

    // A guest waits on a condition until the host has counted far enough.
    let wait_for = fixtures().task::<(Condition, Value<i32>, i32), i32>("wait_for_value").unwrap();
    let cond = Condition::new(ctx()).unwrap();
    let value = Value::new(ctx(), 0).unwrap();
    let waiter = pool.apply_async(&wait_for, (cond.clone(), value.clone(), 3));
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(30));
        let held = cond.acquire().unwrap();
        value.update(|v| v + 1);
        held.notify_all();
    }
    assert_eq!(waiter.get_timeout(Duration::from_secs(30)).unwrap(), 3);
}

#[test]
#[allow(clippy::approx_constant)] // the tutorial's number
fn value_and_array_are_modified_in_place_by_a_process() {
    let modify = fixtures().task::<(Value<f64>, Array<i32>), ()>("modify_shared").unwrap();
    let num = Value::new(ctx(), 0.0).unwrap();
    let arr = Array::new(ctx(), &[0, 1, 2, 3, 4]).unwrap();
    let p = Process::builder(ctx(), &modify, (num.clone(), arr.clone())).unwrap().start().unwrap();
    p.join();
    assert_eq!(p.exit_code(), Some(0));
    assert_eq!(num.get(), 3.1415926);
    assert_eq!(arr.to_vec(), vec![0, 2, 4, 6, 8]);
}
