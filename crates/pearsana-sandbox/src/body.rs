//! Request bodies: size limits, buffering and JSON decoding into an error envelope.
//!
//! The body layer buffers a request body only once the layers before it (version,
//! authentication, scopes, faults) accepted the request from its headers: a request refused
//! from its headers is answered without its body ever being held in memory ([`reject`]). The
//! bytes of all bodies held at once are bounded by a [`BodyBudget`], and every body must
//! arrive within the body read timeout.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use hyper::body::Body as _;
use pearsana_api::spec::{BATCH_MAX_ITEMS, MAX_DOCUMENT_BYTES, Operation, operations};
use pearsana_api::types::ErrorCode;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::app::AppState;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::strict_json;

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

/// The body limit of an operation (`None`: not a spec operation, such as the token endpoint).
pub fn limit_for(operation: Option<&Operation>) -> usize {
    match operation.map(|op| op.id) {
        Some(id) if id == operations::SUBMIT_DOCUMENT.id => SINGLE_DOCUMENT_BODY_LIMIT,
        Some(id) if id == operations::SUBMIT_DOCUMENT_BATCH.id => BATCH_BODY_LIMIT,
        _ => SMALL_BODY_LIMIT,
    }
}

/// A request body read by the body layer.
#[derive(Debug, Clone)]
pub enum BufferedBody {
    /// The whole body, with the share of the in-flight memory budget it holds (given back
    /// when the request is done).
    Complete(Bytes, #[allow(dead_code)] Option<Arc<OwnedSemaphorePermit>>),
    /// The body was longer than the limit (its rest was read and discarded).
    TooLarge {
        /// The limit that applied.
        limit: usize,
    },
    /// The connection failed while the body was read.
    Broken,
}

/// Why a body could not be buffered at all; answered by the body layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferError {
    /// The client did not send the body within the body read timeout.
    TimedOut,
    /// The in-flight memory budget had no room for it within the body read timeout.
    NoRoom,
}

/// Memory shared by all request bodies being buffered: one permit per byte.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    permits: Arc<Semaphore>,
    total: usize,
}

impl BodyBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> Self {
        let total = bytes.min(Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Bytes not held by any body right now.
    #[cfg(test)]
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }
}

/// Reads a body up to `limit` bytes, discarding (but consuming) any excess, holding its bytes
/// in `budget`, within `timeout`.
pub async fn buffer(
    mut body: Body,
    limit: usize,
    budget: &BodyBudget,
    timeout: Duration,
) -> Result<BufferedBody, BufferError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let acquire = |count: usize| async move {
        let count = u32::try_from(count).map_err(|_| BufferError::NoRoom)?;
        let acquire = budget.permits.clone().acquire_many_owned(count);
        match tokio::time::timeout_at(deadline, acquire).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(BufferError::NoRoom),
        }
    };
    // A body that declares its length (within the limit) takes its whole share of the budget
    // before its first byte is read, all or nothing: bodies that each took part of the budget
    // as their bytes arrived could together hold all of it and wait for each other until
    // they time out. Its buffer is sized once too, so a large body is not copied over and
    // over while it grows (untouched capacity is not resident memory).
    let declared = body
        .size_hint()
        .exact()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n <= limit);
    let mut held: Option<OwnedSemaphorePermit> = None;
    let mut reserved = 0usize;
    let mut collected: Vec<u8> = Vec::new();
    if let Some(declared) = declared.filter(|n| *n > 0) {
        if declared > budget.total {
            return Err(BufferError::NoRoom);
        }
        held = Some(acquire(declared).await?);
        reserved = declared;
        collected.reserve_exact(declared);
    }
    let mut total = 0usize;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return Err(BufferError::TimedOut),
            Ok(None) => break,
            Ok(Some(frame)) => frame,
        };
        let Ok(frame) = frame else {
            return Ok(BufferedBody::Broken);
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total <= limit {
            if total > budget.total {
                return Err(BufferError::NoRoom);
            }
            if total > reserved {
                let permit = acquire(total - reserved).await?;
                reserved = total;
                match &mut held {
                    Some(held) => held.merge(permit),
                    None => held = Some(permit),
                }
            }
            collected.extend_from_slice(&data);
        } else {
            collected = Vec::new();
            held = None;
            if total > limit.saturating_add(DRAIN_CAP_BYTES) {
                break;
            }
        }
    }
    if total > limit {
        Ok(BufferedBody::TooLarge { limit })
    } else {
        Ok(BufferedBody::Complete(
            Bytes::from(collected),
            held.map(Arc::new),
        ))
    }
}

