//! Default deny: a guest touches only what its pool grants.

use crate::common::{ctx, fixtures, scratch};
use wasmproc::{DirAccess, Error, FailureKind, Pool, Sandbox};

fn data_dir(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello sandbox").unwrap();
    dir
}

fn failed<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Err(Error::Task(f)) if f.kind == FailureKind::Failed => f.message,
        other => panic!("expected the task to fail, got {other:?}"),
    }
}

#[test]
fn nothing_is_granted_by_default() {
    let read = fixtures().task::<String, usize>("read_file").unwrap();
    let get_env = fixtures().task::<String, Option<String>>("get_env").unwrap();
    let args = fixtures().task::<(), Vec<String>>("guest_args").unwrap();
    let dir = data_dir("sandbox-default");
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    failed(pool.apply(&read, dir.join("hello.txt").display().to_string()));
    failed(pool.apply(&read, "/etc/passwd".to_string()));
    // The host has PATH and HOME; the guest sees neither.
    assert!(std::env::var("PATH").is_ok());
    assert_eq!(pool.apply(&get_env, "PATH".to_string()).unwrap(), None);
    assert_eq!(pool.apply(&args, ()).unwrap(), Vec::<String>::new());
}

#[test]
fn a_read_only_directory_can_be_read_but_not_written_or_escaped() {
    let read = fixtures().task::<String, usize>("read_file").unwrap();
    let write = fixtures().task::<(String, String), ()>("write_file").unwrap();
    let dir = data_dir("sandbox-ro");
    let sandbox = Sandbox::default().dir(&dir, "/data", DirAccess::ReadOnly);
    let pool = Pool::builder(ctx()).processes(1).sandbox(sandbox).build().unwrap();
    assert_eq!(pool.apply(&read, "/data/hello.txt".to_string()).unwrap(), 13);
    failed(pool.apply(&write, ("/data/new.txt".to_string(), "x".to_string())));
    assert!(!dir.join("new.txt").exists(), "a read-only grant was written through");
    // Paths that leave the grant are refused.
    failed(pool.apply(&read, "/data/../sandbox-ro/hello.txt".to_string()));
    failed(pool.apply(&read, dir.join("hello.txt").display().to_string()));
}

#[test]
fn a_read_write_directory_env_and_args_are_granted_explicitly() {
    let write = fixtures().task::<(String, String), ()>("write_file").unwrap();
    let get_env = fixtures().task::<String, Option<String>>("get_env").unwrap();
    let args = fixtures().task::<(), Vec<String>>("guest_args").unwrap();
    let dir = data_dir("sandbox-rw");
    let sandbox =
        Sandbox::default().dir(&dir, "/out", DirAccess::ReadWrite).env("MODE", "fast").arg("tool").arg("--flag");
    let pool = Pool::builder(ctx()).processes(1).sandbox(sandbox).build().unwrap();
    pool.apply(&write, ("/out/result.txt".to_string(), "written by a guest".to_string())).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("result.txt")).unwrap(), "written by a guest");
    assert_eq!(pool.apply(&get_env, "MODE".to_string()).unwrap().as_deref(), Some("fast"));
    assert_eq!(pool.apply(&get_env, "PATH".to_string()).unwrap(), None);
    assert_eq!(pool.apply(&args, ()).unwrap(), vec!["tool".to_string(), "--flag".to_string()]);
}

#[test]
fn a_grant_of_a_missing_directory_fails_at_start() {
    let sandbox = Sandbox::default().dir(scratch("no-such-dir"), "/x", DirAccess::ReadOnly);
    match Pool::builder(ctx()).processes(1).sandbox(sandbox).build() {
        Err(Error::InvalidGrant { path, .. }) => assert!(path.ends_with("no-such-dir")),
        other => panic!("unexpected {other:?}"),
    }
}
