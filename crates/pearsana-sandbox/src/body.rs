//! Request bodies: size limits, buffering and JSON decoding into an error envelope.
//!
//! The context middleware buffers every request body before the handler runs, so an error
//! answered early (401, 429, an oversized body) never leaves unread bytes on the connection,
//! which would make the peer see a reset instead of the answer.

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use http_body_util::BodyExt;
use pearsana_api::spec::{BATCH_MAX_ITEMS, MAX_DOCUMENT_BYTES};
use serde_json::Value;

use crate::error::ApiError;

/// Room for the JSON fields around a document's base64 `file`.
const JSON_OVERHEAD_BYTES: usize = 1 << 20;
/// Limit for bodies of operations without documents.
pub const SMALL_BODY_LIMIT: usize = 1 << 20;
/// Beyond this many bytes past the limit, an oversized body is no longer drained.
const DRAIN_CAP_BYTES: usize = 1 << 30;

/// Length of the padded standard base64 text for `bytes` bytes.
pub const fn base64_len(bytes: u64) -> usize {
    (bytes.div_ceil(3) * 4) as usize
}

/// Largest body of `POST /v1/documents:submit`: one document of `MAX_DOCUMENT_BYTES` plus JSON.
pub const SINGLE_DOCUMENT_BODY_LIMIT: usize = base64_len(MAX_DOCUMENT_BYTES) + JSON_OVERHEAD_BYTES;
/// Largest body of `POST /v1/documents:submitBatch`: `BATCH_MAX_ITEMS` of the above.
pub const BATCH_BODY_LIMIT: usize = BATCH_MAX_ITEMS * SINGLE_DOCUMENT_BODY_LIMIT;

/// The body limit for a request path.
pub fn limit_for(path: &str) -> usize {
    match path {
        "/v1/documents:submit" => SINGLE_DOCUMENT_BODY_LIMIT,
        "/v1/documents:submitBatch" => BATCH_BODY_LIMIT,
        _ => SMALL_BODY_LIMIT,
    }
}

/// A request body read by the middleware.
#[derive(Debug, Clone)]
pub enum BufferedBody {
    /// The whole body.
    Complete(Bytes),
    /// The body was longer than the limit (its rest was read and discarded).
    TooLarge {
        /// The limit that applied.
        limit: usize,
    },
    /// The connection failed while the body was read.
    Broken,
}

/// Reads a body up to `limit` bytes, discarding (but consuming) any excess.
pub async fn buffer(mut body: Body, limit: usize) -> BufferedBody {
    let mut collected: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return BufferedBody::Broken;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total <= limit {
            collected.extend_from_slice(&data);
        } else {
            collected = Vec::new();
            if total > limit.saturating_add(DRAIN_CAP_BYTES) {
                break;
            }
        }
    }
    if total > limit {
        BufferedBody::TooLarge { limit }
    } else {
        BufferedBody::Complete(Bytes::from(collected))
    }
}

/// Whether a `Content-Type` names JSON (`application/json` or a `+json` type, any parameters).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Decodes a JSON request body, or says in the envelope why it cannot.
pub fn json(headers: &HeaderMap, body: &BufferedBody) -> Result<Value, ApiError> {
    let bytes = match body {
        BufferedBody::Complete(bytes) => bytes,
        BufferedBody::TooLarge { limit } => {
            return Err(ApiError::validation(vec![format!(
                "body must not be larger than {limit} bytes"
            )]));
        }
        BufferedBody::Broken => {
            return Err(ApiError::validation(vec![
                "body could not be read completely".into(),
            ]));
        }
    };
    if !is_json(headers) {
        return Err(ApiError::validation(vec![
            "Content-Type must be application/json".into(),
        ]));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::validation(vec!["body is required".into()]));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::validation(vec![format!(
            "body is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        )])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn json_headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_str(content_type).unwrap(),
        );
        headers
    }

    #[test]
    fn limits_leave_room_for_the_largest_documents() {
        assert_eq!(base64_len(3), 4);
        assert_eq!(base64_len(4), 8);
        assert!(SINGLE_DOCUMENT_BODY_LIMIT > base64_len(MAX_DOCUMENT_BYTES));
        assert_eq!(limit_for("/v1/users"), SMALL_BODY_LIMIT);
    }

    #[tokio::test]
    async fn oversized_bodies_are_consumed_and_reported() {
        let body = Body::from(vec![b'x'; 100]);
        assert!(matches!(
            buffer(body, 10).await,
            BufferedBody::TooLarge { limit: 10 }
        ));
        let body = Body::from("{}");
        assert!(matches!(buffer(body, 10).await, BufferedBody::Complete(b) if b == "{}"));
    }

    #[test]
    fn content_type_and_syntax_are_checked() {
        let ok = BufferedBody::Complete(Bytes::from_static(b"{\"a\":1}"));
        assert!(json(&json_headers("application/json; charset=utf-8"), &ok).is_ok());
        assert!(json(&json_headers("text/plain"), &ok).is_err());
        let garbage = BufferedBody::Complete(Bytes::from_static(b"\xff\x00{"));
        let err = json(&json_headers("application/json"), &garbage).unwrap_err();
        assert!(err.details.unwrap().errors[0].starts_with("body is not valid JSON"));
    }
}
