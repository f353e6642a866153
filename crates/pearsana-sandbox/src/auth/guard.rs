//! Bearer-token checks for API requests: authentication (ASSUMPTIONS A4), the per-client rate
//! limit (L1) and scopes.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use pearsana_api::spec::Operation;

use crate::app::AppState;
use crate::body;
use crate::context::{HELPERS_PREFIX, RequestContext};
use crate::error::ApiError;
use crate::request_log::ClientId;
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
            crate::faults::too_many_requests(seconds)
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

/// The auth layer: spec operations that need a token get [`authorize`], the sandbox's own
/// endpoints under `/sandbox/v1/` need any valid token, everything else passes. The verified
/// [`Caller`] travels in the request's extensions to the handler (see its extractor). A refused
/// request is answered from its headers, without its body being read into memory.
pub async fn layer(State(app): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let operation = request
        .extensions()
        .get::<RequestContext>()
        .and_then(|c| c.operation);
    let checked = match operation {
        Some(op) if op.authenticated => Some(authorize(&app, request.headers(), op)),
        Some(_) => None,
        None if request.uri().path().starts_with(HELPERS_PREFIX) => {
            Some(authenticate(&app, request.headers()))
        }
        None => None,
    };
    let timeout = app.config.limits.body_read_timeout;
    match checked {
        None => next.run(request).await,
        Some(Ok(caller)) => {
            let client_id = ClientId(caller.client_id.clone());
            request.extensions_mut().insert(caller);
            let mut response = next.run(request).await;
            response.extensions_mut().insert(client_id);
            response
        }
        Some(Err(error)) => {
            // A valid token refused for its scopes or its rate is still worth logging by client.
            let client = authenticate(&app, request.headers())
                .ok()
                .map(|c| c.client_id);
            let mut response = body::reject(request, error, timeout);
            if let Some(client) = client {
                response.extensions_mut().insert(ClientId(client));
            }
            response
        }
    }
}

/// Handlers take the verified caller as an argument; the auth layer put it there.
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(ApiError::unauthorized)
    }
}
