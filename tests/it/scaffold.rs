//! `wasmproc new` and `wasmproc build` as a user runs them, in a temporary directory, and the guest
//! SDK packaged on its own (`cargo package`) building a task project.

use crate::common::{cli_in, fresh_dir as fresh, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the CLI in `cwd`; guest builds share the fixtures' target directory.
fn wasmproc(cwd: &Path, args: &[&str]) -> Output {
    cli_in(cwd).args(args).env("CARGO_TARGET_DIR", guest_target_dir()).output().expect("run the CLI")
}

/// `<target>/wasm-guests`, where the fixtures were built.
fn guest_target_dir() -> PathBuf {
    Path::new(wasmproc_tests::FIXTURES_WASM).ancestors().nth(3).expect("the fixtures' target directory").to_path_buf()
}

/// Builds the project at `dir` and returns its component.
fn build(cwd: &Path, dir: &str) -> PathBuf {
    let o = wasmproc(cwd, &["build", dir]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let wasm = PathBuf::from(text(&o.stdout).trim());
    assert!(wasm.is_file() && wasm.extension().is_some_and(|e| e == "wasm"), "{wasm:?}");
    wasm
}

#[test]
fn new_and_build_make_a_rust_task_project_that_runs() {
    let root = fresh("scaffold-rust");
    let o = wasmproc(&root, &["new", "my-tasks"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("wasmproc build my-tasks"), "{}", text(&o.stderr));
    for file in ["Cargo.toml", "src/lib.rs", ".gitignore"] {
        assert!(root.join("my-tasks").join(file).is_file(), "{file}");
    }
    let wasm = build(&root, "my-tasks");
    assert!(wasm.ends_with("my_tasks.wasm"), "{wasm:?}");

    // The CLI and the typed API run it.
    let w = wasm.to_str().unwrap();
    let o = wasmproc(&root, &["run", w, "square", "7"]);
    assert_eq!((o.status.code(), text(&o.stdout).as_str()), (Some(0), "49\n"), "{}", text(&o.stderr));
    let o = wasmproc(&root, &["run", w, "add", "9223372036854775807", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("overflows"), "{}", text(&o.stderr));
    let module = crate::common::ctx().load(&wasm).unwrap();
    let square = module.task::<u64, u64>("square").unwrap();
    assert_eq!(wasmproc::Pool::with_processes(crate::common::ctx(), 1).unwrap().apply(&square, 9).unwrap(), 81);

    // A project whose code does not compile: cargo's errors, then a clear failure.
    let lib = root.join("my-tasks/src/lib.rs");
    std::fs::write(&lib, std::fs::read_to_string(&lib).unwrap().replace("x * x", "x * \"x\"")).unwrap();
    let o = wasmproc(&root, &["build", "my-tasks"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("error[E0277]") && err.contains("for wasm32-wasip2 failed"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn new_and_build_refuse_what_they_cannot_do_and_say_why() {
    let root = fresh("scaffold-errors");
    std::fs::create_dir_all(root.join("taken")).unwrap();
    std::fs::write(root.join("taken/notes.txt"), "mine").unwrap();
    let o = wasmproc(&root, &["new", "taken"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o.stderr).contains("already exists and is not empty"), "{}", text(&o.stderr));
    assert_eq!(std::fs::read_to_string(root.join("taken/notes.txt")).unwrap(), "mine", "nothing overwritten");

    let o = wasmproc(&root, &["new", "9lives"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o.stderr).contains("cannot name a crate"), "{}", text(&o.stderr));

    let o = wasmproc(&root, &["new", "elsewhere", "--sdk", root.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o.stderr).contains("holds no wasmproc-guest crate"), "{}", text(&o.stderr));
    assert!(!root.join("elsewhere").exists());

    let o = wasmproc(&root, &["new", "py", "--lang", "cobol"]);
    assert_eq!(o.status.code(), Some(2), "an unknown language is a usage error");

    let o = wasmproc(&root, &["build", "taken"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o.stderr).contains("not a task project"), "{}", text(&o.stderr));

    // Without cargo: what to install.
    let o = wasmproc(&root, &["new", "no-tools"]);
    assert_eq!(o.status.code(), Some(0));
    let o = cli_in(&root)
        .args(["build", "no-tools"])
        .env("PATH", root.join("empty-path"))
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("https://rustup.rs"), "{}", text(&o.stderr));
}

#[test]
fn the_guest_sdk_packages_on_its_own_and_builds_a_task_project() {
    let root = fresh("scaffold-package");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let packaged = root.join("package-target");
    let o = Command::new(cargo)
        .current_dir(workspace)
        .args(["package", "--no-verify", "--allow-dirty", "--target-dir"])
        .arg(&packaged)
        .args(["-p", "wasmproc-wire", "-p", "wasmproc-guest-macros", "-p", "wasmproc-guest"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let unpacked = root.join("sdk");
    std::fs::create_dir_all(&unpacked).unwrap();
    for krate in ["wasmproc-wire", "wasmproc-guest-macros", "wasmproc-guest"] {
        let file = packaged.join(format!("package/{krate}-{}.crate", env!("CARGO_PKG_VERSION")));
        let o = Command::new("tar").arg("xzf").arg(&file).arg("-C").arg(&unpacked).output().unwrap();
        assert!(o.status.success(), "{file:?}: {}", text(&o.stderr));
    }
    // The WIT travels inside the crate as a file of its own.
    let wit = unpacked.join(format!("wasmproc-guest-{}/wit/task.wit", env!("CARGO_PKG_VERSION")));
    assert!(std::fs::symlink_metadata(&wit).unwrap().is_file(), "{wit:?}");

    let o = wasmproc(&root, &["new", "packaged-tasks", "--sdk", "sdk"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let manifest = std::fs::read_to_string(root.join("packaged-tasks/Cargo.toml")).unwrap();
    assert!(manifest.contains(unpacked.canonicalize().unwrap().to_str().unwrap()), "{manifest}");
    let wasm = build(&root, "packaged-tasks");
    let o = wasmproc(&root, &["run", wasm.to_str().unwrap(), "square", "12"]);
    assert_eq!((o.status.code(), text(&o.stdout).as_str()), (Some(0), "144\n"), "{}", text(&o.stderr));
}
