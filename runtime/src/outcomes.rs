//! Framed outcome buffers: how a chunk's results travel from the guest through the worker to the
//! host without a copy or an allocation per input.
//!
//! For each input in order: a tag byte, a little-endian u32 length, then that many bytes. Tags 0–4
//! are written by the guest SDK (see `host.emit` in `wit/task.wit`); the worker adds 5–10 for
//! failures only it can see.

use crate::error::FailureKind;

pub(crate) const OK: u8 = 0;
const BAD_ARGUMENT: u8 = 1;
const FAILED: u8 = 2;
const BAD_RESULT: u8 = 3;
const UNKNOWN_TASK: u8 = 4;
const PANICKED: u8 = 5;
const TRAPPED: u8 = 6;
const LOAD: u8 = 7;
const TIMEOUT: u8 = 8;
const MEMORY_LIMIT: u8 = 9;
const FUEL: u8 = 10;
const UNDELIVERED: u8 = 11;
const LAST_TAG: u8 = UNDELIVERED;

/// Appends one outcome.
pub(crate) fn push(buf: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    buf.push(tag);
    buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    buf.extend_from_slice(bytes);
}

/// Appends a failure of `kind` (never `WorkerDied`, which the host reports without a frame).
pub(crate) fn push_failure(buf: &mut Vec<u8>, kind: &FailureKind, message: &str) {
    let tag = match kind {
        FailureKind::BadArgument => BAD_ARGUMENT,
        FailureKind::Failed => FAILED,
        FailureKind::BadResult => BAD_RESULT,
        FailureKind::UnknownTask => UNKNOWN_TASK,
        FailureKind::Panicked => PANICKED,
        FailureKind::Trapped => TRAPPED,
        FailureKind::Timeout => TIMEOUT,
        FailureKind::MemoryLimit => MEMORY_LIMIT,
        FailureKind::FuelExhausted => FUEL,
        FailureKind::Undelivered => UNDELIVERED,
        FailureKind::Load | FailureKind::WorkerDied { .. } => LOAD,
    };
    push(buf, tag, message.as_bytes());
}

/// A parsed outcome buffer: the bytes and where each outcome lies in them.
#[derive(Debug, Default)]
pub(crate) struct Outcomes {
    buf: Vec<u8>,
    spans: Vec<(u8, u32, u32)>,
}

impl Outcomes {
    /// Parses `buf`; `Err` if its framing is broken.
    pub(crate) fn parse(buf: Vec<u8>) -> Result<Outcomes, String> {
        let mut spans = Vec::new();
        let mut at = 0usize;
        while at < buf.len() {
            let Some(head) = buf.get(at..at + 5) else {
                return Err(format!("truncated outcome header at byte {at}"));
            };
            let tag = head[0];
            if tag > LAST_TAG {
                return Err(format!("unknown outcome tag {tag}"));
            }
            let len = u32::from_le_bytes(head[1..5].try_into().expect("4 bytes"));
            let start = at + 5;
            let end = start + len as usize;
            if end > buf.len() {
                return Err(format!("outcome of {len} bytes runs past the buffer"));
            }
            spans.push((tag, start as u32, len));
            at = end;
        }
        Ok(Outcomes { buf, spans })
    }

    /// The number of outcomes.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Outcome `i`: the result bytes, or the failure kind and message.
    pub(crate) fn get(&self, i: usize) -> Result<&[u8], (FailureKind, String)> {
        let (tag, start, len) = self.spans[i];
        let bytes = &self.buf[start as usize..(start + len) as usize];
        let kind = match tag {
            OK => return Ok(bytes),
            BAD_ARGUMENT => FailureKind::BadArgument,
            FAILED => FailureKind::Failed,
            BAD_RESULT => FailureKind::BadResult,
            UNKNOWN_TASK => FailureKind::UnknownTask,
            PANICKED => FailureKind::Panicked,
            TRAPPED => FailureKind::Trapped,
            TIMEOUT => FailureKind::Timeout,
            MEMORY_LIMIT => FailureKind::MemoryLimit,
            FUEL => FailureKind::FuelExhausted,
            UNDELIVERED => FailureKind::Undelivered,
            _ => FailureKind::Load,
        };
        Err((kind, String::from_utf8_lossy(bytes).into_owned()))
    }
}

/// Turns every successful outcome in `buf` into an [`FailureKind::Undelivered`] failure with
/// `message` (the chunk sent queue items that were refused); failures stay as they are. A buffer
/// with broken framing is returned unchanged (the host reports that on its own).
pub(crate) fn fail_successes(buf: Vec<u8>, message: &str) -> Vec<u8> {
    if count(&buf).is_none() {
        return buf;
    }
    let Ok(parsed) = Outcomes::parse(buf) else { return Vec::new() };
    let mut out = Vec::with_capacity(parsed.buf.len());
    for &(tag, start, len) in &parsed.spans {
        if tag == OK {
            push(&mut out, UNDELIVERED, message.as_bytes());
        } else {
            push(&mut out, tag, &parsed.buf[start as usize..(start + len) as usize]);
        }
    }
    out
}

/// Counts the outcomes in a buffer, checking its framing.
pub(crate) fn count(buf: &[u8]) -> Option<usize> {
    let mut n = 0;
    let mut at = 0usize;
    while at < buf.len() {
        let head = buf.get(at..at + 5)?;
        if head[0] > LAST_TAG {
            return None;
        }
        let len = u32::from_le_bytes(head[1..5].try_into().ok()?) as usize;
        at = at.checked_add(5 + len)?;
        n += 1;
    }
    (at == buf.len()).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_broken_framing() {
        let mut buf = Vec::new();
        push(&mut buf, OK, b"49");
        push_failure(&mut buf, &FailureKind::Panicked, "boom");
        push(&mut buf, OK, b"");
        assert_eq!(count(&buf), Some(3));
        let o = Outcomes::parse(buf.clone()).unwrap();
        assert_eq!(o.len(), 3);
        assert_eq!(o.get(0).unwrap(), b"49");
        assert_eq!(o.get(1).unwrap_err(), (FailureKind::Panicked, "boom".to_string()));
        assert_eq!(o.get(2).unwrap(), b"");
        // Truncated: the last outcome claims more bytes than remain.
        buf.pop();
        assert!(Outcomes::parse(buf.clone()).is_err());
        assert_eq!(count(&buf), None);
        assert!(Outcomes::parse(vec![0, 10, 0, 0, 0, 1]).is_err());
        assert_eq!(count(&[0, 10, 0, 0, 0, 1]), None);
        assert!(Outcomes::parse(vec![42, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn refused_puts_fail_the_successes_only() {
        let mut buf = Vec::new();
        push(&mut buf, OK, b"1");
        push_failure(&mut buf, &FailureKind::Failed, "own error");
        let o = Outcomes::parse(fail_successes(buf, "lost 2 items")).unwrap();
        assert_eq!(o.get(0).unwrap_err(), (FailureKind::Undelivered, "lost 2 items".to_string()));
        assert_eq!(o.get(1).unwrap_err(), (FailureKind::Failed, "own error".to_string()));
    }
}
