//! The one error type of the SDK, and the API's error envelope decoded into it.
//!
//! [`Error`] separates what a caller reacts to differently: an error answer from the API
//! ([`Error::Api`], with the code, message, request id and typed details), an unsupported
//! pinned version ([`Error::UnsupportedApiVersion`]), a failed token request ([`Error::Auth`]),
//! input rejected before any I/O ([`Error::Validation`]), configuration mistakes
//! ([`Error::Config`]), the network ([`Error::Transport`]) and bodies that could not be read
//! ([`Error::Decode`], which keeps the raw body). None of them can contain a secret.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use pearsana_api::types;
use reqwest::StatusCode;

use crate::auth::AuthError;
use crate::retry::{FailureKind, Observed, classify};
use crate::secret::Redactor;
use crate::version::ApiVersion;

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A machine-readable error code from the API's error envelope: the generated open enum of
/// the spec's `ErrorCode` schema.
///
/// The documented codes have variants; any other code (a newer API may add some) arrives as
/// `ErrorCode::Unknown` instead of failing to decode, and [`ErrorCode::as_str`] gives it as
/// sent. Match the codes you handle and end with a wildcard arm: a code this version does not
/// know may get its own variant in a later one.
///
/// ```
/// use pearsana::ErrorCode;
///
/// assert_eq!("CONFLICT".parse::<ErrorCode>().unwrap(), ErrorCode::Conflict);
/// let newer: ErrorCode = "PAYMENT_REQUIRED".parse().unwrap();
/// assert!(newer.is_unknown());
/// assert_eq!(newer.as_str(), "PAYMENT_REQUIRED");
/// assert_eq!(ErrorCode::TooManyRequests.to_string(), "TOO_MANY_REQUESTS");
/// let advice = match newer {
///     ErrorCode::TooManyRequests => "slow down",
///     ErrorCode::ValidationError => "fix the request",
///     _ => "see the message",
/// };
/// assert_eq!(advice, "see the message");
/// ```
pub use pearsana_api::types::ErrorCode;

/// The typed `details` of an API error, where the documentation defines them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorDetails {
    /// No details were sent (or none this SDK understands).
    None,
    /// `VALIDATION_ERROR`: one message per problem.
    Validation {
        /// The server's messages, e.g. `identity.email is required`.
        errors: Vec<String>,
    },
    /// `INSUFFICIENT_SCOPE`: what the operation needs and what the token has.
    InsufficientScope {
        /// Scopes the operation requires.
        required_scopes: Vec<String>,
        /// Scopes the token carried.
        provided_scopes: Vec<String>,
    },
    /// `CONFLICT`: the user that already has this email.
    Conflict {
        /// Id of the existing user.
        user_id: Option<String>,
        /// The email (lowercase).
        email: Option<String>,
    },
    /// `EXTERNAL_REF_CONFLICT`: the reference that is linked to another user.
    ExternalRefConflict {
        /// The namespace (sent by the API as `type`).
        namespace: Option<String>,
        /// The external id.
        external_id: Option<String>,
    },
    /// `TOO_MANY_REQUESTS`: how long to wait.
    TooManyRequests {
        /// From the `Retry-After` header, else from `details.retryAfterSeconds`.
        retry_after: Option<Duration>,
    },
    /// Details of another code, as decoded by the generated type.
    Other(Box<types::ErrorDetails>),
}

/// An error answer from the API, decoded from its envelope.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable message from the server.
    pub message: String,
    /// `error.requestId`, else the `X-Request-Id` header, else the id the client sent.
    pub request_id: Option<String>,
    /// Typed details, where the documentation defines them.
    pub details: ErrorDetails,
    /// The `Retry-After` header of the answer, if any.
    pub(crate) retry_after: Option<Duration>,
}

