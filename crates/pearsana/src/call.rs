//! One logical call: the per-call record the hooks fill in, and the translation of the
//! generated client's error into [`Error`].
//!
//! The generated client turns a failed `prepare` hook into `Error::Custom(String)` and an
//! undecodable body into `InvalidResponsePayload` without status or headers. So that the
//! ergonomic methods can still return a typed [`AuthError`](crate::AuthError), the status and
//! the request id, each call runs inside a tokio task-local [`CallContext`] that the hooks
//! write to. Raw `client.api()` calls have no context; the hooks then skip the recording.

use std::future::Future;
use std::sync::{Arc, Mutex};

use pearsana_api::types;
use progenitor_client::ResponseValue;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::auth::AuthError;
use crate::envelope::{self, ResponseMeta};
use crate::error::Error;
use crate::request_id::REQUEST_ID_HEADER;
use crate::retry;
use crate::version::{self, ApiVersion};

/// The generated client's error type for every operation of this API.
pub(crate) type RawError = progenitor_client::Error<types::ErrorResponse>;

/// What the hooks learned during one call.
#[derive(Debug, Default)]
pub(crate) struct CallRecord {
    pub(crate) request_id: Option<String>,
    pub(crate) auth_error: Option<AuthError>,
    pub(crate) status: Option<StatusCode>,
    pub(crate) headers: Option<HeaderMap>,
    /// Why the answer was refused before the generated client saw it.
    pub(crate) refused: Option<Refusal>,
}

/// An answer the hooks refused.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// A redirect (or an answer from another origin): status and target.
    Redirected(StatusCode, String),
    /// A body over the limit: status and limit.
    TooLarge(StatusCode, usize),
}

/// Shared slot for a [`CallRecord`].
#[derive(Debug, Default)]
pub(crate) struct CallContext(Mutex<CallRecord>);

impl CallContext {
    fn take(&self) -> CallRecord {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

tokio::task_local! {
    static CALL: Arc<CallContext>;
}

/// Updates the record of the call being polled, if any.
pub(crate) fn record(update: impl FnOnce(&mut CallRecord)) {
    let _ = CALL.try_with(|ctx| update(&mut ctx.0.lock().unwrap_or_else(|e| e.into_inner())));
}

/// Runs a generated call inside a fresh call context.
pub(crate) async fn run<T, F>(future: F) -> (Result<ResponseValue<T>, RawError>, Arc<CallContext>)
where
    F: Future<Output = Result<ResponseValue<T>, RawError>>,
{
    let ctx = Arc::new(CallContext::default());
    let result = CALL.scope(Arc::clone(&ctx), future).await;
    (result, ctx)
}

/// Runs a generated call and translates its error.
pub(crate) async fn invoke<T, F>(pinned: ApiVersion, future: F) -> Result<T, Error>
where
    F: Future<Output = Result<ResponseValue<T>, RawError>>,
{
    match run(future).await {
        (Ok(value), ctx) => match refused(&ctx) {
            Some(error) => Err(error),
            None => Ok(value.into_inner()),
        },
        (Err(error), ctx) => Err(translate(error, &ctx, pinned).await),
    }
}

/// The error for a call whose answer the hooks refused, if they did.
fn refused(ctx: &CallContext) -> Option<Error> {
    let mut record = ctx.0.lock().unwrap_or_else(|e| e.into_inner());
    let request_id = record.request_id.clone();
    Some(match record.refused.take()? {
        Refusal::Redirected(status, location) => Error::Redirected {
            status,
            location,
            request_id,
        },
        Refusal::TooLarge(status, limit) => Error::ResponseTooLarge {
            status,
            limit,
            request_id,
        },
    })
}

/// Facts about the last response of a call, from its record.
pub(crate) fn meta_of(ctx: &CallContext) -> (ResponseMeta, Option<AuthError>) {
    let record = ctx.take();
    let headers = record.headers.unwrap_or_default();
    let header_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    let meta = ResponseMeta {
        status: record.status,
        request_id: header_id.or(record.request_id),
        retry_after: retry::retry_after(&headers),
        oldest_supported: version::header_version(&headers, version::SUPPORTED_VERSION_HEADER),
        latest: version::header_version(&headers, version::LATEST_VERSION_HEADER),
    };
    (meta, record.auth_error)
}

/// Translates the generated client's error into [`Error`].
pub(crate) async fn translate(error: RawError, ctx: &CallContext, pinned: ApiVersion) -> Error {
    if let Some(error) = refused(ctx) {
        return error;
    }
    let (meta, auth_error) = meta_of(ctx);
    let request_id = meta.request_id.clone();
    if let Some(source) = auth_error {
        return Error::Auth { source, request_id };
    }
    match error {
        RawError::ErrorResponse(response) => {
            let status = response.status();
            let api = envelope::from_envelope(status, response.into_inner(), &meta);
            envelope::classify_api_error(api, pinned, &meta)
        }
        RawError::InvalidResponsePayload(body, source) => {
            if let Some(status) = meta.status.filter(|s| !s.is_success())
                && let Some(api) = envelope::parse_envelope(status, &body, &meta)
            {
                return envelope::classify_api_error(api, pinned, &meta);
            }
            Error::Decode {
                status: meta.status,
                body,
                source,
                request_id,
            }
        }
        RawError::UnexpectedResponse(response) => {
            let status = response.status();
            match response.bytes().await {
                Ok(body) => match envelope::parse_envelope(status, &body, &meta) {
                    Some(api) => envelope::classify_api_error(api, pinned, &meta),
                    None => Error::UnexpectedStatus {
                        status,
                        body,
                        request_id,
                    },
                },
                Err(source) => Error::Transport { source, request_id },
            }
        }
        RawError::CommunicationError(source)
        | RawError::ResponseBodyError(source)
        | RawError::InvalidUpgrade(source) => Error::Transport { source, request_id },
        RawError::InvalidRequest(message) | RawError::Custom(message) => Error::InvalidRequest {
            message,
            request_id,
        },
    }
}
