//! Tasks written in Python (guest-sdk/python), built from `tests/python` with componentize-py by
//! `wasmproc build` (installed by `.ci/run`: `pip install 'componentize-py>=0.25,<0.26'`), and run
//! through the CLI and the typed Rust API like a Rust guest.

use crate::common::{cli_in, ctx, fixtures, fresh_dir, scratch, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;
use wasmproc::{
    Array, Barrier, Condition, Connection, Dict, Error, Event, FailureKind, JoinableQueue, List, Lock, Manager, Module,
    Namespace, Pool, Process, Queue, RecvError, Semaphore, SharedMemory, Value, pipe,
};

fn cli(cwd: &Path, args: &[&str]) -> Output {
    cli_in(cwd).args(args).output().expect("run the CLI")
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// Builds the Python project at `source` (relative to the repository) from a copy in a scratch
/// directory (nothing is written into the source tree), with `wasmproc build`. A missing
/// componentize-py fails here with what to install.
fn build_copy(source: &str) -> PathBuf {
    let dir = fresh_dir(&source.replace('/', "-"));
    std::fs::copy(repo().join(source).join("app.py"), dir.join("app.py")).unwrap();
    let sdk = repo().join("guest-sdk/python/src");
    let manifest = std::fs::read_to_string(repo().join(source).join("pyproject.toml")).unwrap();
    let manifest = manifest.replace("\"../../guest-sdk/python/src\"", &format!("{:?}", sdk.display().to_string()));
    std::fs::write(dir.join("pyproject.toml"), manifest).unwrap();
    let o = cli(&dir, &["build", "."]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "building {source} failed (is componentize-py installed? `pip install 'componentize-py>=0.25,<0.26'`, as .ci/run does):\n{}",
        text(&o.stderr)
    );
    let wasm = dir.join(text(&o.stdout).trim());
    assert!(wasm.is_file(), "{wasm:?}");
    wasm
}

/// The Python fixtures (`tests/python`), built once per test run.
fn python_wasm() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| build_copy("tests/python"))
}

fn module() -> &'static Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE.get_or_init(|| ctx().load(python_wasm()).expect("load the Python fixtures"))
}

