//! [`Call`]: one call of an ergonomic method, with its options, sent through the pipeline.
//!
//! `client.ping().await` gives the body; `client.ping().timeout(..).send().await` gives a
//! [`Response`] with the request id, versions, attempts and time taken. Validation and the
//! body's serialisation happen once, when the call is made; every attempt sends the same bytes.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use pearsana_api::{spec, types};
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, USER_AGENT};

use crate::client::{Client, UserOutcome};
use crate::envelope::{self, ResponseMeta};
use crate::error::{Error, ErrorCode, ErrorDetails, Result};
use crate::options::CallOptions;
use crate::pipeline::{Answer, Exchange, Failed, OperationRef, Outcome};
use crate::request_id::{REQUEST_ID_NAME, RequestId};
use crate::response::{Response, ResponseMetadata};
use crate::retry::{self, RetryPolicy};
use crate::version::{self, ApiVersion, VERSION_NAME};

/// A body type an ergonomic method can return. Implemented for the API's response types and
/// [`UserOutcome`]; not meant to be implemented outside this crate.
pub trait Decode: Sized + Send + 'static {
    /// Decodes a success body.
    #[doc(hidden)]
    fn decode(body: &[u8]) -> serde_json::Result<Self>;

    /// Turns a failed call into a success where the type defines one (a `409 CONFLICT` is an
    /// existing user for [`UserOutcome`]).
    #[doc(hidden)]
    fn recover(error: Error, _hint: Option<&str>) -> Result<Self> {
        Err(error)
    }
}

macro_rules! decode_json {
    ($($t:ty),*) => {$(
        impl Decode for $t {
            fn decode(body: &[u8]) -> serde_json::Result<Self> {
                serde_json::from_slice(body)
            }
        }
    )*};
}

decode_json!(
    types::HealthResponse,
    types::PingResponse,
    types::CreateUserResponse,
    types::CreateInvitationResponse,
    types::SubmitDocumentResponse,
    types::SubmitDocumentBatchResponse
);

impl Decode for UserOutcome {
    fn decode(body: &[u8]) -> serde_json::Result<Self> {
        types::CreateUserResponse::decode(body).map(UserOutcome::Created)
    }

    fn recover(error: Error, email: Option<&str>) -> Result<Self> {
        match error {
            Error::Api(api) if api.code == ErrorCode::Conflict => match &api.details {
                ErrorDetails::Conflict {
                    user_id: Some(user_id),
                    email: answered,
                } => Ok(UserOutcome::Existing {
                    user_id: user_id.clone(),
                    email: answered
                        .clone()
                        .unwrap_or_else(|| email.unwrap_or_default().trim().to_lowercase()),
                }),
                _ => Err(Error::Api(api)),
            },
            other => Err(other),
        }
    }
}

