//! How task arguments, results and shared items are encoded.
//!
//! A call's arguments and its result use the same [`Codec`]: Rust hosts send postcard, the CLI
//! sends JSON, and the guest answers in kind. A task of one parameter takes the bare value; a task
//! of several takes the tuple of them (postcard: the fields in order; JSON: an array); a task of
//! none takes `()` (JSON `null` or `[]`).
//!
//! Queue items, pipe messages and managed dict/list entries are always postcard ([`to_item`],
//! [`from_item`]).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The argument/result encoding of a call (the WIT `codec` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Codec {
    /// Compact binary, for Rust hosts and typed calls.
    Postcard,
    /// JSON values, for the CLI and `json_task`.
    Json,
}

/// Why a value could not be encoded or decoded: serde's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

fn err(e: impl ToString) -> CodecError {
    CodecError(e.to_string())
}

/// Lets postcard write straight into the end of a borrowed buffer (a slice at a time, where
/// postcard's `Extend` flavor would push byte by byte).
struct Appender<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Appender<'_> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        // In a wasm guest a copy of unknown length is a `memory.copy`, which leaves the guest for
        // the runtime's memmove; most pieces are a few bytes (a varint, a short string), and
        // copied a byte at a time they stay inline. Natively the copy is the cheaper.
        if cfg!(target_family = "wasm") && bytes.len() <= 16 {
            for &byte in bytes {
                self.0.push(byte);
            }
        } else {
            self.0.extend_from_slice(bytes);
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Appends the encoding of `value` to `buf`; on failure `buf` is as it was.
pub fn encode_into<T: Serialize + ?Sized>(codec: Codec, value: &T, buf: &mut Vec<u8>) -> Result<(), CodecError> {
    let start = buf.len();
    let written = match codec {
        Codec::Postcard => postcard::serialize_with_flavor(value, Appender(buf)).map_err(err),
        Codec::Json => serde_json::to_vec(value).map(|v| buf.extend_from_slice(&v)).map_err(err),
    };
    if written.is_err() {
        buf.truncate(start);
    }
    written
}

/// The encoding of `value`.
pub fn encode<T: Serialize + ?Sized>(codec: Codec, value: &T) -> Result<Vec<u8>, CodecError> {
    let mut buf = Vec::new();
    encode_into(codec, value, &mut buf)?;
    Ok(buf)
}

/// Decodes a whole buffer as a `T`. Postcard refuses trailing bytes (they mean the types do not
/// match); JSON accepts `[]` for `()` (a call without arguments).
pub fn decode<T: DeserializeOwned>(codec: Codec, bytes: &[u8]) -> Result<T, CodecError> {
    match codec {
        Codec::Postcard => match postcard::take_from_bytes::<T>(bytes) {
            Ok((value, [])) => Ok(value),
            Ok((_, rest)) => Err(CodecError(alloc::format!("{} unexpected trailing bytes", rest.len()))),
            Err(e) => Err(err(e)),
        },
        Codec::Json => match serde_json::from_slice::<T>(bytes) {
            Ok(value) => Ok(value),
            Err(e) if bytes.iter().filter(|b| !b.is_ascii_whitespace()).eq(b"[]".iter()) => {
                serde_json::from_slice::<T>(b"null").map_err(|_| err(e))
            }
            Err(e) => Err(err(e)),
        },
    }
}

/// A queue item, pipe message or managed entry, as bytes.
pub fn to_item<T: Serialize + ?Sized>(item: &T) -> Result<Vec<u8>, CodecError> {
    postcard::to_allocvec(item).map_err(err)
}

/// Back from [`to_item`].
pub fn from_item<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    decode(Codec::Postcard, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn both_codecs_round_trip_and_reject_what_does_not_fit() {
        for codec in [Codec::Postcard, Codec::Json] {
            let bytes = encode(codec, &(1u64, "two")).unwrap();
            assert_eq!(decode::<(u64, String)>(codec, &bytes).unwrap(), (1, "two".into()));
            assert!(decode::<u64>(codec, &bytes).is_err());
        }
        assert_eq!(encode(Codec::Json, &[1, 2]).unwrap(), b"[1,2]");
        let pair = encode(Codec::Postcard, &(1u64, 2u64)).unwrap();
        assert_eq!(decode::<u64>(Codec::Postcard, &pair), Err(CodecError("1 unexpected trailing bytes".into())));
        assert_eq!(decode::<()>(Codec::Json, b" [ ] "), Ok(()));
        assert_eq!(decode::<()>(Codec::Json, b"null"), Ok(()));
        let mut buf = vec![9];
        encode_into(Codec::Postcard, &7u8, &mut buf).unwrap();
        assert_eq!(buf, vec![9, 7]);
        assert_eq!(from_item::<u8>(&to_item(&7u8).unwrap()), Ok(7));
    }
}
