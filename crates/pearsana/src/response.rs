//! What a successful call returns besides its body: [`Response`] and [`ResponseMetadata`].
//!
//! The response headers are moved (not copied) into the metadata and read only when asked,
//! so a caller who does not look pays nothing for it.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::request_id::REQUEST_ID_NAME;
use crate::version::{self, ApiVersion};

/// The body of a successful call with its [`ResponseMetadata`].
///
/// ```no_run
/// # async fn run(client: pearsana::Client) -> Result<(), pearsana::Error> {
/// let pong = client.ping().send().await?;
/// println!("client {} (request id {})", pong.body().client_id, pong.metadata().request_id());
/// let body = pong.into_body();
/// # let _ = body;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Response<T> {
    body: T,
    metadata: ResponseMetadata,
}

impl<T> Response<T> {
    pub(crate) fn new(body: T, metadata: ResponseMetadata) -> Self {
        Self { body, metadata }
    }

    /// The decoded body.
    pub fn body(&self) -> &T {
        &self.body
    }

    /// The body, dropping the metadata.
    pub fn into_body(self) -> T {
        self.body
    }

    /// Request id, status, versions, rate limit, attempts and time taken.
    pub fn metadata(&self) -> &ResponseMetadata {
        &self.metadata
    }

    /// Body and metadata.
    pub fn into_parts(self) -> (T, ResponseMetadata) {
        (self.body, self.metadata)
    }
}

/// Facts about the answer to a successful call.
#[derive(Debug, Clone)]
pub struct ResponseMetadata {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) sent_request_id: String,
    pub(crate) attempts: u32,
    pub(crate) elapsed: Duration,
}

/// The rate-limit state a server reported (`X-RateLimit-*` or the IETF `RateLimit-*`
/// headers), when it reported one. The Partner API documents none today; a `429` carries
/// `Retry-After` instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Requests allowed per window.
    pub limit: Option<u64>,
    /// Requests left in the current window.
    pub remaining: Option<u64>,
    /// Seconds until the window resets.
    pub reset_seconds: Option<u64>,
}

impl ResponseMetadata {
    /// The request id: the server's `X-Request-Id` answer, else the id the client sent.
    pub fn request_id(&self) -> &str {
        self.headers
            .get(REQUEST_ID_NAME)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .unwrap_or(&self.sent_request_id)
    }

    /// HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// `X-API-Version`: the version the server applied.
    pub fn api_version(&self) -> Option<ApiVersion> {
        version::header_version(&self.headers, version::VERSION_NAME)
    }

    /// `X-API-Version-Latest`: the newest version the server offers.
    pub fn latest_api_version(&self) -> Option<ApiVersion> {
        version::header_version(&self.headers, version::LATEST_VERSION_NAME)
    }

    /// `X-API-Version-Supported`: the oldest version the server still accepts.
    pub fn oldest_supported_api_version(&self) -> Option<ApiVersion> {
        version::header_version(&self.headers, version::SUPPORTED_VERSION_NAME)
    }

    /// The rate-limit headers, when the server sent any.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        let read = |names: [&str; 2]| {
            names.iter().find_map(|n| {
                self.headers
                    .get(*n)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
        };
        let limit = read(["x-ratelimit-limit", "ratelimit-limit"]);
        let remaining = read(["x-ratelimit-remaining", "ratelimit-remaining"]);
        let reset_seconds = read(["x-ratelimit-reset", "ratelimit-reset"]);
        (limit.is_some() || remaining.is_some() || reset_seconds.is_some()).then_some(RateLimit {
            limit,
            remaining,
            reset_seconds,
        })
    }

    /// How many attempts the call took (1 when the first one succeeded).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Time from the start of the call to the answer, waits between attempts included.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// All response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}
