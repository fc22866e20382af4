//! Bytes waiting to go to a worker, written by one thread at a time.
//!
//! Small frames are coalesced into owned buffers (one write for many); large payloads are shared
//! with their job (kept whole for a resend if the worker dies) and written from their own buffer.
//! Whoever finds nobody writing takes the writing token and writes until the outbox is empty;
//! everyone else only appends. Frames therefore leave in the order they were appended.

use std::collections::VecDeque;
use std::sync::Arc;

/// Payloads up to this size are copied next to their header; larger ones are written from their
/// own buffer.
const COALESCE: usize = 16 << 10;

/// A frame's payload.
#[derive(Debug)]
pub(crate) enum Payload {
    None,
    Owned(Vec<u8>),
    /// Shared with a job that keeps it for a resend.
    Shared(Arc<Vec<u8>>),
}

impl Payload {
    fn len(&self) -> usize {
        match self {
            Payload::None => 0,
            Payload::Owned(v) => v.len(),
            Payload::Shared(v) => v.len(),
        }
    }

    /// The bytes, for a sender that wants them back.
    pub(crate) fn into_vec(self) -> Vec<u8> {
        match self {
            Payload::None => Vec::new(),
            Payload::Owned(v) => v,
            Payload::Shared(v) => Arc::unwrap_or_clone(v),
        }
    }
}

/// A piece of the byte stream.
#[derive(Debug)]
pub(super) enum Segment {
    Owned(Vec<u8>),
    Shared(Arc<Vec<u8>>),
}

impl Segment {
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Segment::Owned(v) => v,
            Segment::Shared(v) => v,
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Outbox {
    segments: VecDeque<Segment>,
    /// A thread holds the writing token.
    writing: bool,
    /// The worker is gone: nothing more is queued.
    pub(super) closed: bool,
}

impl Outbox {
    /// Appends a frame: its head (prefix and header) and payload.
    pub(super) fn push(&mut self, mut head: Vec<u8>, payload: Payload) {
        debug_assert!(!self.closed, "nothing is queued for a closed link");
        match payload {
            Payload::None => self.push_bytes(head),
            p if p.len() > COALESCE => {
                self.push_bytes(head);
                self.segments.push_back(match p {
                    Payload::Shared(v) => Segment::Shared(v),
                    other => Segment::Owned(other.into_vec()),
                });
            }
            Payload::Owned(v) => {
                head.extend_from_slice(&v);
                self.push_bytes(head);
            }
            Payload::Shared(v) => {
                head.extend_from_slice(&v);
                self.push_bytes(head);
            }
        }
    }

    fn push_bytes(&mut self, bytes: Vec<u8>) {
        match self.segments.back_mut() {
            Some(Segment::Owned(last)) if last.len() + bytes.len() <= 4 * COALESCE => last.extend_from_slice(&bytes),
            _ => self.segments.push_back(Segment::Owned(bytes)),
        }
    }

    /// Takes the writing token if nobody holds it and there is something to write.
    pub(super) fn begin(&mut self) -> bool {
        if self.writing || self.segments.is_empty() {
            return false;
        }
        self.writing = true;
        true
    }

    /// The next batch for the token holder; `None` (and the token returned) once empty.
    pub(super) fn next_batch(&mut self) -> Option<Vec<Segment>> {
        debug_assert!(self.writing, "only the token holder writes");
        if self.segments.is_empty() {
            self.writing = false;
            return None;
        }
        Some(self.segments.drain(..).collect())
    }

    /// Drops what is queued and refuses more.
    pub(super) fn close(&mut self) {
        self.closed = true;
        self.segments.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(batch: &[Segment]) -> Vec<u8> {
        batch.iter().flat_map(|s| s.bytes().to_vec()).collect()
    }

    #[test]
    fn small_frames_coalesce_large_payloads_are_shared_and_order_holds() {
        let mut o = Outbox::default();
        o.push(b"h1".to_vec(), Payload::Owned(b"p1".to_vec()));
        o.push(b"h2".to_vec(), Payload::None);
        let big = Arc::new(vec![7u8; COALESCE + 1]);
        o.push(b"h3".to_vec(), Payload::Shared(big.clone()));
        assert!(o.begin());
        assert!(!o.begin(), "one writer at a time");
        let batch = o.next_batch().unwrap();
        assert_eq!(batch.len(), 2, "the small frames share one segment, the big payload has its own");
        assert!(matches!(&batch[1], Segment::Shared(v) if Arc::ptr_eq(v, &big)));
        let mut expected = b"h1p1h2h3".to_vec();
        expected.extend_from_slice(&big);
        assert_eq!(flat(&batch), expected);
        assert!(o.next_batch().is_none(), "empty: the token is returned");
        o.push(b"h4".to_vec(), Payload::None);
        assert!(o.begin(), "the token can be taken again");
        o.close();
        assert!(o.next_batch().is_none());
    }
}
