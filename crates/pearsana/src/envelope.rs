//! The API's error envelope, decoded into [`ApiError`] / [`Error`].
//!
//! The generated `ErrorResponse` is used when it decodes; when it does not (an unknown
//! `code`, a malformed detail, an undocumented status) the raw body is read leniently here, so
//! a newer server's errors still arrive as typed [`ApiError`]s.

use std::time::Duration;

use pearsana_api::types;
use reqwest::StatusCode;
use serde::Deserialize;

use crate::error::{ApiError, Error, ErrorCode, ErrorDetails};
use crate::version::ApiVersion;

/// The error envelope read without the generated types' strictness, so that unknown codes
/// and odd details still produce an [`ApiError`].
#[derive(Deserialize)]
struct LenientEnvelope {
    error: LenientBody,
}

#[derive(Deserialize)]
struct LenientBody {
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    details: Option<serde_json::Value>,
    #[serde(rename = "requestId", default)]
    request_id: Option<String>,
}

/// What the client knows about the response behind an error.
#[derive(Debug, Default, Clone)]
pub(crate) struct ResponseMeta {
    pub(crate) request_id: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) oldest_supported: Option<ApiVersion>,
    pub(crate) latest: Option<ApiVersion>,
}

/// Decodes an error envelope from raw bytes, accepting unknown codes.
pub(crate) fn parse_envelope(
    status: StatusCode,
    body: &[u8],
    meta: &ResponseMeta,
) -> Option<ApiError> {
    let envelope: LenientEnvelope = serde_json::from_slice(body).ok()?;
    let details = envelope.error.details.as_ref().map(lenient_details);
    let code: ErrorCode = envelope.error.code.parse().unwrap_or_else(|e| match e {});
    Some(build_api_error(
        status,
        code,
        envelope.error.message,
        envelope.error.request_id,
        details,
        meta,
    ))
}

/// Reads `details` field by field, so one malformed field does not lose the others.
pub(crate) fn lenient_details(value: &serde_json::Value) -> types::ErrorDetails {
    let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let list = |key: &str| -> Vec<String> {
        value
            .get(key)
            .and_then(|v| v.as_array())
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let date = |key: &str| {
        value
            .get(key)
            .and_then(|v| v.as_str())
            .and_then(|v| v.parse::<ApiVersion>().ok())
            .map(|v| v.date())
    };
    types::ErrorDetails {
        email: text("email"),
        errors: list("errors"),
        external_id: text("externalId"),
        latest_version: date("latestVersion"),
        oldest_supported_version: date("oldestSupportedVersion"),
        provided_scopes: list("providedScopes"),
        required_scopes: list("requiredScopes"),
        retry_after_seconds: value.get("retryAfterSeconds").and_then(|v| v.as_u64()),
        type_: text("type"),
        user_id: text("userId"),
    }
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
