//! Tasks written in Python (guest-sdk/python), built from `tests/python` with componentize-py by
//! `wasmproc build` (installed by `.ci/run`: `pip install 'componentize-py>=0.25,<0.26'`), and run
//! through the CLI and the typed Rust API like a Rust guest.

use crate::common::{cli_in, ctx, fixtures, fresh_dir, scratch, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use wasmproc::{Error, FailureKind, Module, Pool, Queue};

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
