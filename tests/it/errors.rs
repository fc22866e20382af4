//! Every bad input gets an error naming its cause.

use crate::common::{ctx, fixtures, scratch};
use wasmproc::{Error, FailureKind, Pool};

#[test]
fn not_a_wasm_file() {
    let path = scratch("notes.txt");
    std::fs::write(&path, "just some text\n").unwrap();
    let err = ctx().load(&path).unwrap_err();
    assert!(matches!(err, Error::NotWasm { .. }), "{err:?}");
    assert!(err.to_string().contains("is not a WebAssembly file"), "{err}");
    let err = ctx().load(scratch("missing.wasm")).unwrap_err();
    assert!(matches!(err, Error::Read { .. }), "{err:?}");
}

#[test]
fn a_core_module_is_not_a_component() {
    // The smallest valid core module: magic + version 1.
    let err = ctx().load_bytes("core.wasm", b"\0asm\x01\0\0\0").unwrap_err();
    assert!(matches!(err, Error::CoreModule { .. }), "{err:?}");
    assert!(err.to_string().contains("wasm32-wasip2"), "{err}");
}

#[test]
fn a_component_without_the_task_world() {
    // The smallest valid component: magic + component version/layer, no exports.
    let err = ctx().load_bytes("empty.wasm", b"\0asm\x0d\0\x01\0").unwrap_err();
    match &err {
        Error::NotATaskModule { reason, .. } => {
            assert!(reason.contains("wasmproc:task/guest"), "{reason}")
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = ctx().load_bytes("broken.wasm", b"\0asm\x0d\0\x01\0garbage").unwrap_err();
    assert!(matches!(err, Error::InvalidComponent { .. }), "{err:?}");
}

#[test]
fn an_unknown_task_lists_the_known_ones() {
    let err = fixtures().task::<u64, u64>("sqaure").unwrap_err();
    match &err {
        Error::UnknownTask { task, known, .. } => {
            assert_eq!(task, "sqaure");
            assert!(known.contains("square") && known.contains("add"), "{known}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn typed_lookups_are_checked_against_the_signature() {
    let module = fixtures();
    assert!(module.task::<u64, u64>("square").is_ok());
    assert!(module.task::<(i64, i64), i64>("add").is_ok());
    assert!(module.task::<(Vec<String>, String), String>("join").is_ok());
    for err in [
        module.task::<String, u64>("square").unwrap_err(),
        module.task::<u64, String>("square").unwrap_err(),
        module.task::<(u64, u64), i64>("add").unwrap_err(),
        module.task::<i64, i64>("add").unwrap_err(),
    ] {
        match &err {
            Error::SignatureMismatch { signature, .. } => {
                assert!(
                    signature.starts_with("square(x: u64)") || signature.starts_with("add(a: i64, b: i64)"),
                    "{signature}"
                )
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let err = module.task::<(u64, u64), i64>("add").unwrap_err();
    assert_eq!(err.to_string(), "task `add(a: i64, b: i64) -> i64` cannot be called as ((u64, u64)) -> i64");
}

#[test]
fn json_that_does_not_fit_shows_the_expected_signature() {
    let square = fixtures().json_task("square").unwrap();
    let pool = Pool::with_processes(ctx(), 1).unwrap();
    match pool.apply(&square, serde_json::json!("seven")) {
        Err(Error::Task(f)) => {
            assert_eq!(f.kind, FailureKind::BadArgument);
            assert!(f.message.contains("square(x: u64) -> u64"), "{}", f.message);
            assert!(f.message.contains("invalid type: string"), "{}", f.message);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(pool.apply(&square, serde_json::json!(7)).unwrap(), serde_json::json!(49));
    let add = fixtures().json_task("add").unwrap();
    assert_eq!(pool.apply(&add, serde_json::json!([2, 3])).unwrap(), serde_json::json!(5));
    assert!(pool.apply(&add, serde_json::json!([2])).is_err());
}

/// Serializes as its number, except 13, which it refuses to serialize (as a type with a failing
/// `Serialize` impl would).
struct Unlucky(u64);

impl serde::Serialize for Unlucky {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            13 => Err(serde::ser::Error::custom("13 is unlucky")),
            n => s.serialize_u64(n),
        }
    }
}

#[test]
fn an_input_that_cannot_be_encoded_fails_the_map_and_the_pool_goes_on() {
    // Chunks are submitted as they are encoded; the one holding 13 fails the call, and the chunks
    // already submitted are cancelled, not waited for or left behind.
    let square = fixtures().task_unchecked::<Unlucky, u64>("square").unwrap();
    let pool = Pool::with_processes(ctx(), 2).unwrap();
    match pool.chunksize(2).map(&square, (0..40).map(Unlucky)) {
        Err(Error::Codec { task, reason }) => {
            assert_eq!(task, "square");
            // (postcard keeps no custom message: the input's index says which one it was.)
            assert!(reason.contains("cannot encode the argument") && reason.ends_with("(input 13)"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(pool.map(&square, (0..13).map(Unlucky)).unwrap(), (0..13u64).map(|n| n * n).collect::<Vec<_>>());
}

#[test]
fn a_guest_panic_names_the_task_and_the_input() {
    let panic_on = fixtures().task::<(u64, u64), u64>("panic_on").unwrap();
    let pool = Pool::new(ctx()).unwrap();
    match pool.map(&panic_on, [(0, 3), (1, 3), (3, 3), (4, 3)]) {
        Err(err @ Error::Task(_)) => {
            let text = err.to_string();
            assert!(text.starts_with("task `panic_on` panicked on input 2: "), "{text}");
            assert!(text.contains("boom at 3"), "{text}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn an_unusable_cache_directory_is_reported() {
    let file = scratch("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = wasmproc::Context::builder().cache_dir(file.join("cache")).build().unwrap_err();
    assert!(matches!(err, Error::Cache { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot create the directory"), "{err}");
}
