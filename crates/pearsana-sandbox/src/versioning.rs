//! API versioning (ASSUMPTIONS V1 to V3): which version applies to a request, and the errors
//! for versions the API does not serve.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::NaiveDate;
use pearsana_api::spec::{
    self, API_VERSION, OLDEST_SUPPORTED_VERSION, Operation, SUPPORTED_VERSIONS, headers,
};
use pearsana_api::types::{ErrorCode, ErrorDetails};

use crate::app::AppState;
use crate::body;
use crate::context::RequestContext;
use crate::error::ApiError;

/// Name of the request and response header that carries the applied version.
pub const VERSION_HEADER: &str = headers::X_API_VERSION;
/// Response header with the newest version.
pub const LATEST_HEADER: &str = headers::X_API_VERSION_LATEST;
/// Response header with the oldest supported version.
pub const SUPPORTED_HEADER: &str = headers::X_API_VERSION_SUPPORTED;

/// Whether a path needs `X-API-Version`, merely accepts it, or ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionRule {
    /// `/v1/*`: the header is mandatory.
    Required,
    /// `/health` and `/ping`: checked when present, latest version otherwise.
    Optional,
    /// Everything else (token endpoint, spec files, sandbox helpers): not looked at.
    Ignored,
}

impl VersionRule {
    /// The rule for a spec operation (`None`: not a spec operation).
    pub fn for_operation(operation: Option<&Operation>) -> Self {
        match operation {
            Some(op) if op.requires_api_version => Self::Required,
            Some(_) => Self::Optional,
            None => Self::Ignored,
        }
    }
}

/// The version applied to a request, left in the response's extensions for the context layer.
#[derive(Debug, Clone, Copy)]
pub struct AppliedVersion(pub &'static str);

/// The versioning layer: refuses versions the API does not serve, from the headers alone.
pub async fn layer(State(app): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let operation = request
        .extensions()
        .get::<RequestContext>()
        .and_then(|c| c.operation);
    let header = request.headers().get(VERSION_HEADER).map(|v| v.as_bytes());
    match resolve(VersionRule::for_operation(operation), header) {
        Ok(version) => {
            let mut response = next.run(request).await;
            response.extensions_mut().insert(AppliedVersion(version));
            response
        }
        Err(error) => body::reject(request, error, app.config.limits.body_read_timeout),
    }
}

fn known(version: &str) -> NaiveDate {
    spec::parse_version_date(version).expect("spec versions are dates")
}

/// Parses a version header value by the spec's rule ([`spec::parse_version_date`]): a date
/// `YYYY-MM-DD` with exactly that many digits.
pub fn parse_version(value: &str) -> Option<NaiveDate> {
    spec::parse_version_date(value)
}

fn version_details() -> ErrorDetails {
    let mut details = ErrorDetails::default();
    details.latest_version = Some(known(API_VERSION));
    details.oldest_supported_version = Some(known(OLDEST_SUPPORTED_VERSION));
    details
}

fn invalid(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidApiVersion, message).with_details(version_details())
}

/// Decides the version that applies to a request, or the error to answer with.
///
/// `header` is the raw `X-API-Version` value (`None` when absent). The applied version is the
/// newest version the API serves ([`SUPPORTED_VERSIONS`]) that is not after the requested
/// date.
pub fn resolve(rule: VersionRule, header: Option<&[u8]>) -> Result<&'static str, ApiError> {
    let raw = match (rule, header) {
        (VersionRule::Ignored, _) | (VersionRule::Optional, None) => return Ok(API_VERSION),
        (VersionRule::Required, None) => {
            return Err(invalid(
                "The X-API-Version header is required (a date such as 2026-01-30).".into(),
            ));
        }
        (_, Some(raw)) => raw,
    };
    let text = std::str::from_utf8(raw).unwrap_or("").trim();
    let Some(requested) = parse_version(text) else {
        return Err(invalid(
            "The X-API-Version header must be a date in the form YYYY-MM-DD.".into(),
        ));
    };
    if requested < known(OLDEST_SUPPORTED_VERSION) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedApiVersion,
            format!("API version {requested} is no longer supported."),
        )
        .with_details(version_details()));
    }
    if requested > known(API_VERSION) {
        return Err(invalid(format!(
            "API version {requested} does not exist yet; the latest is {API_VERSION}."
        )));
    }
    // The newest served version not after the requested date; the oldest one is not after
    // it (checked above), so there is always one.
    Ok(SUPPORTED_VERSIONS
        .iter()
        .rev()
        .find(|version| known(version) <= requested)
        .copied()
        .unwrap_or(OLDEST_SUPPORTED_VERSION))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pearsana_api::spec::operations;

    #[test]
    fn dates_must_have_the_exact_shape() {
        assert!(parse_version("2026-01-30").is_some());
        assert!(parse_version("2026-1-30").is_none());
        assert!(parse_version("2026-02-30").is_none());
        assert!(parse_version("+2026-01-30").is_none());
    }

    #[test]
    fn rules_follow_the_operation() {
        let rule = VersionRule::for_operation;
        assert_eq!(rule(Some(&operations::CREATE_USER)), VersionRule::Required);
        assert_eq!(rule(Some(&operations::PING)), VersionRule::Optional);
        assert_eq!(rule(None), VersionRule::Ignored);
    }

    #[test]
    fn old_new_and_missing_versions_are_refused() {
        let gone = resolve(VersionRule::Required, Some(b"2020-01-01")).unwrap_err();
        assert_eq!(gone.code, ErrorCode::UnsupportedApiVersion);
        let future = resolve(VersionRule::Required, Some(b"2999-01-01")).unwrap_err();
        assert_eq!(future.code, ErrorCode::InvalidApiVersion);
        let missing = resolve(VersionRule::Required, None).unwrap_err();
        assert_eq!(missing.code, ErrorCode::InvalidApiVersion);
        assert_eq!(resolve(VersionRule::Optional, None).unwrap(), API_VERSION);
    }
}