/// Whether a request may carry body bytes.
fn may_have_body(request: &Request) -> bool {
    request.body().size_hint().exact() != Some(0)
}

/// Answers `error` without reading the request's body into memory: the body is read and
/// discarded in the background (so the client sees the answer, not a reset), within the body
/// read timeout and up to `DRAIN_CAP_BYTES`, and the connection is closed after it.
pub fn reject(request: Request, error: ApiError, timeout: Duration) -> Response {
    if !may_have_body(&request) {
        return error.into_response();
    }
    let body = request.into_body();
    tokio::spawn(async move {
        let mut body = body;
        let mut drained = 0usize;
        let _ = tokio::time::timeout(timeout, async {
            while let Some(Ok(frame)) = body.frame().await {
                if let Ok(data) = frame.into_data() {
                    drained = drained.saturating_add(data.len());
                    if drained > DRAIN_CAP_BYTES {
                        break;
                    }
                }
            }
        })
        .await;
    });
    error.closing().into_response()
}

/// The layer that buffers every request body with its operation's limit, after the layers
/// that may refuse the request from its headers alone.
pub async fn layer(State(app): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let operation = request
        .extensions()
        .get::<RequestContext>()
        .and_then(|c| c.operation);
    let timeout = app.config.limits.body_read_timeout;
    let body = std::mem::take(request.body_mut());
    match buffer(body, limit_for(operation), &app.body_budget, timeout).await {
        Ok(buffered) => {
            request.extensions_mut().insert(buffered);
            next.run(request).await
        }
        Err(BufferError::TimedOut) => ApiError::new(
            ErrorCode::ValidationError,
            format!(
                "The request body was not received within {} seconds.",
                timeout.as_secs()
            ),
        )
        .with_status(StatusCode::REQUEST_TIMEOUT)
        .closing()
        .into_response(),
        Err(BufferError::NoRoom) => ApiError::unavailable(
            "The sandbox is holding too many request bodies; retry shortly.",
            1,
        )
        .closing()
        .into_response(),
    }
}

/// A request's JSON body, decoded strictly (see [`json`]); the extractor for handlers.
#[derive(Debug)]
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequestParts<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let body = parts
            .extensions
            .get::<BufferedBody>()
            .ok_or_else(ApiError::internal)?;
        json(&parts.headers, body).map(JsonBody)
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

/// A document operation's JSON body, its files measured in place instead of copied (see
/// [`strict_json::from_slice_documents`]); the extractor for the documents handlers.
#[derive(Debug)]
pub struct DocumentsBody<const BATCH: bool> {
    /// The body, with [`strict_json::FILE_STAND_IN`] where a file was measured.
    pub value: Value,
    /// The measured files, by document index.
    pub files: strict_json::MeasuredFiles,
}

impl<S: Send + Sync, const BATCH: bool> FromRequestParts<S> for DocumentsBody<BATCH> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let body = parts
            .extensions
            .get::<BufferedBody>()
            .ok_or_else(ApiError::internal)?;
        let layout = if BATCH {
            strict_json::DocumentLayout::Batch
        } else {
            strict_json::DocumentLayout::Single
        };
        let bytes = json_bytes(&parts.headers, body)?;
        let (value, files) = strict_json::from_slice_documents(bytes, layout)
            .map_err(|e| ApiError::validation(vec![e]))?;
        Ok(Self { value, files })
    }
}

