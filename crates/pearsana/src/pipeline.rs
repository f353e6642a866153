//! The call pipeline: every API call, ergonomic or through [`Client::api`](crate::Client::api),
//! is sent by [`Shared::execute`].
//!
//! One call is an [`Exchange`] (method, URL, headers, body serialised once) and its options;
//! everything that happens to it travels with it as local state (nothing ambient):
//!
//! 1. a call span (OpenTelemetry HTTP client conventions) with the request id;
//! 2. per attempt: wait for the adaptive throttle, take a token (single-flight cache), send
//!    the same body bytes (a reference-counted `Bytes`, never copied) inside an attempt span;
//! 3. refuse redirects and bodies over the limit, record version headers, feed the throttle;
//! 4. a `401` on an authenticated call: refresh the token once and replay at once;
//! 5. any other failure goes through [`retry::classify`](crate::retry::classify) and the one
//!    retry engine ([`RetryLoop`]).
//!
//! The result is an [`Answer`] (status, headers moved not copied, body, attempts, elapsed) or a
//! [`Failure`] that callers turn into a typed [`Error`](crate::Error) (ergonomic methods) or
//! back into an HTTP response (the generated client).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use pearsana_api::spec;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, Request, StatusCode, Url};
use tracing::Instrument;
use tracing::field::Empty;

use crate::auth::{AuthError, TokenCache};
use crate::body::{BodyError, read_capped};
use crate::retry::{self, Failure, RetryConfig, RetryLoop, RetryPolicy};
use crate::throttle::Throttle;
use crate::time::Clock;
use crate::version::VersionTracker;

/// State shared by every clone of a client and by its variants with other retry settings.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) http: reqwest::Client,
    pub(crate) api_url: String,
    pub(crate) auth_url: String,
    pub(crate) tokens: Arc<TokenCache>,
    pub(crate) versions: VersionTracker,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) user_agent: HeaderValue,
    pub(crate) pinned_version: HeaderValue,
    pub(crate) timeout: Option<Duration>,
    pub(crate) max_response_body: usize,
    pub(crate) throttle: Throttle,
    pub(crate) batch_concurrency: usize,
    pub(crate) server_address: String,
    pub(crate) server_port: u16,
    /// The URL of every spec operation, parsed once.
    pub(crate) urls: Vec<(&'static str, Url)>,
}

/// What an operation is, as far as the pipeline cares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OperationRef {
    pub(crate) id: &'static str,
    pub(crate) template: &'static str,
    pub(crate) authenticated: bool,
    pub(crate) idempotent: bool,
}

impl OperationRef {
    pub(crate) fn of(op: &spec::Operation) -> Self {
        Self {
            id: op.id,
            template: op.path,
            authenticated: op.authenticated,
            idempotent: retry::is_idempotent(op.id),
        }
    }

    /// An operation known only by its id (the generated client): unknown ids are assumed to
    /// need a token and not to be idempotent.
    pub(crate) fn by_id(id: &'static str) -> Self {
        match spec::operation(id) {
            Some(op) => Self::of(op),
            None => Self {
                id,
                template: "",
                authenticated: true,
                idempotent: false,
            },
        }
    }
}

/// One logical call: built once, sent by every attempt.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) op: OperationRef,
    pub(crate) method: Method,
    pub(crate) url: Url,
    /// Every header but `Authorization` (added per attempt).
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Bytes>,
    /// A body streamed from files instead, re-created by every attempt.
    pub(crate) streamed: Option<crate::upload::StreamedBody>,
    pub(crate) request_id: String,
    pub(crate) timeout: Option<Duration>,
}

/// A final answer: a success, or the non-success answer that ended the call.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Why a call ended without a success.
#[derive(Debug)]
pub(crate) enum Failed {
    /// The server answered with an error status.
    Answered(Answer),
    /// The request failed in transport.
    Transport(reqwest::Error),
    /// No token could be obtained.
    Auth(AuthError),
    /// The answer was a redirect or came from another origin.
    Redirected(StatusCode, String),
    /// The body was over the limit.
    TooLarge(StatusCode, usize),
}

/// How a call ended, with its attempt count and duration.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) result: Result<Answer, Failed>,
    pub(crate) attempts: u32,
    pub(crate) elapsed: Duration,
}

/// What one attempt came to.
enum Step {
    /// The call is over (a success, or a failure no retry could fix).
    Done(Result<Answer, Failed>),
    /// Failed; the retry engine decides.
    Failed(Failed, Failure),
    /// Replay at once (a `401`, the token was refreshed).
    Replay,
}

