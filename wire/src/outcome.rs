//! Framed outcome buffers: how a chunk's results travel from the guest through the worker to the
//! host, without a copy or an allocation per input.
//!
//! For each input in order: a [`Tag`] byte, a little-endian u32 length, then that many bytes (the
//! encoded result for [`Tag::Ok`], a UTF-8 message otherwise). The guest SDK writes tags 0–4 (see
//! `host.emit` in `wit/task.wit`); the worker adds the failures only it can see.

use crate::failure::FailureKind;
use alloc::string::String;
use alloc::vec::Vec;

/// The first byte of each outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Tag {
    /// The encoded result.
    Ok = 0,
    /// [`FailureKind::BadArgument`] (written by the guest).
    BadArgument = 1,
    /// [`FailureKind::Failed`] (written by the guest).
    Failed = 2,
    /// [`FailureKind::BadResult`] (written by the guest).
    BadResult = 3,
    /// [`FailureKind::UnknownTask`] (written by the guest).
    UnknownTask = 4,
    /// [`FailureKind::Panicked`] (written by the worker from the guest's panic report).
    Panicked = 5,
    /// [`FailureKind::Trapped`].
    Trapped = 6,
    /// [`FailureKind::Load`].
    Load = 7,
    /// [`FailureKind::Timeout`].
    Timeout = 8,
    /// [`FailureKind::MemoryLimit`].
    MemoryLimit = 9,
    /// [`FailureKind::FuelExhausted`].
    FuelExhausted = 10,
    /// [`FailureKind::Undelivered`] (written by the host when sent puts were refused).
    Undelivered = 11,
}

impl Tag {
    const ALL: [Tag; 12] = [
        Tag::Ok,
        Tag::BadArgument,
        Tag::Failed,
        Tag::BadResult,
        Tag::UnknownTask,
        Tag::Panicked,
        Tag::Trapped,
        Tag::Load,
        Tag::Timeout,
        Tag::MemoryLimit,
        Tag::FuelExhausted,
        Tag::Undelivered,
    ];

    /// The tag of byte `b`, if it is one.
    pub fn from_u8(b: u8) -> Option<Tag> {
        Tag::ALL.get(usize::from(b)).copied()
    }

    /// The failure this tag reports; `None` for [`Tag::Ok`].
    pub fn kind(self) -> Option<FailureKind> {
        Some(match self {
            Tag::Ok => return None,
            Tag::BadArgument => FailureKind::BadArgument,
            Tag::Failed => FailureKind::Failed,
            Tag::BadResult => FailureKind::BadResult,
            Tag::UnknownTask => FailureKind::UnknownTask,
            Tag::Panicked => FailureKind::Panicked,
            Tag::Trapped => FailureKind::Trapped,
            Tag::Load => FailureKind::Load,
            Tag::Timeout => FailureKind::Timeout,
            Tag::MemoryLimit => FailureKind::MemoryLimit,
            Tag::FuelExhausted => FailureKind::FuelExhausted,
            Tag::Undelivered => FailureKind::Undelivered,
        })
    }

    /// The tag for a failure. [`FailureKind::WorkerDied`], [`FailureKind::NodeLost`] and
    /// [`FailureKind::Refused`] are never framed (the host reports them for a whole chunk that
    /// cannot be answered); they map to [`Tag::Load`].
    pub fn for_failure(kind: &FailureKind) -> Tag {
        match kind {
            FailureKind::BadArgument => Tag::BadArgument,
            FailureKind::Failed => Tag::Failed,
            FailureKind::BadResult => Tag::BadResult,
            FailureKind::UnknownTask => Tag::UnknownTask,
            FailureKind::Panicked => Tag::Panicked,
            FailureKind::Trapped => Tag::Trapped,
            FailureKind::Timeout => Tag::Timeout,
            FailureKind::MemoryLimit => Tag::MemoryLimit,
            FailureKind::FuelExhausted => Tag::FuelExhausted,
            FailureKind::Undelivered => Tag::Undelivered,
            FailureKind::Load
            | FailureKind::WorkerDied { .. }
            | FailureKind::NodeLost { .. }
            | FailureKind::Refused => Tag::Load,
        }
    }
}

/// Bytes before each outcome's body: the tag and the u32 length.
pub const HEAD: usize = 5;

