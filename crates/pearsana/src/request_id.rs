//! Request ids: one per logical call, sent as `X-Request-Id` and kept across its retries.
//!
//! The API echoes the id in the response header and in `error.requestId`, which makes it the
//! key for support requests. The client generates a UUID v4 for every call unless the caller
//! supplies one for that call ([`Call::request_id`](crate::Call::request_id),
//! [`CallOptions::with_request_id`](crate::CallOptions::with_request_id)).

use std::fmt;
use std::str::FromStr;

use pearsana_api::spec::MAX_REQUEST_ID_LEN;
use pearsana_api::spec::headers;

use crate::error::{Error, ValidationError};

/// The header that carries the id ([`pearsana_api::spec::headers::X_REQUEST_ID`]).
pub const REQUEST_ID_HEADER: &str = headers::X_REQUEST_ID;
/// [`REQUEST_ID_HEADER`] as a header name, so maps are read without parsing the name.
pub(crate) const REQUEST_ID_NAME: reqwest::header::HeaderName =
    reqwest::header::HeaderName::from_static(REQUEST_ID_HEADER);

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
                headers::spelling(REQUEST_ID_HEADER).unwrap_or(REQUEST_ID_HEADER),
                format!("must be 1 to {MAX_REQUEST_ID_LEN} visible ASCII characters"),
            )
            .into())
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn into_string(self) -> String {
        self.0
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
