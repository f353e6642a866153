//! Bearer-token checks for API requests: authentication (ASSUMPTIONS A4), the per-client rate
//! limit (L1) and scopes.

use std::time::Instant;

use axum::http::{HeaderMap, header};
use pearsana_api::spec::Operation;
use pearsana_api::types::{ErrorCode, ErrorDetails};

use crate::app::AppState;
use crate::error::ApiError;
use crate::stats::bump;

/// Who is calling, from a verified token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The App Client.
    pub client_id: String,
    /// The token's scopes.
    pub scopes: Vec<String>,
    /// The App Client's organisation.
    pub organisation_id: String,
}

impl Caller {
    /// Whether the token carries a scope.
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// `403 INSUFFICIENT_SCOPE` unless the token carries all of `required`.
    pub fn require(&self, required: &[&str]) -> Result<(), ApiError> {
        if required.iter().all(|scope| self.has(scope)) {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope(required, &self.scopes))
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Verifies the bearer token: `401 UNAUTHORIZED` when it is missing, malformed, forged,
/// expired or issued to a client the sandbox no longer knows.
pub fn authenticate(app: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let claims = bearer(headers)
        .and_then(|token| app.signer.verify(token))
        .ok_or_else(ApiError::unauthorized)?;
    if !app.config.clients.iter().any(|c| c.id == claims.client_id) {
        return Err(ApiError::unauthorized());
    }
    Ok(Caller {
        scopes: claims.scopes(),
        client_id: claims.client_id,
        organisation_id: claims.org_id,
    })
}

/// Counts the request against the caller's rate limit: `429 TOO_MANY_REQUESTS` with
/// `Retry-After` when over it.
pub fn rate_limit(app: &AppState, caller: &Caller) -> Result<(), ApiError> {
    let Some(limiter) = &app.limiter else {
        return Ok(());
    };
    limiter
        .check(&caller.client_id, Instant::now())
        .map_err(|seconds| {
            bump(&app.stats.rate_limited);
            let unit = if seconds == 1 { "second" } else { "seconds" };
            let mut error = ApiError::new(
                ErrorCode::TooManyRequests,
                format!("Rate limit exceeded; retry after {seconds} {unit}."),
            )
            .with_details(ErrorDetails {
                retry_after_seconds: Some(seconds),
                ..Default::default()
            });
            error.retry_after = Some(seconds);
            error
        })
}

/// Authentication, rate limit and the operation's scopes, in that order.
pub fn authorize(
    app: &AppState,
    headers: &HeaderMap,
    operation: &Operation,
) -> Result<Caller, ApiError> {
    let caller = authenticate(app, headers)?;
    rate_limit(app, &caller)?;
    caller.require(operation.required_scopes)?;
    Ok(caller)
}