impl ApiError {
    /// How long the server asked the client to wait, for `429` (and `503`) answers.
    pub fn retry_after(&self) -> Option<Duration> {
        match &self.details {
            ErrorDetails::TooManyRequests { retry_after } => *retry_after,
            _ => self.retry_after,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )?;
        if let ErrorDetails::Validation { errors } = &self.details
            && !errors.is_empty()
        {
            write!(f, " ({})", errors.join("; "))?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

/// One problem found by client-side validation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldProblem {
    /// Path of the field in the request body, e.g. `identity.email` or `items[3].itemId`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for FieldProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Input rejected before anything was sent; lists every problem, not only the first.
///
/// Built with [`ValidationError::single`] and [`ValidationError::push`], never with a struct
/// literal, so that fields can be added:
///
/// ```
/// let mut error = pearsana::ValidationError::single("identity.email", "is not an email");
/// error.push("identity.firstName", "is empty");
/// assert!(error.mentions("identity.email") && error.problems.len() == 2);
/// ```
///
/// ```compile_fail,E0639
/// let error = pearsana::ValidationError { problems: Vec::new() };
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ValidationError {
    /// Every problem found.
    pub problems: Vec<FieldProblem>,
}

impl ValidationError {
    /// An error with one problem.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut error = Self::default();
        error.push(field, message);
        error
    }

    /// Adds a problem.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(FieldProblem {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Whether any problem was found.
    pub fn is_empty(&self) -> bool {
        self.problems.is_empty()
    }

    /// `Ok(())` when no problem was found, else `Err(self)`.
    pub fn into_result(self) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self))
        }
    }

    /// Whether a problem names `field` exactly.
    pub fn mentions(&self, field: &str) -> bool {
        self.problems.iter().any(|p| p.field == field)
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self.problems.iter().map(ToString::to_string).collect();
        write!(f, "{}", list.join("; "))
    }
}

/// A mistake in the client's configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Required environment variables are not set.
    #[error("missing environment variable(s): {}", .0.join(", "))]
    MissingEnv(Vec<&'static str>),
    /// An environment variable has a value the client cannot use.
    #[error("environment variable {var}: {reason}")]
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// Why the value is rejected (the value of a secret is never repeated).
        reason: String,
    },
    /// A builder setting is invalid.
    #[error("{field}: {reason}")]
    Invalid {
        /// The setting.
        field: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("could not build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error envelope.
    #[error("Pearsana API error {0}")]
    Api(Box<ApiError>),

    /// The pinned API version is older than the oldest version the server still serves (410).
    #[error(
        "API version {pinned} is no longer supported (oldest supported: {}, latest: {}){}",
        opt(.oldest_supported), opt(.latest), rid(.request_id)
    )]
    UnsupportedApiVersion {
        /// The version the client sent.
        pinned: ApiVersion,
        /// The oldest version the server accepts.
        oldest_supported: Option<ApiVersion>,
        /// The newest version.
        latest: Option<ApiVersion>,
        /// The server's message.
        message: String,
        /// Request id of the call.
        request_id: Option<String>,
    },

    /// An access token could not be obtained.
    #[error("authentication failed: {source}{}", rid(.request_id))]
    Auth {
        /// What the token endpoint (or the network) said.
        #[source]
        source: AuthError,
        /// Request id of the API call that needed the token.
        request_id: Option<String>,
    },

    /// The input was rejected before any I/O.
    #[error("invalid request: {0}")]
    Validation(ValidationError),

    /// The client is misconfigured.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),

    /// The request could not be sent or the response not received.
    #[error("transport error: {source}{}", rid(.request_id))]
    Transport {
        /// The underlying error.
        #[source]
        source: reqwest::Error,
        /// Request id of the call.
        request_id: Option<String>,
    },

    /// A response body could not be decoded; the raw body is kept.
    #[error("could not decode the response{}: {source}{}", status_suffix(.status), rid(.request_id))]
    Decode {
        /// HTTP status, when known.
        status: Option<StatusCode>,
        /// The body as received.
        body: Bytes,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
        /// Request id of the call.
        request_id: Option<String>,
    },

    /// A status the operation does not document, without an error envelope.
    #[error("unexpected HTTP status {status}{}", rid(.request_id))]
    UnexpectedStatus {
        /// HTTP status.
        status: StatusCode,
        /// The body as received.
        body: Bytes,
        /// The server's `Retry-After`, when it sent one: a `503` with it was not processed.
        retry_after: Option<Duration>,
        /// Request id of the call.
        request_id: Option<String>,
    },

    /// The server answered with a redirect, which the SDK never follows: the Partner API never
    /// redirects, and following one would send the request (personal data, documents) to
    /// another host. Check the configured API URL.
    #[error(
        "the server answered HTTP {} redirecting to {location}; the SDK never follows redirects (check the API URL){}",
        .status.as_u16(), rid(.request_id)
    )]
    Redirected {
        /// HTTP status of the redirect.
        status: StatusCode,
        /// The redirect target (the `Location` header, or the URL a caller-supplied HTTP client
        /// followed to).
        location: String,
        /// Request id of the call.
        request_id: Option<String>,
    },

    /// The response body is larger than the client's limit
    /// ([`ClientBuilder::max_response_body`](crate::ClientBuilder::max_response_body), default
    /// [`DEFAULT_MAX_RESPONSE_BODY`](crate::limits::DEFAULT_MAX_RESPONSE_BODY)); it was not read
    /// further.
    #[error(
        "the response (HTTP {}) has a body larger than {limit} bytes; refused{}",
        .status.as_u16(), rid(.request_id)
    )]
    ResponseTooLarge {
        /// HTTP status.
        status: StatusCode,
        /// The limit in bytes.
        limit: usize,
        /// Request id of the call.
        request_id: Option<String>,
    },

    /// A local file could not be read.
    #[error("could not read {}: {source}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The generated client refused to build the request.
    #[error("invalid request: {message}{}", rid(.request_id))]
    InvalidRequest {
        /// What the generated client reported.
        message: String,
        /// Request id of the call.
        request_id: Option<String>,
    },
}