/// Decodes a JSON request body, or says in the envelope why it cannot.
pub fn json(headers: &HeaderMap, body: &BufferedBody) -> Result<Value, ApiError> {
    strict_json::from_slice(json_bytes(headers, body)?).map_err(|e| ApiError::validation(vec![e]))
}

/// The bytes of a complete JSON body, or why there are none to decode.
fn json_bytes<'a>(headers: &HeaderMap, body: &'a BufferedBody) -> Result<&'a Bytes, ApiError> {
    let bytes = match body {
        BufferedBody::Complete(bytes, _) => bytes,
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
    Ok(bytes)
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
        assert_eq!(limit_for(Some(&operations::CREATE_USER)), SMALL_BODY_LIMIT);
        assert_eq!(
            limit_for(Some(&operations::SUBMIT_DOCUMENT_BATCH)),
            BATCH_BODY_LIMIT
        );
        assert_eq!(limit_for(None), SMALL_BODY_LIMIT);
    }

    #[tokio::test]
    async fn oversized_bodies_are_consumed_and_reported() {
        let budget = BodyBudget::new(1000);
        let wait = Duration::from_secs(5);
        let body = Body::from(vec![b'x'; 100]);
        assert!(matches!(
            buffer(body, 10, &budget, wait).await,
            Ok(BufferedBody::TooLarge { limit: 10 })
        ));
        let body = Body::from("{}");
        let held = buffer(body, 10, &budget, wait).await.unwrap();
        assert!(matches!(&held, BufferedBody::Complete(b, _) if b == "{}"));
        assert_eq!(budget.available(), 998, "the body holds its bytes");
        drop(held);
        assert_eq!(budget.available(), 1000, "and gives them back");
    }

    #[tokio::test]
    async fn a_declared_body_takes_its_whole_share_before_reading_so_two_cannot_deadlock() {
        let budget = BodyBudget::new(10);
        let wait = Duration::from_millis(50);
        // Declares 8 bytes (`Full` has an exact size hint): all 8 are taken at once.
        let first = buffer(Body::from("12345678"), 100, &budget, wait)
            .await
            .unwrap();
        assert_eq!(budget.available(), 2);
        // A second declared body of 8 does not take the 2 left and wait for more: it waits
        // for all 8, and is refused after the timeout without holding any.
        let second = buffer(Body::from("abcdefgh"), 100, &budget, wait).await;
        assert_eq!(second.unwrap_err(), BufferError::NoRoom);
        assert_eq!(budget.available(), 2, "the refused body held nothing");
        drop(first);
        assert!(
            buffer(Body::from("abcdefgh"), 100, &budget, wait)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn bodies_beyond_the_budget_wait_then_are_refused() {
        let budget = BodyBudget::new(8);
        let wait = Duration::from_millis(50);
        let first = buffer(Body::from("12345678"), 100, &budget, wait)
            .await
            .unwrap();
        let second = buffer(Body::from("1"), 100, &budget, wait).await;
        assert_eq!(second.unwrap_err(), BufferError::NoRoom);
        drop(first);
        assert!(buffer(Body::from("1"), 100, &budget, wait).await.is_ok());
        let too_big = buffer(Body::from("123456789"), 100, &budget, wait).await;
        assert_eq!(too_big.unwrap_err(), BufferError::NoRoom);
    }

    #[test]
    fn content_type_and_syntax_are_checked() {
        let ok = BufferedBody::Complete(Bytes::from_static(b"{\"a\":1}"), None);
        assert!(json(&json_headers("application/json; charset=utf-8"), &ok).is_ok());
        assert!(json(&json_headers("text/plain"), &ok).is_err());
        let garbage = BufferedBody::Complete(Bytes::from_static(b"\xff\x00{"), None);
        let err = json(&json_headers("application/json"), &garbage).unwrap_err();
        assert!(err.details.unwrap().errors[0].starts_with("body is not valid JSON"));
    }
}
