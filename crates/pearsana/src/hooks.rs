//! What the SDK adds around every request of the generated client, through
//! [`pearsana_api::hooks::RequestHooks`].
//!
//! `prepare` runs once per call: it sets `X-Request-Id` (kept for all retries),
//! `X-API-Version` (unless the caller set one), `User-Agent`, the timeout and the bearer token.
//! `execute` sends, possibly several times: it replays once with a fresh token after a `401`,
//! repeats failures the [`RetryPolicy`](crate::retry::RetryPolicy) allows, records the version
//! headers, and wraps it all in one `tracing` span per call.

use std::sync::Arc;
use std::time::Duration;

use pearsana_api::hooks::{BoxFuture, RequestHooks};
use pearsana_api::spec;
use progenitor_client::OperationInfo;
use reqwest::header::{AUTHORIZATION, HeaderValue, USER_AGENT};
use reqwest::{Request, Response, StatusCode};
use tracing::Instrument;
use tracing::field::Empty;

use crate::auth::TokenCache;
use crate::body::{BodyError, read_capped};
use crate::call::{self, Refusal};
use crate::request_id::{self, REQUEST_ID_HEADER};
use crate::retry::{self, FailureKind, RetryConfig, RetryState};
use crate::secret::AccessToken;
use crate::time::Clock;
use crate::version::{VERSION_HEADER, VersionTracker};

/// State shared by every clone of a client (and by its variants with other retry settings).
#[derive(Debug)]
pub(crate) struct SharedState {
    pub(crate) tokens: Arc<TokenCache>,
    pub(crate) versions: Arc<VersionTracker>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) user_agent: HeaderValue,
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_response_body: usize,
}

/// The hooks installed on the generated client.
#[derive(Debug)]
pub(crate) struct SdkHooks {
    pub(crate) shared: Arc<SharedState>,
    pub(crate) retry: RetryConfig,
}

fn needs_token(operation_id: &str) -> bool {
    // An operation the spec constants do not know is assumed to need a token.
    spec::operation(operation_id).is_none_or(|op| op.authenticated)
}

fn set_bearer(request: &mut Request, token: &AccessToken) {
    if let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())) {
        value.set_sensitive(true);
        request.headers_mut().insert(AUTHORIZATION, value);
    }
}

fn header_str<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

impl RequestHooks for SdkHooks {
    fn prepare<'a>(
        &'a self,
        request: &'a mut Request,
        info: &'a OperationInfo,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let shared = &self.shared;
            let request_id = match header_str(request, REQUEST_ID_HEADER) {
                Some(id) => id.to_owned(),
                None => {
                    let id = request_id::for_new_call();
                    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
                        request.headers_mut().insert(REQUEST_ID_HEADER, value);
                    }
                    id.as_str().to_owned()
                }
            };
            call::record(|c| c.request_id = Some(request_id));
            let headers = request.headers_mut();
            if !headers.contains_key(VERSION_HEADER)
                && let Ok(value) = HeaderValue::from_str(&shared.versions.pinned().to_string())
            {
                headers.insert(VERSION_HEADER, value);
            }
            headers.insert(USER_AGENT, shared.user_agent.clone());
            if let Some(timeout) = shared.timeout {
                *request.timeout_mut() = Some(timeout);
            }
            if needs_token(info.operation_id) {
                match shared.tokens.token().await {
                    Ok(token) => set_bearer(request, &token.token),
                    Err(error) => {
                        let message = format!("could not obtain an access token: {error}");
                        call::record(|c| c.auth_error = Some(error));
                        return Err(message);
                    }
                }
            }
            Ok(())
        })
    }

    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: Request,
        info: &'a OperationInfo,
    ) -> BoxFuture<'a, reqwest::Result<Response>> {
        let span = tracing::info_span!(
            "pearsana.call",
            operation = info.operation_id,
            request_id = header_str(&request, REQUEST_ID_HEADER).unwrap_or_default(),
            attempt = Empty,
            status = Empty,
        );
        Box::pin(
            self.send_with_retries(client, request, info.operation_id, span.clone())
                .instrument(span),
        )
    }
}

/// Reads the body of `response` within `limit` and hands back an equivalent response with the
/// body in memory; `Err(Ok(status))` when the body is over the limit.
///
/// Error answers are scrubbed of the client's secrets here, so that nothing built from them
/// (typed errors, raw `client.api()` errors, logs) can repeat a token a server echoed.
async fn buffer(
    mut response: Response,
    shared: &SharedState,
) -> Result<Response, Result<StatusCode, reqwest::Error>> {
    let status = response.status();
    let version = response.version();
    let mut headers = std::mem::take(response.headers_mut());
    let body = match read_capped(response, shared.max_response_body).await {
        Ok(body) if !status.is_success() => {
            let redactor = shared.tokens.redactor();
            redactor.headers(&mut headers);
            redactor.bytes(body)
        }
        Ok(body) => body,
        Err(BodyError::TooLarge) => return Err(Ok(status)),
        Err(BodyError::Transport(error)) => return Err(Err(error)),
    };
    let mut rebuilt = http::Response::new(body);
    *rebuilt.status_mut() = status;
    *rebuilt.version_mut() = version;
    *rebuilt.headers_mut() = headers;
    Ok(Response::from(rebuilt))
}

