//! Tasks registered by `#[task]`, and the argument/result codecs they share.
//!
//! Every `#[task]` function submits one [`TaskDef`] to an `inventory` collection. The collection is
//! filled by constructors that wit-bindgen's export glue runs before the first export call.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Display;

pub use crate::bindings::wasmproc::task::types::{Codec, TaskError};

/// One task, as registered by the `#[task]` attribute.
pub struct TaskDef {
    /// The task's name: the function's name.
    pub name: &'static str,
    /// `(name, type)` of each parameter, the type as written without module paths.
    pub params: &'static [(&'static str, &'static str)],
    /// The result type (`T` of a `Result<T, E>`).
    pub returns: &'static str,
    /// The function's doc comment.
    pub doc: &'static str,
    /// Decodes one argument set, runs the function, and appends its encoded result to the chunk's
    /// outcomes; an error is framed by the caller.
    pub call: fn(Codec, &[u8]) -> Result<(), TaskError>,
}

inventory::collect!(TaskDef);

impl std::fmt::Debug for TaskDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskDef").field("name", &self.name).field("params", &self.params).finish_non_exhaustive()
    }
}

pub(crate) fn all() -> impl Iterator<Item = &'static TaskDef> {
    inventory::iter::<TaskDef>.into_iter()
}

pub(crate) fn find(name: &str) -> Option<&'static TaskDef> {
    all().find(|t| t.name == name)
}

/// The body of every generated task wrapper: decode `A` (the parameter tuple, or the single
/// parameter's type when there is exactly one), call `f`, and append the encoded result to the
/// chunk's outcomes (in place: no buffer per result).
///
/// With JSON, a task of one parameter takes the bare value, a task of several takes an array, and a
/// task of none takes `null` or `[]`. With postcard the encodings coincide (a tuple is its fields in
/// order), so hosts encode `(a, b)` or `a` alike.
///
/// A decoding failure carries serde's message; the host adds the task's signature to it.
pub fn call_task<A, R, E, F>(codec: Codec, input: &[u8], f: F) -> Result<(), TaskError>
where
    A: DeserializeOwned,
    R: Serialize,
    E: Display,
    F: FnOnce(A) -> Result<R, E>,
{
    run_task(codec, input, f, |out| crate::outcomes::push_result(wire(codec), out))
}

/// [`call_task`] with the result handed to `emit` (which encodes it, or says why it could not).
fn run_task<A, R, E, F>(
    codec: Codec,
    input: &[u8],
    f: F,
    emit: impl FnOnce(&R) -> Result<(), String>,
) -> Result<(), TaskError>
where
    A: DeserializeOwned,
    R: Serialize,
    E: Display,
    F: FnOnce(A) -> Result<R, E>,
{
    let args: A = decode(codec, input).map_err(TaskError::BadArgument)?;
    let out = f(args).map_err(|e| TaskError::Failed(e.to_string()))?;
    emit(&out).map_err(TaskError::BadResult)
}

/// The wire codec of a WIT codec.
fn wire(codec: Codec) -> wasmproc_wire::Codec {
    match codec {
        Codec::Postcard => wasmproc_wire::Codec::Postcard,
        Codec::Json => wasmproc_wire::Codec::Json,
    }
}

fn decode<A: DeserializeOwned>(codec: Codec, input: &[u8]) -> Result<A, String> {
    wasmproc_wire::codec::decode(wire(codec), input).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `call_task` appends for `input`: the encoded result, or the error.
    fn call_task<A, R, E, F>(codec: Codec, input: &[u8], f: F) -> Result<Vec<u8>, TaskError>
    where
        A: DeserializeOwned,
        R: Serialize,
        E: Display,
        F: FnOnce(A) -> Result<R, E>,
    {
        let mut buf = Vec::new();
        run_task(codec, input, f, |out| {
            wasmproc_wire::codec::encode_into(wire(codec), out, &mut buf).map_err(|e| e.to_string())
        })?;
        Ok(buf)
    }

    fn double(x: u64) -> Result<u64, String> {
        x.checked_mul(2).ok_or_else(|| "overflow".to_string())
    }

    #[test]
    fn json_and_postcard_round_trip() {
        let out = call_task(Codec::Json, b"21", double).unwrap();
        assert_eq!(out, b"42");
        let input = postcard::to_stdvec(&21u64).unwrap();
        let out = call_task(Codec::Postcard, &input, double).unwrap();
        assert_eq!(postcard::from_bytes::<u64>(&out).unwrap(), 42);
    }

    #[test]
    fn bad_argument_carries_serdes_message() {
        let err = call_task(Codec::Json, br#""x""#, double).unwrap_err();
        match err {
            TaskError::BadArgument(m) => assert!(m.contains("invalid type: string"), "{m}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn trailing_postcard_bytes_are_rejected() {
        let input = postcard::to_stdvec(&(1u64, 2u64)).unwrap();
        let err = call_task(Codec::Postcard, &input, double).unwrap_err();
        assert!(matches!(err, TaskError::BadArgument(m) if m.contains("trailing")));
    }

    #[test]
    fn err_becomes_failed_and_tuples_decode_from_arrays() {
        let err = call_task(Codec::Json, b"18446744073709551615", double).unwrap_err();
        assert!(matches!(err, TaskError::Failed(m) if m == "overflow"));
        let add = |(a, b): (i64, i64)| Ok::<_, String>(a + b);
        assert_eq!(call_task(Codec::Json, b"[1, 2]", add).unwrap(), b"3");
        let unit = |(): ()| Ok::<_, String>(7u8);
        assert_eq!(call_task(Codec::Json, b" [ ] ", unit).unwrap(), b"7");
        assert_eq!(call_task(Codec::Json, b"null", unit).unwrap(), b"7");
    }
}
