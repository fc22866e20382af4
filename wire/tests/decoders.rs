//! Every decoder of the wire crate, fed arbitrary and truncated bytes: an error, never a panic; and
//! what was encoded decodes back.

use proptest::prelude::*;
use wasmproc_wire::codec::{self, Codec};
use wasmproc_wire::frame::{self, PREFIX};
use wasmproc_wire::handle::{ArrayHandle, ManagedHandle, ObjectHandle, QueueHandle, RegionHandle};
use wasmproc_wire::outcome::{self, Outcomes, Tag};
use wasmproc_wire::pipe::Ends;
use wasmproc_wire::scalar::{decode_items, encode_items};
use wasmproc_wire::{FailureKind, TaskFailure};

/// Decodes `bytes` as a `T` with both codecs; only checks that nothing panics.
fn decode_both<T: serde::de::DeserializeOwned>(bytes: &[u8]) {
    let _ = codec::decode::<T>(Codec::Postcard, bytes);
    let _ = codec::decode::<T>(Codec::Json, bytes);
}

fn tags() -> impl Strategy<Value = Tag> {
    (0u8..12).prop_map(|b| Tag::from_u8(b).expect("0..12 are tags"))
}

proptest! {
    #[test]
    fn outcome_buffers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let counted = outcome::count(&bytes);
        let parsed = Outcomes::parse(bytes.clone());
        prop_assert_eq!(counted.is_ok(), parsed.is_ok());
        if let Ok(o) = parsed {
            for i in 0..o.len() {
                let _ = o.get(i);
            }
        }
        let _ = outcome::fail_successes(bytes, "x");
    }

    #[test]
    fn outcome_buffers_round_trip_and_any_truncation_is_an_error(
        items in proptest::collection::vec((tags(), proptest::collection::vec(any::<u8>(), 0..40)), 1..8),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut buf = Vec::new();
        for (tag, body) in &items {
            outcome::push(&mut buf, *tag, body);
        }
        let parsed = Outcomes::parse(buf.clone()).unwrap();
        prop_assert_eq!(parsed.len(), items.len());
        for (i, (tag, body)) in items.iter().enumerate() {
            match parsed.get(i) {
                Ok(bytes) => { prop_assert_eq!(*tag, Tag::Ok); prop_assert_eq!(bytes, &body[..]); }
                Err((kind, _)) => prop_assert_eq!(Some(kind), tag.kind()),
            }
        }
        let at = cut.index(buf.len());
        let truncated = &buf[..at];
        // A cut on an outcome boundary is a shorter valid buffer; anywhere else it is an error.
        if let Ok(n) = outcome::count(truncated) {
            prop_assert!(n < items.len());
        }
    }

    #[test]
    fn frame_prefixes_and_headers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if bytes.len() >= PREFIX {
            let prefix: [u8; PREFIX] = bytes[..PREFIX].try_into().unwrap();
            let _ = frame::parse_prefix(&prefix);
        }
        let _ = frame::decode_header::<(u64, String, Option<Vec<u32>>)>(&bytes);
        let _ = frame::decode_header::<FailureKind>(&bytes);
    }

    #[test]
    fn frame_heads_round_trip(header in (any::<u64>(), ".{0,20}"), payload in any::<u64>(), cut in 0usize..8) {
        let head = frame::head(&header, payload).unwrap();
        let prefix: [u8; PREFIX] = head[..PREFIX].try_into().unwrap();
        if let Ok((len, p)) = frame::parse_prefix(&prefix) {
            prop_assert_eq!(p as u64, payload);
            prop_assert_eq!(len, head.len() - PREFIX);
            let back: (u64, String) = frame::decode_header(&head[PREFIX..]).unwrap();
            prop_assert_eq!(&back, &header);
            let body = &head[PREFIX..];
            let short = &body[..body.len() - cut.min(body.len())];
            if cut > 0 {
                prop_assert!(frame::decode_header::<(u64, String)>(short).is_err(), "a cut header is an error");
            }
        }
    }

    #[test]
    fn argument_codecs_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        decode_both::<u64>(&bytes);
        decode_both::<(i64, String)>(&bytes);
        decode_both::<Vec<(u8, Option<f64>)>>(&bytes);
        decode_both::<TaskFailure>(&bytes);
        decode_both::<()>(&bytes);
    }

    #[test]
    fn argument_codecs_round_trip(value in (any::<i64>(), ".{0,16}", proptest::collection::vec(any::<u32>(), 0..8))) {
        for c in [Codec::Postcard, Codec::Json] {
            let bytes = codec::encode(c, &value).unwrap();
            prop_assert_eq!(codec::decode::<(i64, String, Vec<u32>)>(c, &bytes).unwrap(), value.clone());
            if bytes.len() > 1 {
                prop_assert!(codec::decode::<(i64, String, Vec<u32>)>(c, &bytes[..bytes.len() - 1]).is_err());
            }
        }
    }

    #[test]
    fn handles_never_panic_and_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64), name in "/[a-z0-9-]{1,20}", offset in any::<u64>(), len in any::<u64>()) {
        decode_both::<QueueHandle>(&bytes);
        decode_both::<ManagedHandle>(&bytes);
        decode_both::<RegionHandle>(&bytes);
        decode_both::<ObjectHandle>(&bytes);
        decode_both::<ArrayHandle>(&bytes);
        decode_both::<Ends<QueueHandle>>(&bytes);
        let arr = ArrayHandle { at: ObjectHandle { region: name, offset }, len };
        let bytes = codec::to_item(&arr).unwrap();
        prop_assert_eq!(codec::from_item::<ArrayHandle>(&bytes).unwrap(), arr);
        for cut in 0..bytes.len() {
            prop_assert!(codec::from_item::<ArrayHandle>(&bytes[..cut]).is_err());
        }
    }

    #[test]
    fn scalar_items_never_panic_and_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64), items in proptest::collection::vec(any::<i32>(), 0..16)) {
        let _ = decode_items::<f64>(&bytes);
        let _ = decode_items::<u16>(&bytes);
        prop_assert_eq!(decode_items::<i32>(&encode_items(&items)).unwrap(), items.clone());
        let encoded = encode_items(&items);
        if !encoded.is_empty() {
            prop_assert!(decode_items::<i32>(&encoded[..encoded.len() - 1]).is_err());
        }
    }
}
