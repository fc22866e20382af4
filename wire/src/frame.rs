//! The layout of a frame on a worker's socket (and of any stream that carries the same protocol).
//!
//! A frame is `[u32 header length][u64 payload length][postcard header][raw payload]`, little
//! endian. Headers are small; payloads (argument, result and item bytes) are never postcard-encoded
//! byte by byte, so both sides read them straight into their final buffers.

use alloc::vec::Vec;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Bytes before the header: its length (u32) and the payload's (u64).
pub const PREFIX: usize = 12;

/// Headers larger than this are refused as corrupt rather than allocated.
pub const MAX_HEADER: u32 = 64 << 20;

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header length is over [`MAX_HEADER`].
    #[error("frame header of {0} bytes (at most {MAX_HEADER})")]
    HeaderTooLarge(u32),
    /// The payload does not fit in this machine's address space.
    #[error("frame payload of {0} bytes is larger than memory")]
    PayloadTooLarge(u64),
    /// The header does not decode as the expected message.
    #[error("frame header does not decode: {0}")]
    BadHeader(alloc::string::String),
}

/// The prefix and header of a frame whose payload has `payload_len` bytes.
pub fn head<H: Serialize>(header: &H, payload_len: u64) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::with_capacity(PREFIX + 32);
    out.extend_from_slice(&[0; PREFIX]);
    let mut out = postcard::to_extend(header, out).map_err(|e| FrameError::BadHeader(alloc::format!("{e}")))?;
    let head_len = (out.len() - PREFIX) as u32;
    if head_len > MAX_HEADER {
        return Err(FrameError::HeaderTooLarge(head_len));
    }
    out[..4].copy_from_slice(&head_len.to_le_bytes());
    out[4..PREFIX].copy_from_slice(&payload_len.to_le_bytes());
    Ok(out)
}

/// The header and payload lengths a prefix announces.
pub fn parse_prefix(prefix: &[u8; PREFIX]) -> Result<(usize, usize), FrameError> {
    let head_len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let mut payload = [0u8; 8];
    payload.copy_from_slice(&prefix[4..]);
    let payload_len = u64::from_le_bytes(payload);
    if head_len > MAX_HEADER {
        return Err(FrameError::HeaderTooLarge(head_len));
    }
    let payload_len = usize::try_from(payload_len).map_err(|_| FrameError::PayloadTooLarge(payload_len))?;
    Ok((head_len as usize, payload_len))
}

/// Decodes a header (the bytes after the prefix, of the announced length).
pub fn decode_header<H: DeserializeOwned>(bytes: &[u8]) -> Result<H, FrameError> {
    postcard::from_bytes(bytes).map_err(|e| FrameError::BadHeader(alloc::format!("{e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_announces_its_lengths() {
        let h = head(&(7u8, 300u16), 1 << 40).unwrap();
        let prefix: [u8; PREFIX] = h[..PREFIX].try_into().unwrap();
        let (head_len, payload_len) = parse_prefix(&prefix).unwrap();
        assert_eq!((head_len, payload_len), (h.len() - PREFIX, 1 << 40));
        assert_eq!(decode_header::<(u8, u16)>(&h[PREFIX..]).unwrap(), (7, 300));
        let mut bad = prefix;
        bad[..4].copy_from_slice(&(MAX_HEADER + 1).to_le_bytes());
        assert_eq!(parse_prefix(&bad), Err(FrameError::HeaderTooLarge(MAX_HEADER + 1)));
    }
}
