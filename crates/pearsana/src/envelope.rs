//! The API's error envelope, decoded into [`ApiError`] / [`Error`].
//!
//! The generated `ErrorResponse` decodes every envelope a newer server may send: unknown codes
//! arrive as `ErrorCode::Unknown` and unknown fields are ignored. Only `details` whose
//! documented members have an unexpected shape need care: those members are dropped one by
//! one (still through the generated type), so the code, the message and the other details
//! survive a malformed one.

use std::time::Duration;

use pearsana_api::types;
use reqwest::StatusCode;
use serde_json::Value;

use crate::error::{ApiError, Error, ErrorCode, ErrorDetails};
use crate::version::ApiVersion;

/// What the client knows about the response behind an error.
#[derive(Debug, Default, Clone)]
pub(crate) struct ResponseMeta {
    pub(crate) request_id: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) oldest_supported: Option<ApiVersion>,
    pub(crate) latest: Option<ApiVersion>,
}

/// Decodes an error envelope from raw bytes (any code, known or not).
pub(crate) fn parse_envelope(
    status: StatusCode,
    body: &[u8],
    meta: &ResponseMeta,
) -> Option<ApiError> {
    let envelope = decode_envelope(body)?;
    let error = envelope.error;
    Some(build_api_error(
        status,
        error.code,
        error.message,
        Some(error.request_id),
        error.details,
        meta,
    ))
}

/// The envelope through the generated type; when only its `details` break the documented
/// shape, with the members of `details` that still decode.
fn decode_envelope(body: &[u8]) -> Option<types::ErrorResponse> {
    if let Ok(envelope) = serde_json::from_slice::<types::ErrorResponse>(body) {
        return Some(envelope);
    }
    let mut value: Value = serde_json::from_slice(body).ok()?;
    let details = value.get_mut("error")?.as_object_mut()?.remove("details");
    let mut envelope: types::ErrorResponse = serde_json::from_value(value).ok()?;
    envelope.error.details = details.and_then(decodable_details);
    Some(envelope)
}

/// The members of a `details` object that decode as the generated `ErrorDetails`.
pub(crate) fn decodable_details(details: Value) -> Option<types::ErrorDetails> {
    let Value::Object(members) = details else {
        return None;
    };
    let kept: serde_json::Map<String, Value> = members
        .into_iter()
        .filter(|(name, value)| {
            let single = Value::Object([(name.clone(), value.clone())].into_iter().collect());
            serde_json::from_value::<types::ErrorDetails>(single).is_ok()
        })
        .collect();
    serde_json::from_value(Value::Object(kept)).ok()
}

fn build_api_error(
    status: StatusCode,
    code: ErrorCode,
    message: String,
    request_id: Option<String>,
    details: Option<types::ErrorDetails>,
    meta: &ResponseMeta,
) -> ApiError {
    let request_id = request_id
        .filter(|id| !id.is_empty())
        .or_else(|| meta.request_id.clone());
    let details = typed_details(&code, details, meta);
    ApiError {
        status,
        code,
        message,
        request_id,
        details,
        retry_after: meta.retry_after,
    }
}

pub(crate) fn typed_details(
    code: &ErrorCode,
    details: Option<types::ErrorDetails>,
    meta: &ResponseMeta,
) -> ErrorDetails {
    if *code == ErrorCode::TooManyRequests {
        let from_body = details
            .as_ref()
            .and_then(|d| d.retry_after_seconds)
            .map(Duration::from_secs);
        return ErrorDetails::TooManyRequests {
            retry_after: meta.retry_after.or(from_body),
        };
    }
    let Some(d) = details else {
        return ErrorDetails::None;
    };
    match code {
        ErrorCode::ValidationError => ErrorDetails::Validation { errors: d.errors },
        ErrorCode::InsufficientScope => ErrorDetails::InsufficientScope {
            required_scopes: d.required_scopes,
            provided_scopes: d.provided_scopes,
        },
        ErrorCode::Conflict => ErrorDetails::Conflict {
            user_id: d.user_id,
            email: d.email,
        },
        ErrorCode::ExternalRefConflict => ErrorDetails::ExternalRefConflict {
            namespace: d.type_,
            external_id: d.external_id,
        },
        _ if d == types::ErrorDetails::default() => ErrorDetails::None,
        _ => ErrorDetails::Other(Box::new(d)),
    }
}

/// Turns an API error into the dedicated 410 variant when it is one.
pub(crate) fn classify_api_error(
    error: ApiError,
    pinned: ApiVersion,
    meta: &ResponseMeta,
) -> Error {
    if error.status == StatusCode::GONE || error.code == ErrorCode::UnsupportedApiVersion {
        let raw_details = match &error.details {
            ErrorDetails::Other(d) => Some(d.as_ref()),
            _ => None,
        };
        let from_body = |f: fn(&types::ErrorDetails) -> Option<chrono::NaiveDate>| {
            raw_details.and_then(f).map(ApiVersion::from_date)
        };
        return Error::UnsupportedApiVersion {
            pinned,
            oldest_supported: from_body(|d| d.oldest_supported_version).or(meta.oldest_supported),
            latest: from_body(|d| d.latest_version).or(meta.latest),
            message: error.message,
            request_id: error.request_id,
        };
    }
    Error::Api(Box::new(error))
}