/// A bodiless stand-in for an answer the hooks refused (the call's record says why).
fn empty_answer(status: StatusCode) -> Response {
    let mut answer = http::Response::new(bytes::Bytes::new());
    *answer.status_mut() = status;
    Response::from(answer)
}

impl SdkHooks {
    async fn send_with_retries(
        &self,
        client: &reqwest::Client,
        mut request: Request,
        operation: &str,
        span: tracing::Span,
    ) -> reqwest::Result<Response> {
        let shared = &self.shared;
        let authenticated = needs_token(operation);
        let idempotent = retry::is_idempotent(operation);
        let started = shared.clock.now();
        let mut attempts = 0u32;
        let mut replayed_after_401 = false;
        let url = request.url().clone();
        loop {
            attempts += 1;
            span.record("attempt", attempts);
            // JSON bodies are buffered, so the request can be cloned for a repeat.
            let spare = request.try_clone();
            let result = client.execute(request).await;
            if let Ok(response) = &result
                && let Some(location) = crate::redirect::redirect_target_url(&url, response)
            {
                // Never followed, never repeated: the answer is discarded by `call`.
                tracing::warn!(
                    status = response.status().as_u16(),
                    "the server answered with a redirect; not following it"
                );
                let status = response.status();
                call::record(|c| c.refused = Some(Refusal::Redirected(status, location)));
                return result;
            }
            let result = match result {
                Ok(response) => match buffer(response, shared).await {
                    Ok(buffered) => Ok(buffered),
                    Err(Ok(status)) => {
                        let limit = shared.max_response_body;
                        tracing::warn!(
                            status = status.as_u16(),
                            limit,
                            "response body over the limit; refused"
                        );
                        call::record(|c| c.refused = Some(Refusal::TooLarge(status, limit)));
                        return Ok(empty_answer(status));
                    }
                    Err(Err(error)) => Err(error),
                },
                Err(error) => Err(error),
            };
            match &result {
                Ok(response) => {
                    shared.versions.record(response.headers());
                    span.record("status", response.status().as_u16());
                    call::record(|c| {
                        c.status = Some(response.status());
                        c.headers = Some(response.headers().clone());
                    });
                    tracing::debug!(
                        attempt = attempts,
                        status = response.status().as_u16(),
                        "response received"
                    );
                }
                Err(error) => {
                    call::record(|c| {
                        c.status = None;
                        c.headers = None;
                    });
                    tracing::debug!(attempt = attempts, error = %error, "request failed");
                }
            }
            let Some(mut next) = spare else {
                return result;
            };

            let unauthorized = matches!(&result, Ok(r) if r.status() == StatusCode::UNAUTHORIZED);
            if unauthorized && authenticated && !replayed_after_401 {
                replayed_after_401 = true;
                if let Some(used) = header_str(&next, AUTHORIZATION.as_str())
                    .and_then(|h| h.strip_prefix("Bearer "))
                {
                    shared.tokens.invalidate_secret(used);
                }
                match shared.tokens.token().await {
                    Ok(token) => {
                        set_bearer(&mut next, &token.token);
                        tracing::info!(
                            attempt = attempts,
                            "access token rejected; replaying once with a new token"
                        );
                        request = next;
                        continue;
                    }
                    Err(error) => {
                        call::record(|c| c.auth_error = Some(error));
                        return result;
                    }
                }
            }

            let failure = match &result {
                Ok(response) => retry::classify_status(response.status(), response.headers()),
                Err(error) => Some(retry::classify_transport(error)),
            };
            let Some(failure) = failure else {
                return result;
            };
            let next_delay = self.retry.delay(attempts, failure.retry_after);
            let state = RetryState {
                operation: operation.to_owned(),
                idempotent,
                kind: failure.kind,
                status: result.as_ref().ok().map(Response::status),
                attempts,
                elapsed: shared.clock.now().saturating_duration_since(started),
                next_delay,
            };
            if !self.retry.policy.should_retry(&state) {
                if failure.kind == FailureKind::Ambiguous && !idempotent {
                    tracing::debug!("not repeating an operation that may have taken effect");
                }
                return result;
            }
            tracing::warn!(
                attempt = attempts,
                kind = ?failure.kind,
                status = state.status.map(|s| s.as_u16()),
                delay_ms = next_delay.as_millis() as u64,
                "attempt failed; retrying"
            );
            drop(result);
            shared.clock.sleep(next_delay).await;
            request = next;
        }
    }
}