/// Appends one outcome.
pub fn push(buf: &mut Vec<u8>, tag: Tag, bytes: &[u8]) {
    buf.reserve(HEAD + bytes.len());
    buf.push(tag as u8);
    buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    buf.extend_from_slice(bytes);
}

/// Appends one successful outcome whose bytes `encode` appends to the buffer it is given (so a
/// result is encoded in place, not into a buffer of its own and copied). If `encode` fails, `buf`
/// is as it was and its error is returned.
pub fn push_with<E>(buf: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>) -> Result<(), E>) -> Result<(), E> {
    let start = buf.len();
    buf.push(Tag::Ok as u8);
    buf.extend_from_slice(&[0; HEAD - 1]);
    if let Err(e) = encode(buf) {
        buf.truncate(start);
        return Err(e);
    }
    let len = (buf.len() - start - HEAD) as u32;
    buf[start + 1..start + HEAD].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Appends a failure of `kind` with `message`.
pub fn push_failure(buf: &mut Vec<u8>, kind: &FailureKind, message: &str) {
    debug_assert!(
        !matches!(kind, FailureKind::WorkerDied { .. } | FailureKind::NodeLost { .. } | FailureKind::Refused),
        "whole-chunk failures are never framed"
    );
    push(buf, Tag::for_failure(kind), message.as_bytes());
}

/// Why an outcome buffer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedOutcomes {
    /// Fewer than [`HEAD`] bytes where an outcome starts.
    #[error("truncated outcome header at byte {at}")]
    Truncated {
        /// Where the outcome starts.
        at: usize,
    },
    /// A first byte that is no [`Tag`].
    #[error("unknown outcome tag {tag} at byte {at}")]
    UnknownTag {
        /// The byte.
        tag: u8,
        /// Where.
        at: usize,
    },
    /// An outcome claims more bytes than the buffer has.
    #[error("outcome of {len} bytes at byte {at} runs past the end of the buffer")]
    Overrun {
        /// The claimed length.
        len: u32,
        /// Where the outcome starts.
        at: usize,
    },
}

/// Walks the outcomes of `buf`: `(tag, body start, body length)` of each, checking the framing.
fn walk(buf: &[u8], mut each: impl FnMut(Tag, usize, usize)) -> Result<usize, MalformedOutcomes> {
    let mut at = 0usize;
    let mut n = 0;
    while at < buf.len() {
        let Some(head) = buf.get(at..at + HEAD) else {
            return Err(MalformedOutcomes::Truncated { at });
        };
        let tag = Tag::from_u8(head[0]).ok_or(MalformedOutcomes::UnknownTag { tag: head[0], at })?;
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
        let start = at + HEAD;
        let end = start.checked_add(len as usize).filter(|end| *end <= buf.len());
        let Some(end) = end else {
            return Err(MalformedOutcomes::Overrun { len, at });
        };
        each(tag, start, len as usize);
        at = end;
        n += 1;
    }
    Ok(n)
}

/// Whether a buffer holds a failure (or is malformed).
pub fn any_failed(buf: &[u8]) -> bool {
    let mut failed = false;
    walk(buf, |tag, _, _| failed |= tag != Tag::Ok).map_or(true, |_| failed)
}

/// Counts the outcomes in a buffer, checking its framing.
pub fn count(buf: &[u8]) -> Result<usize, MalformedOutcomes> {
    walk(buf, |_, _, _| {})
}

/// A parsed outcome buffer: the bytes and where each outcome lies in them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcomes {
    buf: Vec<u8>,
    /// Where each outcome's head is in `buf` (its framing checked when parsed).
    heads: Vec<u32>,
}

impl Outcomes {
    /// Parses `buf`.
    pub fn parse(buf: Vec<u8>) -> Result<Outcomes, MalformedOutcomes> {
        // At most one outcome per head's worth of bytes: room for all, without growing.
        let mut heads = Vec::with_capacity(buf.len() / HEAD);
        walk(&buf, |_, start, _| heads.push((start - HEAD) as u32))?;
        Ok(Outcomes { buf, heads })
    }

    /// The number of outcomes.
    pub fn len(&self) -> usize {
        self.heads.len()
    }