#[test]
fn a_python_guest_lists_rust_types_and_runs_under_the_cli() {
    let wasm = python_wasm().to_str().unwrap();
    let here = std::env::temp_dir();
    let o = cli(&here, &["inspect", wasm]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let listing = text(&o.stdout);
    for line in [
        "square(x: i64) -> i64",
        "describe(name: String, xs: Vec<i64>) -> (String, i64)",
        "stats(xs: Vec<f64>) -> Option<(f64, f64)>",
        "flags(d: HashMap<String, bool>, raw: Vec<u8>) -> Vec<String>",
        "put_squares(q: Queue<Option<i64>>, n: i64) -> i64",
    ] {
        assert!(listing.contains(line), "{line} not in\n{listing}");
    }
    let o = cli(&here, &["run", wasm, "describe", "\"ada\"", "[1, 2, 3]"]);
    assert_eq!((o.status.code(), text(&o.stdout).as_str()), (Some(0), "[\"ADA\",6]\n"), "{}", text(&o.stderr));
    let o = cli(&here, &["run", wasm, "fail", "7"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("ValueError: 7 is not welcome") && text(&o.stderr).contains("Traceback"));
    let o = cli(&here, &["run", wasm, "square", "\"seven\""]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("expected an int"), "{}", text(&o.stderr));
}

#[test]
fn the_typed_rust_api_calls_a_python_guest_with_postcard() {
    let m = module();
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let square = m.task::<i64, i64>("square").unwrap();
    assert_eq!(pool.map(&square, vec![-3, 0, 4]).unwrap(), vec![9, 0, 16]);
    let describe = m.task::<(String, Vec<i64>), (String, i64)>("describe").unwrap();
    assert_eq!(pool.apply(&describe, ("ab".into(), vec![-5, 10])).unwrap(), ("AB".to_string(), 5));
    let stats = m.task::<Vec<f64>, Option<(f64, f64)>>("stats").unwrap();
    assert_eq!(pool.apply(&stats, vec![2.5, -1.0]).unwrap(), Some((-1.0, 2.5)));
    assert_eq!(pool.apply(&stats, vec![]).unwrap(), None);
    let flags = m.task::<(std::collections::HashMap<String, bool>, Vec<u8>), Vec<String>>("flags").unwrap();
    let d = std::collections::HashMap::from([("on".to_string(), true), ("off".to_string(), false)]);
    assert_eq!(pool.apply(&flags, (d, vec![0xca, 0xfe])).unwrap(), vec!["on".to_string(), "cafe".to_string()]);
    // Python's int is i64: a u64 handle is refused before anything runs.
    assert!(matches!(m.task::<u64, u64>("square"), Err(Error::SignatureMismatch { .. })));

    // An exception fails its input; SystemExit is a panic; an int too big for i64 is a bad
    // result. The pool goes on after each.
    let fail = m.task::<i64, i64>("fail").unwrap();
    let stop = m.task::<i64, i64>("stop").unwrap();
    let too_big = m.task::<i64, i64>("too_big").unwrap();
    let kind = |r: wasmproc::Result<i64>| match r {
        Err(Error::Task(f)) => (f.kind, f.message),
        other => panic!("unexpected {other:?}"),
    };
    let (k, message) = kind(pool.apply(&fail, 3));
    assert_eq!(k, FailureKind::Failed);
    assert!(message.contains("ValueError: 3 is not welcome") && message.contains("in fail"), "{message}");
    assert_eq!(kind(pool.apply(&stop, 2)).0, FailureKind::Panicked);
    assert_eq!(kind(pool.apply(&too_big, 1)).0, FailureKind::BadResult);
    assert_eq!(pool.apply(&square, 12).unwrap(), 144);

    // The standard library the guide lists works when imported at module level; a module first
    // imported while a task runs is not there.
    let stdlib = m.task::<(), Vec<String>>("stdlib").unwrap();
    let got = pool.apply(&stdlib, ()).unwrap();
    let want = ["{\"a\": 1}", "acc", "4", "2d711642", "2", "[1, 3, 6]", "07000000", "True", "1", "True"];
    assert_eq!(got, want);
    let late = m.task::<(), String>("late_import").unwrap();
    let (k, message) = match pool.apply(&late, ()) {
        Err(Error::Task(f)) => (f.kind, f.message),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(k, FailureKind::Failed);
    assert!(message.contains("No module named 'fractions'"), "{message}");

    let whoami = m.task::<(), (String, i64, i64, i64)>("whoami").unwrap();
    let (name, pid, _, parent) = pool.apply(&whoami, ()).unwrap();
    assert!(name.starts_with("pool") && pool.pids().contains(&(pid as u32)), "{name} {pid}");
    assert_eq!(parent, i64::from(std::process::id()));
}

#[test]
fn a_queue_is_shared_by_a_python_task_a_rust_task_and_the_host() {
    let q = Queue::<Option<i64>>::new(ctx()).unwrap();
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    // Python puts 0, 1, 4, …, 81; the host takes the first and adds its own.
    let put_squares = module().task::<(Queue<Option<i64>>, i64), i64>("put_squares").unwrap();
    assert_eq!(pool.apply(&put_squares, (q.clone(), 10)).unwrap(), 10);
    assert_eq!(q.get().unwrap(), Some(0));
    q.put(Some(-5)).unwrap();
    q.put(None).unwrap();
    // A Rust task sums the rest: the bytes Python wrote are the bytes Rust reads.
    let drain = fixtures().task::<Queue<Option<i64>>, i64>("drain_signed").unwrap();
    assert_eq!(pool.apply(&drain, q.clone()).unwrap(), 285 - 5);
    // And Python reads what the host writes.
    for item in [Some(-3), Some(40), None] {
        q.put(item).unwrap();
    }
    let total = module().task::<Queue<Option<i64>>, i64>("total").unwrap();
    assert_eq!(pool.apply(&total, q).unwrap(), 37);
}

/// Sized numbers: `u64`, `i8`, `f32` and `list[u8]` annotations are the Rust types they name.
#[test]
fn sized_numbers_cross_as_the_rust_types_they_name() {
    let sized = module().task::<(u64, i8, f32, Vec<u8>), (u64, i8, f32, i64)>("sized").unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    assert_eq!(pool.apply(&sized, (u64::MAX, -128, 1.5, vec![200, 100])).unwrap(), (u64::MAX, -128, 1.5, 300));
    let o = cli(&std::env::temp_dir(), &["run", python_wasm().to_str().unwrap(), "sized", "-1", "0", "0", "[]"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("-1 does not fit in u64"), "{}", text(&o.stderr));
}

/// Python and Rust tasks update one `Value` under one `Lock`, with the host, and none of the adds
/// is lost; `Value.add` is fused; an `Array` is changed in place.
#[test]
#[allow(clippy::approx_constant)] // the tutorial's number
fn python_and_rust_tasks_share_values_locks_and_arrays() {
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let py_add = module().task::<(Value<i32>, Lock, u32), ()>("add_with_lock").unwrap();
    let rust_add = fixtures().task::<(Value<i32>, Lock, u32), ()>("add_with_lock").unwrap();
    let (counter, lock) = (Value::new(ctx(), 0).unwrap(), Lock::new(ctx()).unwrap());
    let runs = [
        pool.apply_async(&py_add, (counter.clone(), lock.clone(), 300)),
        pool.apply_async(&rust_add, (counter.clone(), lock.clone(), 300)),
        pool.apply_async(&py_add, (counter.clone(), lock.clone(), 300)),
    ];
    for _ in 0..300 {
        let _held = lock.acquire().unwrap();
        counter.set(counter.get() + 1);
    }
    runs.into_iter().for_each(|r| r.get().unwrap());
    assert_eq!(counter.get(), 1200);

    let fused = module().task::<(Value<i64>, u32), ()>("add_one_fused").unwrap();
    let total = Value::new(ctx(), 0_i64).unwrap();
    let run = pool.apply_async(&fused, (total.clone(), 500));
    (0..500).for_each(|_| {
        total.add(1);
    });
    run.get().unwrap();
    assert_eq!(total.get(), 1000);

    let modify = module().task::<(Value<f64>, Array<i32>), ()>("modify_shared").unwrap();
    let (num, arr) = (Value::new(ctx(), 0.0).unwrap(), Array::new(ctx(), &[0, 1, -2, 3]).unwrap());
    let p = Process::builder(ctx(), &modify, (num.clone(), arr.clone())).unwrap().start().unwrap();
    p.join();
    assert_eq!(p.exit_code(), Some(0));
    assert_eq!((num.get(), arr.to_vec()), (3.1415926, vec![0, 2, -4, 6]));
    // A Value of another width is refused before anything runs.
    assert!(matches!(
        module().task::<(Value<i64>, Lock, u32), ()>("add_with_lock"),
        Err(Error::SignatureMismatch { .. })
    ));
}

/// A pipe end works in a Python task as in a Rust one: a Rust task sends to a Python task, and a
/// Python task answers the host.
#[test]
fn python_tasks_use_pipes_with_rust_tasks_and_the_host() {
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let send_all = fixtures().task::<(Connection<String>, Vec<String>), usize>("send_all").unwrap();
    let collect = module().task::<Connection<String>, Vec<String>>("collect").unwrap();
    let (a, b) = pipe::<String>(ctx()).unwrap();
    let words: Vec<String> = ["Hello", "World", "Done"].map(String::from).to_vec();
    let got = pool.apply_async(&collect, b);
    assert_eq!(pool.apply(&send_all, (a, words.clone())).unwrap(), 3);
    assert_eq!(got.get().unwrap(), words);

    // Python sends to the host, which then sees end of file.
    let py_send = module().task::<(Connection<String>, Vec<String>), i64>("send_all").unwrap();
    let (here, there) = pipe::<String>(ctx()).unwrap();
    assert_eq!(pool.apply(&py_send, (there, words.clone())).unwrap(), 3);
    assert_eq!((0..3).map(|_| here.recv().unwrap()).collect::<Vec<_>>(), words);
    assert_eq!(here.recv(), Err(RecvError::Eof));

    let doubler = module().task::<Connection<u64>, u64>("doubler").unwrap();
    let (here, there) = pipe::<u64>(ctx()).unwrap();
    let answered = pool.apply_async(&doubler, there);
    for i in [1, 21, u64::MAX / 4] {
        here.send(i).unwrap();
        assert_eq!(here.recv_timeout(Duration::from_secs(30)).unwrap(), i * 2);
    }
    here.close();
    assert_eq!(answered.get().unwrap(), 3);
}

/// Events, semaphores, conditions and barriers, with Python and Rust tasks waiting together.
#[test]
fn python_tasks_wait_on_events_semaphores_conditions_and_barriers() {
    let pool = Pool::with_processes(ctx(), 3).unwrap();
    let py_wait = module().task::<Barrier, u32>("barrier_wait").unwrap();
    let rust_wait = fixtures().task::<Barrier, u32>("barrier_wait").unwrap();
    let barrier = Barrier::new(ctx(), 4).unwrap();
    let guests = [
        pool.apply_async(&py_wait, barrier.clone()),
        pool.apply_async(&rust_wait, barrier.clone()),
        pool.apply_async(&py_wait, barrier.clone()),
    ];
    let mut indices = vec![barrier.wait_timeout(Duration::from_secs(30)).unwrap()];
    indices.extend(guests.into_iter().map(|g| g.get().unwrap()));
    indices.sort();
    assert_eq!(indices, vec![0, 1, 2, 3]);

    let arrive = module().task::<(Event, Value<i32>, u64), bool>("arrive_and_wait_event").unwrap();
    let (event, arrived) = (Event::new(ctx()).unwrap(), Value::new(ctx(), 0).unwrap());
    assert!(!pool.apply(&arrive, (event.clone(), arrived.clone(), 10)).unwrap(), "not set: times out");
    let waiting: Vec<_> = (0..2).map(|_| pool.apply_async(&arrive, (event.clone(), arrived.clone(), 30_000))).collect();
    assert!(crate::common::eventually(30, || arrived.get() == 3), "the waiters never arrived");
    event.set();
    assert!(waiting.into_iter().all(|w| w.get().unwrap()));

    let permit = module().task::<(Semaphore, Value<i32>, Value<i32>, u64), ()>("use_permit").unwrap();
    let sem = Semaphore::new(ctx(), 2).unwrap();
    let (active, peak) = (Value::new(ctx(), 0).unwrap(), Value::new(ctx(), 0).unwrap());
    let runs: Vec<_> =
        (0..4).map(|_| pool.apply_async(&permit, (sem.clone(), active.clone(), peak.clone(), 50))).collect();
    runs.into_iter().for_each(|r| r.get().unwrap());
    assert!((1..=2).contains(&peak.get()), "peak {}", peak.get());
    assert_eq!((active.get(), sem.value()), (0, 2));

    let wait_for = module().task::<(Condition, Value<i32>, i32), i32>("wait_for_value").unwrap();
    let (cond, value) = (Condition::new(ctx()).unwrap(), Value::new(ctx(), 0).unwrap());
    let waiter = pool.apply_async(&wait_for, (cond.clone(), value.clone(), 3));
    for _ in 0..3 {
        let held = cond.acquire().unwrap();
        value.update(|v| v + 1);
        held.notify_all();
    }
    assert_eq!(waiter.get_timeout(Duration::from_secs(30)).unwrap(), 3);

    let try_lock = module().task::<(Lock, u64), String>("try_lock_for").unwrap();
    let lock = Lock::new(ctx()).unwrap();
    let held = lock.acquire().unwrap();
    assert_eq!(pool.apply(&try_lock, (lock.clone(), 20)).unwrap(), "timed out");
    drop(held);
    assert_eq!(pool.apply(&try_lock, (lock, 20)).unwrap(), "acquired");
}

/// Manager objects, shared memory and a joinable queue, from Python tasks next to Rust ones.
#[test]
fn python_tasks_use_managers_shared_memory_and_joinable_queues() {
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    let manager = Manager::new(ctx()).unwrap();
    let (d, l, lock) = (manager.dict::<u32, u32>().unwrap(), manager.list::<u32>().unwrap(), Lock::new(ctx()).unwrap());
    let py = module().task::<(Dict<u32, u32>, List<u32>, Lock, u32), ()>("manager_worker").unwrap();
    let rust = fixtures().task::<(Dict<u32, u32>, List<u32>, Lock, u32), ()>("manager_worker").unwrap();
    let runs: Vec<_> = (0..4)
        .map(|i| pool.apply_async(if i % 2 == 0 { &py } else { &rust }, (d.clone(), l.clone(), lock.clone(), i)))
        .collect();
    runs.into_iter().for_each(|r| r.get().unwrap());
    let mut entries = d.items().unwrap();
    entries.sort();
    assert_eq!(entries, vec![(0, 0), (1, 10), (2, 20), (3, 30)]);
    let mut items = l.to_vec().unwrap();
    items.sort();
    assert_eq!(items, vec![0, 1, 2, 3]);

    let misc = module().task::<(Namespace, List<String>), String>("manager_misc").unwrap();
    let ns = manager.namespace().unwrap();
    ns.set("greeting", "hello".to_string()).unwrap();
    let names = manager.list::<String>().unwrap();
    names.append("first".into()).unwrap();
    names.append("last".into()).unwrap();
    assert_eq!(
        pool.apply(&misc, (ns.clone(), names.clone())).unwrap(),
        "hello last list assignment index out of range 1"
    );
    assert_eq!(ns.get::<u32>("answer").unwrap(), Some(42));
    assert_eq!(names.to_vec().unwrap(), vec!["first".to_string()]);

    let mark = module().task::<(SharedMemory, u32, u8), Vec<u8>>("shm_mark").unwrap();
    let shm = SharedMemory::new(ctx(), 4).unwrap();
    shm.write(0, b"h").unwrap();
    assert_eq!(pool.apply(&mark, (shm.clone(), 1, b'a')).unwrap(), b"ha\0\0");
    match pool.apply(&mark, (shm.clone(), 4, b'x')) {
        Err(Error::Task(f)) => assert!(f.message.contains("IndexError"), "{f}"),
        other => panic!("expected an IndexError, got {other:?}"),
    }

    let worker = module().task::<(JoinableQueue<u64>, Queue<u64>), u64>("joinable_worker").unwrap();
    let (jobs, results) = (JoinableQueue::<u64>::new(ctx()).unwrap(), Queue::<u64>::new(ctx()).unwrap());
    let workers: Vec<_> = (0..2).map(|_| pool.apply_async(&worker, (jobs.clone(), results.clone()))).collect();
    (0..20).for_each(|i| jobs.put(i).unwrap());
    assert!(jobs.join_timeout(Duration::from_secs(30)), "{} unfinished", jobs.unfinished());
    assert_eq!(results.len(), 20);
    jobs.close();
    assert_eq!(workers.into_iter().map(|w| w.get().unwrap()).sum::<u64>(), 20);
}

#[test]
fn new_and_build_make_a_python_task_project_and_say_what_is_missing() {
    let root = fresh_dir("scaffold-python");
    let o = cli(&root, &["new", "py-tasks", "--lang", "python"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = cli(&root, &["build", "py-tasks"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let wasm = text(&o.stdout).trim().to_string();
    let o = cli(&root, &["run", &wasm, "square", "7"]);
    assert_eq!((o.status.code(), text(&o.stdout).as_str()), (Some(0), "49\n"), "{}", text(&o.stderr));
    let o = cli(&root, &["run", &wasm, "add", "9223372036854775807", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("OverflowError"), "{}", text(&o.stderr));

    // Without componentize-py on PATH: what to install.
    let o = cli_in(&root).args(["build", "py-tasks"]).env("PATH", root.join("empty-path")).output().unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("pip install 'componentize-py"), "{}", text(&o.stderr));
}

#[test]
fn the_python_examples_give_the_tutorials_results() {
    let wasm = build_copy("examples/python");
    let w = wasm.to_str().unwrap();
    let here = std::env::temp_dir();
    let map = |task: &str, input: &str, extra: &[&str]| {
        let mut child = cli_in(&here)
            .args(["map", w, task])
            .args(extra)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{task}: {}", text(&o.stderr));
        text(&o.stdout)
    };
    let range: String = (0..10).map(|i| format!("{i}\n")).collect();
    assert_eq!(map("square", &range, &[]), "0\n1\n4\n9\n16\n25\n36\n49\n64\n81\n");
    assert_eq!(map("cube", "1\n2\n3\n4\n5\n", &[]), "1\n8\n27\n64\n125\n");
    assert_eq!(map("process_data", &range, &["-p", "4"]), "0\n2\n4\n6\n8\n10\n12\n14\n16\n18\n");
    assert_eq!(map("add", "[1,2]\n[3,4]\n", &[]), "3\n7\n");
    assert_eq!(map("compute_heavy", "1000\n10\n", &[]), "332833500\n285\n");
    assert_eq!(map("process_record", "[1,10]\n[2,70]\n", &[]), "[1,100,\"low\"]\n[2,4900,\"high\"]\n");
    let start = std::time::Instant::now();
    assert_eq!(map("slow_square", "1\n2\n3\n4\n", &["-p", "4", "-c", "1"]), "1\n4\n9\n16\n");
    assert!(start.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn the_python_sdk_carries_the_same_wit_and_installs_with_pip() {
    let wit = std::fs::read(repo().join("wit/task.wit")).unwrap();
    let copy = std::fs::read(repo().join("guest-sdk/python/src/wasmproc_guest/wit/task.wit")).unwrap();
    assert!(wit == copy, "guest-sdk/python/src/wasmproc_guest/wit/task.wit differs from wit/task.wit: copy it over");

    // An installed package (what `wasmproc build` finds without an `sdk` setting) has its WIT.
    // Installed from a copy: pip builds in the directory it is given.
    let copy = scratch("pip-source");
    let _ = std::fs::remove_dir_all(&copy);
    copy_tree(&repo().join("guest-sdk/python"), &copy);
    let target = scratch("pip-target");
    let _ = std::fs::remove_dir_all(&target);
    let o = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--target"])
        .arg(&target)
        .arg(&copy)
        .output()
        .expect("python3 (with pip) is needed, as for componentize-py");
    assert!(o.status.success(), "pip install guest-sdk/python: {}", text(&o.stderr));
    assert_eq!(std::fs::read(target.join("wasmproc_guest/wit/task.wit")).unwrap(), wit);
}

/// Copies the files under `from` to `to` (without caches and build output).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if ["__pycache__", "build", "target"].iter().any(|skip| name == *skip)
            || name.to_string_lossy().ends_with(".egg-info")
        {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}
