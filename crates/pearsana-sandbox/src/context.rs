//! The middleware every request passes through. It is the single place that
//!
//! - picks the request id (ASSUMPTIONS Q1) and renders every error envelope with it, so the
//!   `X-Request-Id` header and `error.requestId` always agree;
//! - applies versioning (V2) and sets the version headers on every response (V3);
//! - injects latency, failures and dropped connections (see [`crate::faults`] for the scope);
//! - buffers the request body with the limit of its route (see [`crate::body`]);
//! - counts requests per spec operation.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use pearsana_api::spec::{self, API_VERSION, OLDEST_SUPPORTED_VERSION, Operation};
use tokio::sync::Notify;

use crate::app::AppState;
use crate::body;
use crate::error::{ApiError, PendingError};
use crate::faults::Fault;
use crate::request_id::{self, REQUEST_ID_HEADER};
use crate::stats::bump;
use crate::versioning::{self, LATEST_HEADER, SUPPORTED_HEADER, VERSION_HEADER, VersionRule};

/// Path of the token endpoint.
pub const TOKEN_PATH: &str = "/oauth2/token";

/// Lets a handler close its connection without answering; inserted per connection by the
/// server.
#[derive(Debug, Clone)]
pub struct ConnectionKiller(pub Arc<Notify>);

/// The spec operation a request addresses, if any.
fn operation_of(method: &str, path: &str) -> Option<&'static Operation> {
    let method = if method == "HEAD" { "GET" } else { method };
    spec::operations::ALL
        .iter()
        .find(|op| op.path == path && op.method == method)
}

/// The middleware; see the module documentation.
pub async fn middleware(
    State(app): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_id = request_id::choose(
        request
            .headers()
            .get(REQUEST_ID_HEADER)
            .map(HeaderValue::as_bytes),
    );
    let path = request.uri().path().to_string();
    let method = request.method().as_str().to_string();
    let operation = operation_of(request.method().as_str(), &path);
    let mut applied_version = API_VERSION;

    let outcome = async {
        if let Some(op) = operation {
            app.stats.count_operation(op.id);
        }
        // Read the body before anything can answer, so no answer leaves unread bytes behind.
        let body = std::mem::take(request.body_mut());
        let buffered = body::buffer(body, body::limit_for(&path)).await;
        request.extensions_mut().insert(buffered);
        let faulted = operation.is_some_and(|op| op.authenticated);
        if faulted || path == TOKEN_PATH {
            let latency = app.config.faults.latency;
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
        }
        let mut lose_answer = false;
        if faulted {
            match app.faults.next() {
                Fault::None => {}
                Fault::LoseAnswer => lose_answer = true,
                Fault::Fail => {
                    bump(&app.stats.injected_failures);
                    return Err(ApiError::internal());
                }
                Fault::Drop => {
                    bump(&app.stats.dropped_connections);
                    if let Some(killer) = request.extensions().get::<ConnectionKiller>() {
                        killer.0.notify_one();
                        std::future::pending::<()>().await;
                    }
                    return Err(ApiError::internal());
                }
            }
        }
        let rule = if operation.is_some() {
            VersionRule::for_path(&path)
        } else {
            VersionRule::Ignored
        };
        applied_version = versioning::resolve(
            rule,
            request
                .headers()
                .get(VERSION_HEADER)
                .map(HeaderValue::as_bytes),
        )?;
        let killer = request.extensions().get::<ConnectionKiller>().cloned();
        let response = next.run(request).await;
        if lose_answer && let Some(killer) = killer {
            // The work is done (and stored); only the answer goes missing.
            bump(&app.stats.lost_answers);
            killer.0.notify_one();
            std::future::pending::<()>().await;
        }
        Ok(response)
    }
    .await;

    let mut response = match outcome {
        Ok(response) => finish(response, &request_id, &method, &path),
        Err(error) => error.render(&request_id),
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(REQUEST_ID_HEADER, value);
    }
    headers.insert(VERSION_HEADER, HeaderValue::from_static(applied_version));
    headers.insert(LATEST_HEADER, HeaderValue::from_static(API_VERSION));
    headers.insert(
        SUPPORTED_HEADER,
        HeaderValue::from_static(OLDEST_SUPPORTED_VERSION),
    );
    tracing::info!(
        target: "pearsana_sandbox::access",
        %method,
        %path,
        status = response.status().as_u16(),
        request_id = %request_id,
    );
    response
}

/// Renders errors a handler (or the router) left for the middleware.
fn finish(mut response: Response, request_id: &str, method: &str, path: &str) -> Response {
    if let Some(PendingError(error)) = response.extensions_mut().remove::<PendingError>() {
        return error.render(request_id);
    }
    if response.status() == StatusCode::METHOD_NOT_ALLOWED
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        let allow = response
            .headers()
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        return ApiError::method_not_allowed(method, path, allow).render(request_id);
    }
    response
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
