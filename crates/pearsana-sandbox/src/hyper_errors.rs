//! Gives hyper's own error answers the documented envelope.
//!
//! When a request head cannot be parsed (bad syntax `400`, headers too large `431`, URI too long
//! `414`), hyper answers by itself, before any service runs, with an empty body. hyper has no
//! hook for those answers, so this wrapper of the connection's socket recognises them on the
//! way out — a response head without the `x-request-id` header every answer of the router
//! carries — and writes the envelope with a fresh request id in their place. hyper closes the
//! connection after such an answer, so nothing follows it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pearsana_api::spec::{API_VERSION, OLDEST_SUPPORTED_VERSION};
use pearsana_api::types::ErrorCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::ApiError;

/// A socket whose bare hyper error answers are replaced by envelopes.
#[derive(Debug)]
pub struct EnvelopeHyperErrors<S> {
    inner: S,
    /// The replacement being written and how much of it is out.
    replacing: Option<(Vec<u8>, usize)>,
}

impl<S> EnvelopeHyperErrors<S> {
    /// Wraps a socket.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            replacing: None,
        }
    }
}

/// The status line of a bare error head written by hyper itself, if `buf` is one.
fn bare_error_status(buf: &[u8]) -> Option<&str> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ")?;
    if !matches!(rest.first(), Some(b'4' | b'5')) {
        return None;
    }
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let has_request_id = lines.any(|line| {
        line.split_once(':').is_some_and(|(name, _)| {
            name.trim()
                .eq_ignore_ascii_case(crate::request_id::REQUEST_ID_HEADER)
        })
    });
    (!has_request_id).then_some(status_line)
}

/// The enveloped answer that replaces hyper's bare one.
fn envelope_for(status_line: &str) -> Vec<u8> {
    let status = status_line.split(' ').nth(1).unwrap_or("400");
    let message = match status {
        "431" => "The request's headers are too large.",
        "414" => "The request's URI is too long.",
        _ => "The request is not valid HTTP/1.1.",
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = serde_json::to_vec(
        &ApiError::new(ErrorCode::ValidationError, message).envelope(&request_id),
    )
    .unwrap_or_default();
    let mut out = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\nx-request-id: {request_id}\r\nx-api-version: {API_VERSION}\r\n\
         x-api-version-latest: {API_VERSION}\r\nx-api-version-supported: {OLDEST_SUPPORTED_VERSION}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

impl<S: AsyncRead + Unpin> AsyncRead for EnvelopeHyperErrors<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for EnvelopeHyperErrors<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacing.is_none() {
            match bare_error_status(buf) {
                Some(status_line) => this.replacing = Some((envelope_for(status_line), 0)),
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        if let Some((bytes, written)) = &mut this.replacing {
            while *written < bytes.len() {
                let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
        }
        this.replacing = None;
        // hyper wrote its answer as far as it can tell.
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // Not vectored: hyper then writes each response head in one buffer, which is what
    // `bare_error_status` looks at.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_heads_without_a_request_id_are_replaced() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(
            bare_error_status(bare),
            Some("HTTP/1.1 431 Request Header Fields Too Large")
        );
        let ours = b"HTTP/1.1 400 Bad Request\r\nx-request-id: abc\r\n\r\n{}";
        assert_eq!(bare_error_status(ours), None);
        assert_eq!(bare_error_status(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(bare_error_status(b"{\"HTTP/1.1 400\"}"), None);
        let text = String::from_utf8(envelope_for("HTTP/1.1 431 Too Large")).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains("connection: close"));
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(value["error"]["code"], "VALIDATION_ERROR");
    }
}
