//! Per-call options: what one call may do differently from the client's defaults.
//!
//! In the spirit of google-cloud-rust's `RequestOptions` and the AWS SDK's `customize()`, every
//! ergonomic method returns a [`Call`](crate::Call) whose option methods change that call
//! only. The options travel with the call (nothing is stored in the client or in task-local
//! state), so a spawned task or a concurrent call never sees another call's options.
//!
//! ```no_run
//! use std::time::Duration;
//! use pearsana::retry::retry_ambiguous_policy;
//!
//! # async fn run(client: pearsana::Client, request: pearsana::types::CreateInvitationRequest) -> Result<(), pearsana::Error> {
//! let invited = client
//!     .create_invitation(&request)
//!     .timeout(Duration::from_secs(5))
//!     .request_id("invite-0042".parse()?)
//!     // Accept the risk of a duplicate invitation for this one call.
//!     .retry_policy(retry_ambiguous_policy())
//!     .header("x-partner-trace", "batch-7")?
//!     .send()
//!     .await?;
//! println!("request id {}", invited.metadata().request_id());
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::error::{Error, ValidationError};
use crate::request_id::RequestId;
use crate::retry::RetryPolicy;
use crate::version::ApiVersion;

/// Options for one call; every field left unset falls back to the client's setting.
///
/// ```
/// use std::time::Duration;
/// use pearsana::{CallOptions, retry::NeverRetry};
///
/// let options = CallOptions::new()
///     .with_timeout(Duration::from_secs(2))
///     .with_retry_policy(NeverRetry)
///     .with_request_id("ticket-4711".parse()?);
/// assert_eq!(options.timeout(), Some(Duration::from_secs(2)));
/// # Ok::<(), pearsana::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) retry_policy: Option<Arc<dyn RetryPolicy>>,
    pub(crate) request_id: Option<RequestId>,
    pub(crate) headers: HeaderMap,
    pub(crate) api_version: Option<ApiVersion>,
}

impl CallOptions {
    /// No option set: the client's defaults apply.
    pub fn new() -> Self {
        Self::default()
    }

    /// Time limit of each attempt of this call (default: the client's
    /// [`timeout`](crate::ClientBuilder::timeout)).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// When to repeat this call after a failure (default: the client's policy). Pass
    /// [`retry_ambiguous_policy`](crate::retry::retry_ambiguous_policy) to let a
    /// non-idempotent call (an invitation, a document) be repeated after an ambiguous failure.
    pub fn with_retry_policy(mut self, policy: impl RetryPolicy) -> Self {
        self.retry_policy = Some(Arc::new(policy));
        self
    }

    /// The `X-Request-Id` of this call (kept for all its attempts) instead of a generated one.
    pub fn with_request_id(mut self, id: RequestId) -> Self {
        self.request_id = Some(id);
        self
    }

    /// The API version this call pins instead of the client's.
    pub fn with_api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = Some(version);
        self
    }

    /// An extra header sent with this call. The headers the SDK manages (`Authorization`,
    /// `X-Request-Id`, `X-API-Version`, `Content-Type`, `Content-Length`, `Host`) cannot be set
    /// this way; use the dedicated options.
    pub fn with_header(mut self, name: &str, value: &str) -> Result<Self, Error> {
        let (name, value) = check_header(name, value)?;
        self.headers.append(name, value);
        Ok(self)
    }

    /// The per-attempt timeout, if set.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The request id, if set.
    pub fn request_id(&self) -> Option<&RequestId> {
        self.request_id.as_ref()
    }

    /// The pinned API version, if set.
    pub fn api_version(&self) -> Option<ApiVersion> {
        self.api_version
    }

    /// The extra headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

const MANAGED: &[&str] = &[
    "authorization",
    pearsana_api::spec::headers::X_REQUEST_ID,
    pearsana_api::spec::headers::X_API_VERSION,
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
];

fn check_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), Error> {
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| ValidationError::single("header", format!("`{name}` is not a header name")))?;
    if MANAGED.contains(&header_name.as_str()) {
        return Err(ValidationError::single(
            "header",
            format!("`{name}` is set by the SDK; use the dedicated call option"),
        )
        .into());
    }
    let header_value = HeaderValue::from_str(value).map_err(|_| {
        ValidationError::single(
            "header",
            format!("the value of `{name}` is not a header value"),
        )
    })?;
    Ok((header_name, header_value))
}
