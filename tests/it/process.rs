//! `Process`, as Python's `multiprocessing.Process`: lifecycle, exit codes, signals.

use crate::common::{ctx, eventually, fixtures, process_gone};
use std::time::{Duration, Instant};
use wasmproc::{Error, Event, FailureKind, Pool, Process};

#[test]
fn lifecycle_and_exit_code_zero() {
    let sleep = fixtures().task::<u64, u64>("sleep_ms").unwrap();
    let p = Process::builder(ctx(), &sleep, 300).unwrap().name("MyWorker").build().unwrap();
    assert_eq!((p.name(), p.is_alive(), p.pid(), p.exit_code()), ("MyWorker", false, None, None));
    p.start().unwrap();
    assert!(p.is_alive());
    let pid = p.pid().unwrap();
    assert!(!p.join_timeout(Duration::from_millis(50)));
    assert!(matches!(p.start(), Err(wasmproc::Error::AlreadyStarted { .. })));
    p.join();
    assert_eq!((p.is_alive(), p.exit_code()), (false, Some(0)));
    assert!(process_gone(pid), "joined processes are reaped");
}

#[test]
fn a_failing_task_exits_with_one_and_keeps_its_failure() {
    let even = fixtures().task::<u64, u64>("even_only").unwrap();
    let panic_on = fixtures().task::<(u64, u64), u64>("panic_on").unwrap();
    let p = Process::builder(ctx(), &even, 3).unwrap().start().unwrap();
    p.join();
    assert_eq!(p.exit_code(), Some(1));
    assert_eq!(p.failure().map(|f| (f.kind, f.message)), Some((FailureKind::Failed, "3 is odd".to_string())));
    let p = Process::builder(ctx(), &panic_on, (1, 1)).unwrap().start().unwrap();
    p.join();
    assert_eq!(p.exit_code(), Some(1));
    assert_eq!(p.failure().map(|f| f.kind), Some(FailureKind::Panicked));
}

#[test]
fn terminate_stops_an_infinite_loop_with_minus_fifteen_and_kill_gives_minus_nine() {
    let spin = fixtures().task::<Event, u64>("signal_then_spin").unwrap();
    let started = [Event::new(ctx()).unwrap(), Event::new(ctx()).unwrap()];
    let terminated = Process::builder(ctx(), &spin, started[0].clone()).unwrap().start().unwrap();
    let killed = Process::builder(ctx(), &spin, started[1].clone()).unwrap().start().unwrap();
    assert!(started.iter().all(|s| s.wait_timeout(Duration::from_secs(30))), "the tasks never started");
    assert!(terminated.is_alive() && killed.is_alive());
    let start = Instant::now();
    terminated.terminate();
    killed.kill();
    terminated.join();
    killed.join();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(terminated.exit_code(), Some(-libc::SIGTERM));
    assert_eq!(killed.exit_code(), Some(-libc::SIGKILL));
    assert!(process_gone(terminated.pid().unwrap()) && process_gone(killed.pid().unwrap()));
}

#[test]
fn a_guest_sees_its_own_process_info() {
    let whoami = fixtures().task::<(), (String, u32, u32, u32)>("whoami").unwrap();
    let p = Process::builder(ctx(), &whoami, ()).unwrap().name("inspector").start().unwrap();
    p.join();
    assert_eq!(p.exit_code(), Some(0));

    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let pids = pool.pids();
    let seen: Vec<(String, u32, u32, u32)> = pool.chunksize(1).map(&whoami, vec![(); 20]).unwrap();
    for (name, pid, worker_id, parent) in seen {
        assert_eq!(parent, std::process::id());
        assert_eq!(pids[worker_id as usize], pid);
        assert!(name.starts_with("pool") && name.ends_with(&format!("-{worker_id}")), "{name}");
    }
}

#[test]
fn dropping_a_daemon_kills_it_and_dropping_a_non_daemon_waits() {
    let spin = fixtures().task::<(), u64>("spin").unwrap();
    let sleep = fixtures().task::<u64, u64>("sleep_ms").unwrap();
    let daemon = Process::builder(ctx(), &spin, ()).unwrap().daemon(true).start().unwrap();
    let pid = daemon.pid().unwrap();
    drop(daemon);
    assert!(eventually(2, || process_gone(pid)), "a dropped daemon is killed and reaped");

    let p = Process::builder(ctx(), &sleep, 300).unwrap().start().unwrap();
    let start = Instant::now();
    drop(p);
    assert!(start.elapsed() >= Duration::from_millis(250), "a dropped non-daemon is joined");
}

#[test]
fn a_process_hands_back_its_value_once() {
    let square = fixtures().task::<u64, u64>("square").unwrap();
    let answer = fixtures().task::<(), u32>("answer").unwrap();
    let even = fixtures().task::<u64, u64>("even_only").unwrap();
    let spin = fixtures().task::<(), u64>("spin").unwrap();
    let p = Process::builder(ctx(), &square, 7).unwrap().start().unwrap();
    assert_eq!(p.result().unwrap(), 49, "result waits for the process");
    assert_eq!(p.exit_code(), Some(0));
    assert!(matches!(p.result(), Err(Error::AlreadyTaken)));
    // A task of no parameters takes `()`.
    let p = Process::builder(ctx(), &answer, ()).unwrap().start().unwrap();
    assert_eq!(p.result().unwrap(), 42);
    let p = Process::builder(ctx(), &even, 3).unwrap().start().unwrap();
    match p.result() {
        Err(Error::Task(f)) => assert_eq!((f.kind, f.message.as_str()), (FailureKind::Failed, "3 is odd")),
        other => panic!("unexpected {other:?}"),
    }
    let p = Process::builder(ctx(), &spin, ()).unwrap().start().unwrap();
    p.kill();
    match p.result() {
        Err(Error::Task(f)) => {
            assert_eq!(f.kind, FailureKind::WorkerDied { pid: p.pid().unwrap(), signal: Some(libc::SIGKILL) });
            assert!(f.message.contains("killed by signal 9"), "{f}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let never = Process::builder(ctx(), &square, 1).unwrap().build().unwrap();
    assert!(matches!(never.result(), Err(Error::NotStarted { .. })));
}