    /// The buffer it was parsed from (to pass it on whole).
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.heads.is_empty()
    }

    /// Every outcome in order, as [`get`](Outcomes::get) gives them.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Result<&[u8], (FailureKind, String)>> + '_ {
        self.heads.iter().map(|&head| self.at(head as usize))
    }

    /// Outcome `i` (which must be `< len()`): the result bytes, or the failure and its message.
    pub fn get(&self, i: usize) -> Result<&[u8], (FailureKind, String)> {
        self.at(self.heads[i] as usize)
    }

    fn at(&self, head: usize) -> Result<&[u8], (FailureKind, String)> {
        let h = &self.buf[head..head + HEAD];
        let len = u32::from_le_bytes([h[1], h[2], h[3], h[4]]) as usize;
        let bytes = &self.buf[head + HEAD..head + HEAD + len];
        match Tag::from_u8(h[0]).expect("tags are checked when parsed").kind() {
            None => Ok(bytes),
            Some(kind) => Err((kind, String::from_utf8_lossy(bytes).into_owned())),
        }
    }
}

/// Turns every successful outcome in `buf` into an [`FailureKind::Undelivered`] failure with
/// `message` (the chunk sent queue items that were refused); failures stay as they are. A buffer
/// with broken framing is returned unchanged (its reader reports that).
pub fn fail_successes(buf: Vec<u8>, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len());
    let framed = walk(&buf, |tag, start, len| match tag {
        Tag::Ok => push(&mut out, Tag::Undelivered, message.as_bytes()),
        _ => push(&mut out, tag, &buf[start..start + len]),
    });
    if framed.is_ok() { out } else { buf }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn round_trip_and_broken_framing() {
        let mut buf = Vec::new();
        push(&mut buf, Tag::Ok, b"49");
        assert!(!any_failed(&buf));
        push_failure(&mut buf, &FailureKind::Panicked, "boom");
        push(&mut buf, Tag::Ok, b"");
        assert!(any_failed(&buf));
        assert_eq!(count(&buf), Ok(3));
        let o = Outcomes::parse(buf.clone()).unwrap();
        assert_eq!(o.len(), 3);
        assert_eq!(o.get(0).unwrap(), b"49");
        assert_eq!(o.get(1).unwrap_err(), (FailureKind::Panicked, "boom".to_string()));
        assert_eq!(o.get(2).unwrap(), b"");
        buf.pop();
        assert!(any_failed(&buf), "a malformed buffer counts as failed");
        assert_eq!(Outcomes::parse(buf.clone()), Err(MalformedOutcomes::Truncated { at: 16 }));
        assert!(count(&buf).is_err());
        assert_eq!(Outcomes::parse(vec![0, 10, 0, 0, 0, 1]), Err(MalformedOutcomes::Overrun { len: 10, at: 0 }));
        assert_eq!(Outcomes::parse(vec![42, 0, 0, 0, 0]), Err(MalformedOutcomes::UnknownTag { tag: 42, at: 0 }));
    }

    #[test]
    fn every_tag_maps_to_its_failure_and_back() {
        for b in 0..=255u8 {
            let Some(tag) = Tag::from_u8(b) else { continue };
            assert_eq!(tag as u8, b);
            if let Some(kind) = tag.kind() {
                assert_eq!(Tag::for_failure(&kind), tag);
            }
        }
        assert_eq!(Tag::from_u8(12), None);
    }

    #[test]
    fn refused_puts_fail_the_successes_only() {
        let mut buf = Vec::new();
        push(&mut buf, Tag::Ok, b"1");
        push_failure(&mut buf, &FailureKind::Failed, "own error");
        let o = Outcomes::parse(fail_successes(buf, "lost 2 items")).unwrap();
        assert_eq!(o.get(0).unwrap_err(), (FailureKind::Undelivered, "lost 2 items".to_string()));
        assert_eq!(o.get(1).unwrap_err(), (FailureKind::Failed, "own error".to_string()));
        assert_eq!(fail_successes(vec![9, 9], "x"), vec![9, 9], "broken framing is left for the reader");
    }

    #[test]
    fn an_outcome_encoded_in_place_is_framed_like_a_pushed_one() {
        let mut pushed = Vec::new();
        push(&mut pushed, Tag::Ok, b"49");
        push(&mut pushed, Tag::Ok, b"");
        let mut built = Vec::new();
        push_with::<()>(&mut built, |b| {
            b.extend_from_slice(b"49");
            Ok(())
        })
        .unwrap();
        assert_eq!(
            push_with(&mut built, |b| {
                b.push(7);
                Err("no")
            }),
            Err("no"),
            "a failed encoding is dropped"
        );
        push_with::<()>(&mut built, |_| Ok(())).unwrap();
        assert_eq!(built, pushed);
    }
}
