//! The outermost layer: the request's context, the error envelope and the request log.
//!
//! Every request passes through one layer per concern, outermost first (see
//! [`crate::app::router`]):
//!
//! 1. this one: picks the request id (ASSUMPTIONS Q1), looks the spec operation up, renders
//!    every error envelope with the request id (so `X-Request-Id` and `error.requestId` always
//!    agree), sets the version headers (V3), counts the request and writes the request log;
//! 2. [`crate::versioning::layer`]: the `X-API-Version` rule of the operation (V2);
//! 3. [`crate::auth::guard::layer`]: bearer token, rate limit and the operation's scopes;
//! 4. [`crate::faults::layer`]: injected faults and latency;
//! 5. [`crate::body::layer`]: buffers the body within its operation's limit.
//!
//! Layers 2 to 4 decide from the headers alone, so a refused request's body is never held in
//! memory ([`crate::body::reject`]).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use pearsana_api::spec::{self, API_VERSION, OLDEST_SUPPORTED_VERSION, Operation};
use pearsana_api::types::ErrorCode;
use tokio::sync::Notify;

use crate::app::AppState;
use crate::error::{ApiError, PendingError};
use crate::request_id::{self, REQUEST_ID_HEADER};
use crate::request_log::{AppliedFault, ClientId, RequestLogEntry};
use crate::versioning::{AppliedVersion, LATEST_HEADER, SUPPORTED_HEADER, VERSION_HEADER};

/// Path of the token endpoint ([`spec::TOKEN_PATH`], from the security scheme's `tokenUrl`).
pub const TOKEN_PATH: &str = spec::TOKEN_PATH;

/// Prefix of the sandbox's own endpoints (test helpers, request log, faults).
pub const HELPERS_PREFIX: &str = "/sandbox/v1/";

/// Lets a layer close its connection without answering; inserted per connection by the
/// server.
#[derive(Debug, Clone)]
pub struct ConnectionKiller(pub Arc<Notify>);

impl ConnectionKiller {
    /// Closes the connection; the caller's future is dropped with it and never completes.
    pub async fn kill(&self) -> ! {
        self.0.notify_one();
        std::future::pending::<()>().await;
        unreachable!("the connection task drops this future")
    }
}

/// Marks requests on connections accepted beyond the connection limit: only `GET /health` is
/// served on them.
#[derive(Debug, Clone, Copy)]
pub struct Overloaded;

/// What the outermost layer learned about a request, for the layers inside it.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request id (the caller's, or a fresh one).
    pub request_id: String,
    /// The spec operation addressed, if any.
    pub operation: Option<&'static Operation>,
    /// When the request arrived.
    pub started: Instant,
}

impl RequestContext {
    /// A log entry for this request as it ends.
    pub fn log_entry(
        &self,
        method: &str,
        path: &str,
        status: Option<StatusCode>,
        client_id: Option<String>,
        fault: Option<String>,
    ) -> RequestLogEntry {
        RequestLogEntry {
            time: Utc::now(),
            method: method.to_string(),
            path: path.to_string(),
            operation: self.operation.map(|op| op.id),
            status: status.map(|s| s.as_u16()),
            latency_ms: self.started.elapsed().as_secs_f64() * 1000.0,
            request_id: self.request_id.clone(),
            client_id,
            fault,
        }
    }
}

/// The spec operation a request addresses, if any.
fn operation_of(method: &str, path: &str) -> Option<&'static Operation> {
    let method = if method == "HEAD" { "GET" } else { method };
    spec::operations::ALL
        .iter()
        .find(|op| op.path == path && op.method == method)
}

/// Whether requests to `path` go into the request log: everything except the console and the
/// sandbox's own endpoints, which the console polls.
pub fn is_logged(path: &str) -> bool {
    !(path.starts_with(HELPERS_PREFIX) || crate::api::console::is_console_path(path))
}