/// One call of an ergonomic method: set options, then `.await` it for the body or
/// [`send`](Call::send) it for the body with its [`ResponseMetadata`].
///
/// ```no_run
/// use std::time::Duration;
///
/// # async fn run(client: pearsana::Client) -> Result<(), pearsana::Error> {
/// // Just the body:
/// let pong = client.ping().await?;
/// // With options and metadata:
/// let answer = client.ping().timeout(Duration::from_secs(2)).send().await?;
/// println!("{} in {:?}, {} attempt(s), request id {}",
///     answer.body().client_id,
///     answer.metadata().elapsed(),
///     answer.metadata().attempts(),
///     answer.metadata().request_id());
/// # let _ = pong;
/// # Ok(()) }
/// ```
#[must_use = "a call does nothing until it is awaited or sent"]
pub struct Call<'a, T> {
    client: &'a Client,
    op: &'static spec::Operation,
    body: Result<Option<Bytes>>,
    streamed: Option<crate::upload::StreamedBody>,
    options: CallOptions,
    hint: Option<String>,
    _output: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Call<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Call")
            .field("operation", &self.op.id)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<'a, T: Decode> Call<'a, T> {
    pub(crate) fn new(
        client: &'a Client,
        op: &'static spec::Operation,
        body: Result<Option<Bytes>>,
    ) -> Self {
        Self {
            client,
            op,
            body,
            streamed: None,
            options: CallOptions::default(),
            hint: None,
            _output: PhantomData,
        }
    }

    /// A call whose body is streamed from files, re-created by every attempt.
    pub(crate) fn with_streamed_body(mut self, streamed: crate::upload::StreamedBody) -> Self {
        self.streamed = Some(streamed);
        self
    }

    pub(crate) fn with_hint(mut self, hint: String) -> Self {
        self.hint = Some(hint);
        self
    }

    /// Time limit of each attempt of this call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// When to repeat this call; e.g.
    /// [`retry_ambiguous_policy`](crate::retry::retry_ambiguous_policy) to opt a
    /// non-idempotent call into repeats after ambiguous failures.
    pub fn retry_policy(mut self, policy: impl RetryPolicy) -> Self {
        self.options = self.options.with_retry_policy(policy);
        self
    }

    /// The `X-Request-Id` of this call instead of a generated one.
    pub fn request_id(mut self, id: RequestId) -> Self {
        self.options.request_id = Some(id);
        self
    }

    /// The API version this call pins instead of the client's.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.options.api_version = Some(version);
        self
    }

    /// An extra header (not one the SDK manages; see [`CallOptions::with_header`]).
    pub fn header(mut self, name: &str, value: &str) -> Result<Self> {
        self.options = self.options.with_header(name, value)?;
        Ok(self)
    }

    /// Replaces all options of this call.
    pub fn options(mut self, options: CallOptions) -> Self {
        self.options = options;
        self
    }

    /// Sends the call; the body with its metadata.
    pub async fn send(self) -> Result<Response<T>> {
        let Call {
            client,
            op,
            body,
            streamed,
            options,
            hint,
            ..
        } = self;
        let body = body?;
        let mut exchange = client.exchange(op, body, &options)?;
        if let Some(streamed) = streamed {
            streamed.install(&mut exchange);
        }
        let outcome = client.run(&exchange, &options).await;
        if let Some(error) = crate::upload::local_error(&exchange, &outcome) {
            return Err(error);
        }
        finish::<T>(client, exchange, outcome, hint.as_deref(), &options)
    }
}

impl<'a, T: Decode> IntoFuture for Call<'a, T> {
    type Output = Result<T>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.send().await.map(Response::into_body) })
    }
}

/// Sends an exchange and turns a failure into a typed error (for callers that decode the
/// success body themselves).
pub(crate) async fn send_exchange(
    client: &Client,
    exchange: &Exchange,
    options: &CallOptions,
) -> Result<Answer> {
    let outcome = client.run(exchange, options).await;
    if let Some(error) = crate::upload::local_error(exchange, &outcome) {
        return Err(error);
    }
    let pinned = options.api_version.unwrap_or_else(|| client.api_version());
    outcome.result.map_err(|failed| {
        let error = match failed {
            Failed::Answered(answer) => answered_error(answer, exchange, pinned),
            other => failure_error(other, exchange.request_id.clone()),
        };
        error.redact(&client.redactor())
    })
}

/// Serialises a request body once.
pub(crate) fn json_body<B: serde::Serialize>(body: &B) -> Result<Option<Bytes>> {
    serde_json::to_vec(body)
        .map(|bytes| Some(Bytes::from(bytes)))
        .map_err(|e| Error::InvalidRequest {
            message: format!("the request body could not be serialised: {e}"),
            request_id: None,
        })
}

