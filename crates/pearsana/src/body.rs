//! Response bodies are read with a size limit.
//!
//! A misbehaving server or proxy can answer with a body of any size; read without a bound, a
//! 2 GB error page becomes 2 GB of memory, and a 200 MB `access_token` would be sent back as a
//! header on every call. The SDK reads every body through [`read_capped`]: the declared
//! `Content-Length` is checked first, then the chunks as they arrive, so no more than the limit
//! (plus one chunk) is ever held.

use bytes::{Bytes, BytesMut};
use reqwest::Response;

/// Default limit for an API answer: far above the largest documented answer (a batch of 25
/// document results), far below what would hurt a partner's server.
pub const DEFAULT_MAX_RESPONSE_BODY: usize = 4 * 1024 * 1024;

/// Limit for a token endpoint answer (a token, its type, lifetime and scopes).
pub const MAX_TOKEN_RESPONSE_BODY: usize = 64 * 1024;

/// Longest `access_token` accepted; it is sent as a header on every call, and servers refuse
/// headers much larger than this.
pub const MAX_ACCESS_TOKEN_LEN: usize = 16 * 1024;

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The body is (or declares to be) larger than the limit.
    TooLarge,
    /// The connection failed while reading.
    Transport(reqwest::Error),
}

/// Reads the whole body of `response`, failing once it exceeds `limit` bytes.
pub(crate) async fn read_capped(mut response: Response, limit: usize) -> Result<Bytes, BodyError> {
    if response
        .content_length()
        .is_some_and(|declared| declared > limit as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut first: Option<Bytes> = None;
    let mut rest: Option<BytesMut> = None;
    let mut total = 0usize;
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        total += chunk.len();
        if total > limit {
            return Err(BodyError::TooLarge);
        }
        match (&mut first, &mut rest) {
            (None, _) => first = Some(chunk),
            (Some(head), None) => {
                let mut joined = BytesMut::with_capacity(head.len() + chunk.len());
                joined.extend_from_slice(head);
                joined.extend_from_slice(&chunk);
                rest = Some(joined);
            }
            (Some(_), Some(joined)) => joined.extend_from_slice(&chunk),
        }
    }
    Ok(match (first, rest) {
        (_, Some(joined)) => joined.freeze(),
        (Some(only), None) => only,
        (None, None) => Bytes::new(),
    })
}