fn opt(v: &Option<ApiVersion>) -> String {
    v.map_or_else(|| "unknown".to_owned(), |v| v.to_string())
}

fn rid(id: &Option<String>) -> String {
    id.as_ref()
        .map_or_else(String::new, |id| format!(" [request id {id}]"))
}

fn status_suffix(status: &Option<StatusCode>) -> String {
    status.map_or_else(String::new, |s| format!(" (HTTP {})", s.as_u16()))
}

impl From<ValidationError> for Error {
    fn from(error: ValidationError) -> Self {
        Self::Validation(error)
    }
}

/// A request built with the generated builders (`types::CreateUserRequest::builder()`) that
/// lacks a required field or got a value its type refuses: a validation error naming the field.
impl From<types::error::ConversionError> for Error {
    fn from(error: types::error::ConversionError) -> Self {
        let text = error.to_string();
        let (field, problem) = if let Some(field) = text.strip_prefix("no value supplied for ") {
            (field.to_owned(), "is required".to_owned())
        } else if let Some((field, problem)) = text
            .strip_prefix("error converting supplied value for ")
            .and_then(|rest| rest.split_once(": "))
        {
            (field.to_owned(), problem.to_owned())
        } else {
            ("request".to_owned(), text)
        };
        Self::Validation(ValidationError::single(field, problem))
    }
}

impl From<ApiError> for Error {
    fn from(error: ApiError) -> Self {
        Self::Api(Box::new(error))
    }
}

impl ErrorDetails {
    fn redact(&mut self, r: &Redactor) {
        match self {
            Self::Validation { errors } => errors.iter_mut().for_each(|e| r.in_place(e)),
            Self::InsufficientScope {
                required_scopes,
                provided_scopes,
            } => required_scopes
                .iter_mut()
                .chain(provided_scopes.iter_mut())
                .for_each(|e| r.in_place(e)),
            Self::Conflict { user_id, email } => {
                r.option(user_id);
                r.option(email);
            }
            Self::ExternalRefConflict {
                namespace,
                external_id,
            } => {
                r.option(namespace);
                r.option(external_id);
            }
            Self::Other(details) => {
                let d = details.as_mut();
                d.errors.iter_mut().for_each(|e| r.in_place(e));
                d.required_scopes.iter_mut().for_each(|e| r.in_place(e));
                d.provided_scopes.iter_mut().for_each(|e| r.in_place(e));
                r.option(&mut d.email);
                r.option(&mut d.external_id);
                r.option(&mut d.type_);
                r.option(&mut d.user_id);
            }
            Self::None | Self::TooManyRequests { .. } => {}
        }
    }
}

impl ApiError {
    pub(crate) fn redact(&mut self, r: &Redactor) {
        r.in_place(&mut self.message);
        r.option(&mut self.request_id);
        self.details.redact(r);
    }
}