/// The layer; see the module documentation.
pub async fn layer(State(app): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let context = RequestContext {
        request_id: request_id::choose(
            request
                .headers()
                .get(REQUEST_ID_HEADER)
                .map(HeaderValue::as_bytes),
        ),
        operation: operation_of(request.method().as_str(), request.uri().path()),
        started: Instant::now(),
    };
    if let Some(op) = context.operation {
        app.stats.count_operation(op.id);
    }
    let method = request.method().clone();
    let uri = request.uri().clone();
    let overloaded = request.extensions().get::<Overloaded>().is_some();
    request.extensions_mut().insert(context.clone());

    let response = if overloaded && uri.path() != "/health" {
        crate::body::reject(
            request,
            ApiError::unavailable(
                "The sandbox is serving as many connections as it allows; retry shortly.",
                1,
            ),
            app.config.limits.body_read_timeout,
        )
    } else {
        next.run(request).await
    };

    let applied_version = response
        .extensions()
        .get::<AppliedVersion>()
        .map_or(API_VERSION, |v| v.0);
    let client_id = response.extensions().get::<ClientId>().map(|c| c.0.clone());
    let fault = response
        .extensions()
        .get::<AppliedFault>()
        .map(|f| f.0.clone());
    let mut response = finish(response, &context.request_id, method.as_str(), uri.path()).await;
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&context.request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    headers.insert(VERSION_HEADER, HeaderValue::from_static(applied_version));
    headers.insert(LATEST_HEADER, HeaderValue::from_static(API_VERSION));
    headers.insert(
        SUPPORTED_HEADER,
        HeaderValue::from_static(OLDEST_SUPPORTED_VERSION),
    );
    if is_logged(uri.path()) {
        app.requests.record(context.log_entry(
            method.as_str(),
            uri.path(),
            Some(response.status()),
            client_id,
            fault,
        ));
    }
    tracing::info!(
        target: "pearsana_sandbox::access",
        %method,
        path = %uri.path(),
        status = response.status().as_u16(),
        request_id = %context.request_id,
    );
    response
}

/// Renders errors a handler (or the router) left for this layer, and puts any other error
/// answer without the envelope (an axum extractor's plain-text rejection, say) into one.
async fn finish(mut response: Response, request_id: &str, method: &str, path: &str) -> Response {
    if let Some(PendingError(error)) = response.extensions_mut().remove::<PendingError>() {
        return error.render(request_id);
    }
    let status = response.status();
    if status == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = response
            .headers()
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        return ApiError::method_not_allowed(method, path, allow).render(request_id);
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        return unenveloped(response, request_id).await;
    }
    response
}

/// The envelope for an error answer that lacks one, keeping its status and (short) text.
async fn unenveloped(response: Response, request_id: &str) -> Response {
    use http_body_util::BodyExt as _;
    let status = response.status();
    let body = http_body_util::Limited::new(response.into_body(), 1024);
    let text = match body.collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes())
            .trim()
            .to_string(),
        Err(_) => String::new(),
    };
    let code = if status.is_server_error() {
        ErrorCode::InternalServerError
    } else if status == StatusCode::NOT_FOUND {
        ErrorCode::NotFound
    } else {
        ErrorCode::ValidationError
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("The request failed.")
            .to_string()
    } else {
        text
    };
    ApiError::new(code, message)
        .with_status(status)
        .render(request_id)
}

/// The router's fallback: `404 NOT_FOUND` in the envelope.
pub async fn not_found(request: Request) -> Response {
    ApiError::unknown_path(request.method().as_str(), request.uri().path()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_matched_by_method_and_path() {
        assert_eq!(
            operation_of("POST", "/v1/users").map(|o| o.id),
            Some("create_user")
        );
        assert_eq!(
            operation_of("HEAD", "/health").map(|o| o.id),
            Some("get_health")
        );
        assert!(operation_of("GET", "/v1/users").is_none());
    }
}
