//! The API error envelope, built in one place.
//!
//! Handlers and middleware return [`ApiError`]. Turning it into a response does not render the
//! body yet: the request-context middleware (see [`crate::context`]) knows the request id and
//! renders every error, so `error.requestId` always equals the `X-Request-Id` header.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pearsana_api::types::{ErrorCode, ErrorDetails, ErrorResponse};

/// An error answered with the documented envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code.
    pub code: ErrorCode,
    /// Human-readable message.
    pub message: String,
    /// Extra facts, when the code has any (boxed: the type is large and errors travel in
    /// `Result`s).
    pub details: Option<Box<ErrorDetails>>,
    /// Value of a `Retry-After` header, for `429`.
    pub retry_after: Option<u64>,
    /// Value of an `Allow` header, for `405`.
    pub allow: Option<String>,
    /// Whether the answer closes the connection (`Connection: close`): set when the request's
    /// body was not read, so the connection cannot carry another request.
    pub close_connection: bool,
}

impl ApiError {
    /// An error with the status that belongs to `code` in the spec.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status: status_of(&code),
            code,
            message: message.into(),
            details: None,
            retry_after: None,
            allow: None,
            close_connection: false,
        }
    }

    /// The same error, answered with `Connection: close`.
    pub fn closing(mut self) -> Self {
        self.close_connection = true;
        self
    }

    /// The same error with another HTTP status (for statuses the spec's codes do not cover).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// `503` (envelope code `INTERNAL_SERVER_ERROR`, the spec has no dedicated one) with
    /// `Retry-After`.
    pub fn unavailable(message: impl Into<String>, retry_after: u64) -> Self {
        let mut error = Self::new(ErrorCode::InternalServerError, message)
            .with_status(StatusCode::SERVICE_UNAVAILABLE);
        error.retry_after = Some(retry_after);
        error
    }

    /// Adds details.
    pub fn with_details(mut self, details: ErrorDetails) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// `400 VALIDATION_ERROR` listing every problem.
    pub fn validation(errors: Vec<String>) -> Self {
        let mut details = ErrorDetails::default();
        details.errors = errors;
        Self::new(ErrorCode::ValidationError, "Validation failed").with_details(details)
    }

    /// `401 UNAUTHORIZED`.
    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "Authentication required.")
    }

    /// `403 INSUFFICIENT_SCOPE` naming what was needed and what the token had.
    pub fn insufficient_scope(required: &[&str], provided: &[String]) -> Self {
        let mut details = ErrorDetails::default();
        details.required_scopes = required.iter().map(|s| s.to_string()).collect();
        details.provided_scopes = provided.to_vec();
        Self::new(
            ErrorCode::InsufficientScope,
            "Insufficient OAuth scopes for this operation.",
        )
        .with_details(details)
    }

    /// `404 NOT_FOUND` for a path the API does not have.
    pub fn unknown_path(method: &str, path: &str) -> Self {
        Self::new(
            ErrorCode::NotFound,
            format!("No resource at {method} {path}."),
        )
    }

    /// `405` for a known path called with the wrong method. The spec has no dedicated code, so
    /// the envelope says `NOT_FOUND` (no such operation) while the status is 405.
    pub fn method_not_allowed(method: &str, path: &str, allow: Option<String>) -> Self {
        let mut error = Self::new(
            ErrorCode::NotFound,
            format!("Method {method} is not allowed on {path}."),
        );
        error.status = StatusCode::METHOD_NOT_ALLOWED;
        error.allow = allow;
        error
    }

    /// `500 INTERNAL_SERVER_ERROR`.
    pub fn internal() -> Self {
        Self::new(
            ErrorCode::InternalServerError,
            "An unexpected error occurred.",
        )
    }

    /// The envelope body for a given request id.
    pub fn envelope(&self, request_id: &str) -> ErrorResponse {
        crate::responses::error_response(
            self.code.clone(),
            self.details.as_deref().cloned(),
            self.message.clone(),
            request_id.to_string(),
        )
    }

    /// The full response for a given request id.
    pub fn render(&self, request_id: &str) -> Response {
        let mut response = (self.status, axum::Json(self.envelope(request_id))).into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.code == ErrorCode::Unauthorized {
            // RFC 6750 §3: a 401 for a bearer-protected resource names the scheme.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"pearsana-sandbox\""),
            );
        }
        if self.close_connection {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(allow) = self
            .allow
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            headers.insert(header::ALLOW, allow);
        }
        response
    }
}

/// The one HTTP status of each error code, as the spec's `ErrorCode` lists them.
pub fn status_of(code: &ErrorCode) -> StatusCode {
    match code {
        ErrorCode::ValidationError | ErrorCode::InvalidApiVersion => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict | ErrorCode::ExternalRefConflict => StatusCode::CONFLICT,
        ErrorCode::UnsupportedApiVersion => StatusCode::GONE,
        ErrorCode::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        // The sandbox only sends documented codes; any other is a server failure.
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Marker left in a response's extensions so the context middleware renders the envelope.
#[derive(Debug, Clone)]
pub(crate) struct PendingError(pub ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response.extensions_mut().insert(PendingError(self));
        response
    }
}