impl Error {
    /// Scrubs the client's secrets from every text that came from the server.
    pub(crate) fn redact(mut self, r: &Redactor) -> Self {
        match &mut self {
            Self::Api(e) => e.redact(r),
            Self::UnsupportedApiVersion {
                message,
                request_id,
                ..
            } => {
                r.in_place(message);
                r.option(request_id);
            }
            Self::Decode {
                body, request_id, ..
            }
            | Self::UnexpectedStatus {
                body, request_id, ..
            } => {
                *body = r.bytes(std::mem::take(body));
                r.option(request_id);
            }
            Self::Redirected {
                location,
                request_id,
                ..
            } => {
                r.in_place(location);
                r.option(request_id);
            }
            Self::InvalidRequest {
                message,
                request_id,
            } => {
                r.in_place(message);
                r.option(request_id);
            }
            Self::Auth { request_id, .. }
            | Self::Transport { request_id, .. }
            | Self::ResponseTooLarge { request_id, .. } => r.option(request_id),
            Self::Validation(_) | Self::Config(_) | Self::File { .. } => {}
        }
        self
    }

    /// The API's error code, for errors the API reported.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Api(e) => Some(e.code.clone()),
            Self::UnsupportedApiVersion { .. } => Some(ErrorCode::UnsupportedApiVersion),
            _ => None,
        }
    }

    /// The request id of the call that failed, when there is one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api(e) => e.request_id.as_deref(),
            Self::UnsupportedApiVersion { request_id, .. }
            | Self::Auth { request_id, .. }
            | Self::Transport { request_id, .. }
            | Self::Decode { request_id, .. }
            | Self::UnexpectedStatus { request_id, .. }
            | Self::Redirected { request_id, .. }
            | Self::ResponseTooLarge { request_id, .. }
            | Self::InvalidRequest { request_id, .. } => request_id.as_deref(),
            Self::Validation(_) | Self::Config(_) | Self::File { .. } => None,
        }
    }

    /// The HTTP status of the response behind this error, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api(e) => Some(e.status),
            Self::UnsupportedApiVersion { .. } => Some(StatusCode::GONE),
            Self::Auth { source, .. } => source.status(),
            Self::Transport { source, .. } => source.status(),
            Self::Decode { status, .. } => *status,
            Self::UnexpectedStatus { status, .. }
            | Self::Redirected { status, .. }
            | Self::ResponseTooLarge { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// What the client knows about this failure's effect on the server, by the SDK's one
    /// classifier ([`retry::classify`](crate::retry::classify)), the same the retry decision
    /// uses.
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            Self::Api(e) => classify(Observed::Status(e.status, e.retry_after())),
            Self::UnsupportedApiVersion { .. } => FailureKind::Permanent,
            Self::Transport { source, .. } => classify(Observed::Transport(source)),
            // Nothing was sent.
            Self::Auth { .. }
            | Self::Validation(_)
            | Self::Config(_)
            | Self::File { .. }
            | Self::InvalidRequest { .. } => FailureKind::Permanent,
            Self::Decode { status, .. } => match status {
                Some(status) if !status.is_success() => classify(Observed::Status(*status, None)),
                _ => FailureKind::Permanent,
            },
            Self::UnexpectedStatus {
                status,
                retry_after,
                ..
            } => classify(Observed::Status(*status, *retry_after)),
            Self::ResponseTooLarge { status, .. } => classify(Observed::Status(*status, None)),
            Self::Redirected { .. } => FailureKind::Permanent,
        }
    }

    /// Whether the server may have acted on the request although the call failed: an
    /// ambiguous failure (the connection broke after sending, the call timed out, a `5xx`
    /// other than a `503` with `Retry-After`), or an answer that reports success but could
    /// not be read. Repeating a call that is not idempotent (invitations, documents) after
    /// such an error may create it twice. `false` when the request certainly had no effect:
    /// it was never sent, no connection was made, the server refused it (`4xx`, `429`, `503`
    /// with `Retry-After`) or redirected it.
    pub fn may_have_been_processed(&self) -> bool {
        match self.failure_kind() {
            FailureKind::Ambiguous => true,
            FailureKind::NotProcessed => false,
            _ => match self {
                Self::Decode { status, .. } => status.is_none_or(|s| s.is_success()),
                Self::ResponseTooLarge { status, .. } => status.is_success(),
                _ => false,
            },
        }
    }

    /// The API error, when this is one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Self::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The validation problems, when this is a client-side validation error.
    pub fn validation(&self) -> Option<&ValidationError> {
        match self {
            Self::Validation(e) => Some(e),
            _ => None,
        }
    }
}
