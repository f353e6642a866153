//! Request ids: one per logical call, sent as `X-Request-Id` and kept across its retries.
//!
//! The API echoes the id in the response header and in `error.requestId`, which makes it the
//! key for support requests. The client generates a UUID v4 for every call unless the caller
//! supplies one with [`with_request_id`].

use std::fmt;
use std::future::Future;
use std::str::FromStr;

use pearsana_api::spec::MAX_REQUEST_ID_LEN;

use crate::error::{Error, ValidationError};

/// The header that carries the id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A valid request id: 1 to [`MAX_REQUEST_ID_LEN`] visible ASCII characters.
///
/// ```
/// use pearsana::RequestId;
///
/// let id: RequestId = "import-2026-01-30-0001".parse()?;
/// assert_eq!(id.as_str(), "import-2026-01-30-0001");
/// assert!("has space".parse::<RequestId>().is_err());
/// # Ok::<(), pearsana::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh random id (UUID v4).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// Checks and wraps a caller-chosen id.
    pub fn new(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        if is_valid(&id) {
            Ok(Self(id))
        } else {
            Err(ValidationError::single(
                "X-Request-Id",
                format!("must be 1 to {MAX_REQUEST_ID_LEN} visible ASCII characters"),
            )
            .into())
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `id` is 1 to [`MAX_REQUEST_ID_LEN`] characters in `!`..=`~`.
pub(crate) fn is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

impl FromStr for RequestId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.0)
    }
}

tokio::task_local! {
    static CALLER_REQUEST_ID: RequestId;
}

/// Runs `future` so that every API call made inside it sends `id` as its `X-Request-Id`
/// instead of a generated one.
///
/// ```no_run
/// # async fn run(client: pearsana::Client) -> Result<(), pearsana::Error> {
/// let id: pearsana::RequestId = "ticket-4711".parse()?;
/// let pong = pearsana::with_request_id(id, client.ping()).await?;
/// # Ok(())
/// # }
/// ```
pub async fn with_request_id<F: Future>(id: RequestId, future: F) -> F::Output {
    CALLER_REQUEST_ID.scope(id, future).await
}

/// The id for a new call: the caller's, if one is in scope, else a fresh UUID.
pub(crate) fn for_new_call() -> RequestId {
    CALLER_REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| RequestId::generate())
}