/// `{method} {template}`, the OpenTelemetry span name, formatted only if a subscriber asks.
struct SpanName<'a>(&'a Method, &'static str);

impl fmt::Display for SpanName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1.is_empty() {
            f.write_str(self.0.as_str())
        } else {
            write!(f, "{} {}", self.0, self.1)
        }
    }
}

/// Whether `response` came from the origin `url` points at.
fn same_origin(url: &Url, response: &reqwest::Response) -> bool {
    let got = response.url();
    got.scheme() == url.scheme()
        && got.host_str() == url.host_str()
        && got.port_or_known_default() == url.port_or_known_default()
}

impl Shared {
    /// The parsed URL of a spec operation.
    pub(crate) fn url_of(&self, op: &spec::Operation) -> Option<&Url> {
        self.urls
            .iter()
            .find(|(id, _)| *id == op.id)
            .map(|(_, url)| url)
    }

    /// Sends one call with retries; see the module documentation.
    pub(crate) async fn execute(
        &self,
        exchange: &Exchange,
        retry: &RetryConfig,
        policy: Option<&dyn RetryPolicy>,
    ) -> Outcome {
        let span = tracing::info_span!(
            "pearsana.call",
            otel.name = %SpanName(&exchange.method, exchange.op.template),
            otel.kind = "client",
            http.request.method = exchange.method.as_str(),
            url.template = exchange.op.template,
            server.address = self.server_address.as_str(),
            server.port = self.server_port,
            pearsana.operation = exchange.op.id,
            pearsana.request_id = exchange.request_id.as_str(),
            http.response.status_code = Empty,
            http.request.resend_count = Empty,
            error.type = Empty,
        );
        let outcome = self
            .attempts(exchange, retry, policy, &span)
            .instrument(span.clone())
            .await;
        if !span.is_disabled() {
            if outcome.attempts > 1 {
                span.record("http.request.resend_count", outcome.attempts - 1);
            }
            match &outcome.result {
                Ok(answer) => {
                    span.record("http.response.status_code", answer.status.as_u16());
                }
                Err(failed) => {
                    if let Failed::Answered(answer) = failed {
                        span.record("http.response.status_code", answer.status.as_u16());
                    }
                    span.record("error.type", error_type(failed));
                }
            }
        }
        outcome
    }

    async fn attempts(
        &self,
        exchange: &Exchange,
        retry: &RetryConfig,
        policy: Option<&dyn RetryPolicy>,
        call_span: &tracing::Span,
    ) -> Outcome {
        let clock = &*self.clock;
        let mut retries =
            RetryLoop::new(retry, policy, clock, exchange.op.id, exchange.op.idempotent);
        let mut replayed_after_401 = false;
        loop {
            let attempt = retries.start_attempt();
            let step = self
                .attempt(exchange, retry, attempt, call_span, &mut replayed_after_401)
                .await;
            let result = match step {
                Step::Done(result) => result,
                // A `401` with a fresh token in hand: replay at once, outside the policy.
                Step::Replay => continue,
                Step::Failed(failed, failure) => {
                    if retries.again(&failure).await {
                        continue;
                    }
                    Err(failed)
                }
            };
            return Outcome {
                result,
                attempts: attempt,
                elapsed: retries.elapsed(),
            };
        }
    }