impl Client {
    /// Builds the exchange of an ergonomic call.
    pub(crate) fn exchange(
        &self,
        op: &'static spec::Operation,
        body: Option<Bytes>,
        options: &CallOptions,
    ) -> Result<Exchange> {
        let shared = self.shared();
        let url = match shared.url_of(op) {
            Some(url) => url.clone(),
            None => {
                reqwest::Url::parse(&format!("{}{}", shared.api_url, op.path)).map_err(|e| {
                    Error::InvalidRequest {
                        message: format!("invalid URL for {}: {e}", op.id),
                        request_id: None,
                    }
                })?
            }
        };
        let method = Method::from_bytes(op.method.as_bytes()).unwrap_or(Method::GET);
        let request_id = match &options.request_id {
            Some(id) => id.as_str().to_owned(),
            None => RequestId::generate().into_string(),
        };
        let mut headers = options.headers.clone();
        headers.reserve(6);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, shared.user_agent.clone());
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            headers.insert(REQUEST_ID_NAME, value);
        }
        let version = match options.api_version {
            Some(version) => HeaderValue::from_str(&version.to_string())
                .unwrap_or_else(|_| shared.pinned_version.clone()),
            None => shared.pinned_version.clone(),
        };
        headers.insert(VERSION_NAME, version);
        if body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Ok(Exchange {
            op: OperationRef::of(op),
            method,
            url,
            headers,
            body,
            streamed: None,
            request_id,
            timeout: options.timeout.or(shared.timeout),
        })
    }
}

/// Decodes the outcome of an ergonomic call.
fn finish<T: Decode>(
    client: &Client,
    exchange: Exchange,
    outcome: Outcome,
    hint: Option<&str>,
    options: &CallOptions,
) -> Result<Response<T>> {
    let Outcome {
        result,
        attempts,
        elapsed,
    } = outcome;
    let pinned = options.api_version.unwrap_or_else(|| client.api_version());
    match result {
        Ok(answer) => match T::decode(&answer.body) {
            Ok(body) => Ok(Response::new(
                body,
                ResponseMetadata {
                    status: answer.status,
                    headers: answer.headers,
                    sent_request_id: exchange.request_id,
                    attempts,
                    elapsed,
                },
            )),
            Err(source) => {
                let request_id = answer_request_id(&answer, &exchange);
                let error = Error::Decode {
                    status: Some(answer.status),
                    body: answer.body,
                    source,
                    request_id: Some(request_id),
                };
                Err(error.redact(&client.redactor()))
            }
        },
        Err(Failed::Answered(answer)) => {
            let (status, headers) = (answer.status, answer.headers.clone());
            let error = answered_error(answer, &exchange, pinned).redact(&client.redactor());
            let metadata = ResponseMetadata {
                status,
                headers,
                sent_request_id: exchange.request_id,
                attempts,
                elapsed,
            };
            T::recover(error, hint).map(|body| Response::new(body, metadata))
        }
        Err(failed) => Err(failure_error(failed, exchange.request_id).redact(&client.redactor())),
    }
}

fn answer_request_id(answer: &Answer, exchange: &Exchange) -> String {
    answer
        .headers
        .get(REQUEST_ID_NAME)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map_or_else(|| exchange.request_id.clone(), str::to_owned)
}

/// The typed error for an error answer.
pub(crate) fn answered_error(answer: Answer, exchange: &Exchange, pinned: ApiVersion) -> Error {
    let meta = ResponseMeta {
        request_id: Some(answer_request_id(&answer, exchange)),
        retry_after: retry::retry_after(&answer.headers),
        oldest_supported: version::header_version(&answer.headers, version::SUPPORTED_VERSION_NAME),
        latest: version::header_version(&answer.headers, version::LATEST_VERSION_NAME),
    };
    match envelope::parse_envelope(answer.status, &answer.body, &meta) {
        Some(api) => envelope::classify_api_error(api, pinned, &meta),
        None => Error::UnexpectedStatus {
            status: answer.status,
            body: answer.body,
            retry_after: meta.retry_after,
            request_id: meta.request_id,
        },
    }
}

/// The typed error for a failure without an error answer.
pub(crate) fn failure_error(failed: Failed, request_id: String) -> Error {
    let request_id = Some(request_id);
    match failed {
        Failed::Answered(answer) => Error::UnexpectedStatus {
            status: answer.status,
            retry_after: retry::retry_after(&answer.headers),
            body: answer.body,
            request_id,
        },
        Failed::Transport(source) => Error::Transport { source, request_id },
        Failed::Auth(source) => Error::Auth { source, request_id },
        Failed::Redirected(status, location) => Error::Redirected {
            status,
            location,
            request_id,
        },
        Failed::TooLarge(status, limit) => Error::ResponseTooLarge {
            status,
            limit,
            request_id,
        },
    }
}
