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
    assert_eq!(terminated.exit_code(), Some(-wasmproc_tests::os::SIGTERM));
    assert_eq!(killed.exit_code(), Some(-wasmproc_tests::os::SIGKILL));
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
            assert_eq!(
                f.kind,
                FailureKind::WorkerDied { pid: p.pid().unwrap(), signal: Some(wasmproc_tests::os::SIGKILL) }
            );
            assert!(f.message.contains("killed by signal 9"), "{f}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let never = Process::builder(ctx(), &square, 1).unwrap().build().unwrap();
    assert!(matches!(never.result(), Err(Error::NotStarted { .. })));
}

/// The parent of a running process, from /proc.
#[cfg(target_os = "linux")]
fn ppid(pid: u32) -> u32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("a running process");
    // Fields after the parenthesized command: state, ppid, …
    stat[stat.rfind(')').unwrap() + 1..].split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
#[cfg(target_os = "linux")] // The fork server exists on Linux only (it needs pidfds).
fn process_workers_are_forked_by_a_fork_server_and_start_in_the_hosts_directory() {
    let sleep = fixtures().task::<u64, u64>("sleep_ms").unwrap();
    let p = Process::builder(ctx(), &sleep, 5_000).unwrap().start().unwrap();
    let (worker, host) = (p.pid().unwrap(), std::process::id());
    let server = ppid(worker);
    assert_ne!(server, host, "a worker is not a child of the host");
    assert_eq!(ppid(server), host, "the fork server is");
    let cwd = std::fs::read_link(format!("/proc/{worker}/cwd")).unwrap();
    assert_eq!(cwd, std::env::current_dir().unwrap());
    p.terminate();
    p.join();
    assert_eq!(p.exit_code(), Some(-wasmproc_tests::os::SIGTERM));
    assert!(process_gone(worker), "the fork server reaped it");
}

#[test]
#[cfg(target_os = "linux")] // Reads parents from /proc.
fn the_spawn_start_method_starts_each_worker_as_a_new_program() {
    let ctx = wasmproc::Context::builder()
        .cache_dir(crate::common::cache_dir())
        .start_method(wasmproc::StartMethod::Spawn)
        .build()
        .unwrap();
    let module = ctx.load(wasmproc_tests::FIXTURES_WASM).unwrap();
    let sleep = module.task::<u64, u64>("sleep_ms").unwrap();
    let p = Process::builder(&ctx, &sleep, 5_000).unwrap().start().unwrap();
    assert_eq!(ppid(p.pid().unwrap()), std::process::id());
    p.kill();
    p.join();
    assert_eq!(p.exit_code(), Some(-wasmproc_tests::os::SIGKILL));
    let pool = Pool::with_processes(&ctx, 2).unwrap();
    assert!(pool.pids().iter().all(|w| ppid(*w) == std::process::id()));
    assert_eq!(pool.map(&sleep, vec![1, 2, 3]).unwrap(), vec![1, 2, 3]);
}

#[test]
#[cfg(target_os = "linux")] // The fork server exists on Linux only.
fn a_dead_fork_server_is_replaced_and_its_workers_still_answer() {
    // A program path of its own gives this test its own fork server to kill.
    let exe = crate::common::scratch("forkserver-victim");
    let _ = std::fs::remove_file(&exe);
    std::os::unix::fs::symlink(std::env::current_exe().unwrap(), &exe).unwrap();
    let ctx =
        wasmproc::Context::builder().cache_dir(crate::common::cache_dir()).worker_executable(&exe).build().unwrap();
    let module = ctx.load(wasmproc_tests::FIXTURES_WASM).unwrap();
    let sleep = module.task::<u64, u64>("sleep_ms").unwrap();
    let pool = Pool::with_processes(&ctx, 1).unwrap();
    let server = ppid(pool.pids()[0]);
    let p = Process::builder(&ctx, &sleep, 500).unwrap().start().unwrap();
    assert_eq!(ppid(p.pid().unwrap()), server);

    // The pid is of the host's own child.
    assert!(wasmproc_tests::os::kill(server, wasmproc_tests::os::SIGKILL));
    assert!(eventually(10, || process_gone(server)), "the host reaps its dead fork server");
    // Its workers live on: the process answers (its exit status is lost with the server, and
    // its exit code is the one it was told), the pool's worker goes on serving.
    p.join();
    assert_eq!((p.exit_code(), p.result().ok()), (Some(0), Some(500)));
    assert_eq!(pool.apply(&sleep, 1).unwrap(), 1);
    // The next start gets a new server.
    let q = Process::builder(&ctx, &sleep, 5_000).unwrap().start().unwrap();
    let replacement = ppid(q.pid().unwrap());
    assert_ne!(replacement, server);
    assert_eq!(ppid(replacement), std::process::id());
    q.kill();
    q.join();
    assert_eq!(q.exit_code(), Some(-wasmproc_tests::os::SIGKILL));
}

#[test]
fn every_worker_process_gets_its_own_random_bytes() {
    // Worker processes are forks of one fork server: a random generator state copied by the fork
    // and not reseeded would give every worker's guests the same "random" bytes.
    let random = fixtures().task::<(), u64>("random_u64").unwrap();
    let pool = Pool::builder(ctx()).processes(1).max_tasks_per_child(1).build().unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut pids = std::collections::HashSet::new();
    for _ in 0..4 {
        seen.insert(pool.apply(&random, ()).unwrap());
        pids.extend(pool.pids());
    }
    assert!(pids.len() >= 2, "each call ran in a new worker process: {pids:?}");
    assert_eq!(seen.len(), 4, "four worker processes, four different values: {seen:?}");
}