    /// One attempt.
    async fn attempt(
        &self,
        exchange: &Exchange,
        retry: &RetryConfig,
        attempt: u32,
        call_span: &tracing::Span,
        replayed_after_401: &mut bool,
    ) -> Step {
        self.throttle.acquire(&*self.clock).await;
        let mut token = None;
        if exchange.op.authenticated {
            match self.tokens.token(retry).await {
                Ok(cached) => token = Some(cached),
                Err(error) => {
                    return Step::Done(Err(Failed::Auth(error)));
                }
            }
        }
        let mut request = Request::new(exchange.method.clone(), exchange.url.clone());
        *request.headers_mut() = exchange.headers.clone();
        if let Some(cached) = &token {
            request
                .headers_mut()
                .insert(AUTHORIZATION, cached.bearer.clone());
        }
        if let Some(body) = &exchange.body {
            *request.body_mut() = Some(reqwest::Body::from(body.clone()));
        } else if let Some(streamed) = &exchange.streamed {
            streamed.attach(&mut request);
        }
        *request.timeout_mut() = exchange.timeout;

        let span = tracing::info_span!(
            parent: call_span,
            "pearsana.attempt",
            otel.name = %SpanName(&exchange.method, exchange.op.template),
            otel.kind = "client",
            http.request.method = exchange.method.as_str(),
            url.template = exchange.op.template,
            server.address = self.server_address.as_str(),
            server.port = self.server_port,
            http.request.resend_count = Empty,
            http.response.status_code = Empty,
            error.type = Empty,
        );
        if attempt > 1 {
            span.record("http.request.resend_count", attempt - 1);
        }
        let result = self.send(request, exchange).instrument(span.clone()).await;
        let now = self.clock.now();
        let failed = match result {
            Ok(answer) => {
                span.record("http.response.status_code", answer.status.as_u16());
                self.throttle.on_accepted(now);
                return Step::Done(Ok(answer));
            }
            Err(failed) => failed,
        };
        let failure = match &failed {
            Failed::Answered(answer) => {
                span.record("http.response.status_code", answer.status.as_u16());
                span.record("error.type", error_type(&failed));
                let failure = Failure::from_status(answer.status, &answer.headers);
                if answer.status == StatusCode::TOO_MANY_REQUESTS {
                    self.throttle.on_throttled(now, failure.retry_after);
                } else {
                    self.throttle.on_accepted(now);
                }
                if answer.status == StatusCode::UNAUTHORIZED
                    && exchange.op.authenticated
                    && !*replayed_after_401
                {
                    *replayed_after_401 = true;
                    if let Some(used) = &token {
                        self.tokens.invalidate_secret(used.token.expose_secret());
                    }
                    tracing::info!(
                        attempt,
                        "access token rejected; replaying once with a new token"
                    );
                    return Step::Replay;
                }
                failure
            }
            // A file of a streamed body changed or vanished: no repeat can fix that.
            Failed::Transport(_) if exchange.streamed.as_ref().is_some_and(|s| s.failed()) => {
                span.record("error.type", "body");
                return Step::Done(Err(failed));
            }
            Failed::Transport(error) => {
                span.record("error.type", transport_type(error));
                tracing::debug!(attempt, error = %error, "request failed");
                Failure::from_transport(error)
            }
            other => {
                span.record("error.type", error_type(other));
                Failure::permanent(None)
            }
        };
        Step::Failed(failed, failure)
    }

    /// Sends one request and reads its answer within the limits.
    async fn send(&self, request: Request, exchange: &Exchange) -> Result<Answer, Failed> {
        let mut response = self
            .http
            .execute(request)
            .await
            .map_err(Failed::Transport)?;
        let status = response.status();
        if status.is_redirection() || !same_origin(&exchange.url, &response) {
            let location = crate::redirect::redirect_target_url(&exchange.url, &response)
                .unwrap_or_else(|| response.url().to_string());
            tracing::warn!(
                status = status.as_u16(),
                "the server answered with a redirect; not following it"
            );
            return Err(Failed::Redirected(status, location));
        }
        let headers = std::mem::take(response.headers_mut());
        let body = match read_capped(response, self.max_response_body).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                let limit = self.max_response_body;
                tracing::warn!(
                    status = status.as_u16(),
                    limit,
                    "response body over the limit; refused"
                );
                return Err(Failed::TooLarge(status, limit));
            }
            Err(BodyError::Transport(error)) => return Err(Failed::Transport(error)),
        };
        self.versions.record(&headers);
        let answer = Answer {
            status,
            headers,
            body,
        };
        if status.is_success() {
            Ok(answer)
        } else {
            Err(Failed::Answered(answer))
        }
    }
}

fn transport_type(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() || error.is_decode() {
        "body"
    } else {
        "transport"
    }
}

/// The `error.type` attribute of a failed call.
fn error_type(failed: &Failed) -> &'static str {
    match failed {
        Failed::Answered(answer) => match answer.status.as_u16() {
            400 => "400",
            401 => "401",
            403 => "403",
            404 => "404",
            409 => "409",
            410 => "410",
            429 => "429",
            500 => "500",
            502 => "502",
            503 => "503",
            504 => "504",
            _ => "http_error",
        },
        Failed::Transport(error) => transport_type(error),
        Failed::Auth(_) => "authentication",
        Failed::Redirected(..) => "redirect",
        Failed::TooLarge(..) => "response_too_large",
    }
}
