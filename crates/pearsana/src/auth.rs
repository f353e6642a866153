//! OAuth 2.0 client credentials: the token request and the token cache.
//!
//! # Why the token request is written by hand
//! The `oauth2` crate (5.0) was considered and not used: its built-in HTTP integration is
//! reqwest 0.12, which would put a second reqwest/hyper stack next to the workspace's reqwest
//! 0.13; without it we would still write an adapter for our reqwest, and it would add
//! `base64 < 0.23` (the tree has 0.23), `rand 0.8`, `sha2` and `serde_path_to_error` for PKCE
//! and authorization-code features this client never uses. Its parse errors also drop the HTTP
//! status, which the retry decision needs. The flow used here is a single form post
//! (`grant_type=client_credentials`, `client_secret_post`) and a small JSON body, so it is
//! written out below (about a hundred lines) with RFC 6749 §5.2 errors typed in [`AuthError`].
//!
//! # Cache
//! The token cache keeps one token and replaces it a margin (plus up to a quarter of it at
//! random, so a fleet of clients does not refresh in lock-step) before `expires_in` runs out.
//! However many tasks ask at once, at most one token request is in flight: the first creates a
//! shared future and the others await the same one. A token the API rejected with `401` is
//! invalidated only if it is still the cached one, so a burst of `401`s costs one refresh.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderValue, USER_AGENT};
use serde::Deserialize;
use tracing::Instrument;

use crate::body::{BodyError, MAX_ACCESS_TOKEN_LEN, MAX_TOKEN_RESPONSE_BODY, read_capped};
use crate::retry::{Failure, RetryConfig, RetryLoop};
use crate::secret::{AccessToken, ClientSecret, Redactor};
use crate::time::Clock;

/// Lifetime assumed when the token response has no `expires_in` (RFC 6749 makes it
/// optional): five minutes, short enough that a token with a shorter real lifetime costs at
/// most one `401` and replay, long enough not to fetch a token per call.
pub const LIFETIME_WITHOUT_EXPIRES_IN: Duration = Duration::from_secs(300);

/// Longest lifetime believed; larger `expires_in` values are cut to this (and cannot
/// overflow an `Instant`).
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Longest piece of an unexpected token-endpoint body kept in an error.
const MAX_KEPT_BODY: usize = 512;

/// The `error` value of an RFC 6749 §5.2 error response.
///
/// An open set, like the API's own enums: a value this version does not know arrives as
/// `OAuthErrorKind::Unknown` (read it with [`as_str`](Self::as_str)). Match the kinds you
/// handle and end with a wildcard arm rather than matching `Unknown(_)`: a value that a later
/// version knows moves to a variant of its own.
///
/// ```
/// use pearsana::OAuthErrorKind;
///
/// let kind: OAuthErrorKind = "invalid_client".parse().unwrap();
/// assert_eq!(kind, OAuthErrorKind::InvalidClient);
/// let newer: OAuthErrorKind = "invalid_dpop_proof".parse().unwrap();
/// assert!(newer.is_unknown());
/// assert_eq!(newer.to_string(), "invalid_dpop_proof");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OAuthErrorKind {
    /// `invalid_request`: a parameter is missing or malformed.
    InvalidRequest,
    /// `invalid_client`: unknown client or wrong secret. Never retried.
    InvalidClient,
    /// `invalid_grant`.
    InvalidGrant,
    /// `unauthorized_client`: the client may not use this grant.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`: a requested scope is unknown or not granted to the client.
    InvalidScope,
    /// A value this version does not know, kept as sent (read it with
    /// [`as_str`](Self::as_str)). Do not match on this variant: see the enum's documentation.
    Unknown(pearsana_api::UnknownValue),
}

impl OAuthErrorKind {
    fn parse(value: &str) -> Self {
        match value {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            other => Self::Unknown(pearsana_api::__private::unknown_value(other)),
        }
    }

    /// The value as sent on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::Unknown(value) => value.as_str(),
        }
    }

    /// Whether this is a value this version does not know.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Self::Unknown(_))
    }
}

impl std::str::FromStr for OAuthErrorKind {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(value))
    }
}

impl From<&str> for OAuthErrorKind {
    fn from(value: &str) -> Self {
        Self::parse(value)
    }
}

impl fmt::Display for OAuthErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why no access token could be obtained. Never contains the client secret or a token.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The client was built without a client id and secret.
    #[error(
        "no client credentials configured (client id and secret are needed for this operation)"
    )]
    MissingCredentials,
    /// The token endpoint refused, with an RFC 6749 error body.
    #[error("token endpoint answered {} {kind}{}", .status.as_u16(), desc(.description))]
    Rejected {
        /// HTTP status.
        status: StatusCode,
        /// The `error` value.
        kind: OAuthErrorKind,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// The token endpoint failed without an RFC 6749 body.
    #[error("token endpoint answered HTTP {}", .status.as_u16())]
    UnexpectedResponse {
        /// HTTP status.
        status: StatusCode,
        /// The start of the body (with the client secret masked, should it appear).
        body: String,
    },
    /// A success response that is not a usable bearer token (the body is not kept: it may
    /// hold the token).
    #[error("token endpoint sent an unusable token response: {reason}")]
    InvalidTokenResponse {
        /// What is wrong.
        reason: String,
    },
    /// The token endpoint answered with a redirect. A token request is never sent to another
    /// address than the configured token URL (it carries the client secret), so the redirect
    /// is not followed.
    #[error(
        "token endpoint answered HTTP {} redirecting to {location}; token requests never follow redirects (check the auth URL)",
        .status.as_u16()
    )]
    Redirected {
        /// HTTP status of the redirect.
        status: StatusCode,
        /// Where the endpoint redirected to (the `Location` header, or the URL a caller-supplied
        /// HTTP client followed to).
        location: String,
    },
    /// The token endpoint's answer is larger than [`MAX_TOKEN_RESPONSE_BODY`] (it was not read
    /// further).
    #[error("token endpoint answered HTTP {} with a body larger than {limit} bytes; refused", .status.as_u16())]
    ResponseTooLarge {
        /// HTTP status.
        status: StatusCode,
        /// The limit in bytes.
        limit: usize,
    },
    /// The token endpoint could not be reached.
    #[error("token request failed: {0}")]
    Transport(#[source] Arc<reqwest::Error>),
}

fn desc(description: &Option<String>) -> String {
    description
        .as_ref()
        .map_or_else(String::new, |d| format!(": {d}"))
}

impl AuthError {
    /// The RFC 6749 error kind, when the endpoint sent one.
    pub fn oauth_error(&self) -> Option<&OAuthErrorKind> {
        match self {
            Self::Rejected { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// HTTP status of the token endpoint's answer, when there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Rejected { status, .. }
            | Self::UnexpectedResponse { status, .. }
            | Self::Redirected { status, .. }
            | Self::ResponseTooLarge { status, .. } => Some(*status),
            Self::Transport(e) => e.status(),
            _ => None,
        }
    }
}

/// What the client knows about its current token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenStatus {
    /// Scopes the token carries: the response's `scope`, else the scopes requested (empty when
    /// neither is known).
    pub scopes: Vec<String>,
    /// When the token expires.
    pub expires_at: Instant,
    /// When the client will fetch a new one.
    pub refresh_at: Instant,
}

/// A token with its timing; cheap to clone (every call takes one).
#[derive(Debug, Clone)]
pub(crate) struct CachedToken {
    pub(crate) token: AccessToken,
    /// `Bearer <token>`, built once per token (marked sensitive).
    pub(crate) bearer: HeaderValue,
    pub(crate) status: Arc<TokenStatus>,
}

/// Client id and secret.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub(crate) client_id: String,
    pub(crate) secret: ClientSecret,
}

/// Settings of a [`TokenCache`].
pub(crate) struct TokenCacheConfig {
    pub(crate) http: reqwest::Client,
    pub(crate) token_url: String,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) scopes: Vec<String>,
    pub(crate) refresh_margin: Duration,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) user_agent: HeaderValue,
    pub(crate) timeout: Option<Duration>,
}

type SharedFetch = Shared<BoxFuture<'static, Result<CachedToken, AuthError>>>;

/// How many earlier access tokens are still scrubbed from error texts after being replaced.
const RECENT_TOKENS: usize = 4;

#[derive(Default)]
struct CacheState {
    current: Option<CachedToken>,
    in_flight: Option<SharedFetch>,
    /// The last few tokens issued (the current one included), newest last.
    recent: std::collections::VecDeque<AccessToken>,
}

/// The cached token, with single-flight refresh.
pub(crate) struct TokenCache {
    config: TokenCacheConfig,
    requests: AtomicU64,
    state: Mutex<CacheState>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("token_url", &self.config.token_url)
            .field(
                "client_id",
                &self.config.credentials.as_ref().map(|c| &c.client_id),
            )
            .field("scopes", &self.config.scopes)
            .finish_non_exhaustive()
    }
}

/// The token response read leniently: every field is checked by hand so an unusable answer
/// is reported naming the field (and never quoting its value).
#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    access_token: Option<serde_json::Value>,
    #[serde(default)]
    token_type: Option<serde_json::Value>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    scope: Option<serde_json::Value>,
}

fn unusable(reason: impl Into<String>) -> AuthError {
    AuthError::InvalidTokenResponse {
        reason: reason.into(),
    }
}

/// `expires_in` as a number, a numeric string (some servers send one), or absent.
fn lifetime_of(value: Option<&serde_json::Value>) -> Result<Duration, AuthError> {
    use serde_json::Value;
    let seconds = match value {
        None | Some(Value::Null) => return Ok(LIFETIME_WITHOUT_EXPIRES_IN),
        Some(Value::Number(n)) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        }),
        Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    seconds
        .map(Duration::from_secs)
        .ok_or_else(|| unusable("expires_in is not a number of seconds"))
}

#[derive(Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

impl TokenCache {
    pub(crate) fn new(config: TokenCacheConfig) -> Self {
        Self {
            config,
            requests: AtomicU64::new(0),
            state: Mutex::new(CacheState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of requests sent to the token endpoint so far.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The current token's status, if there is a token.
    pub(crate) fn status(&self) -> Option<TokenStatus> {
        self.lock()
            .current
            .as_ref()
            .map(|t| TokenStatus::clone(&t.status))
    }

    /// A token that is not due for refresh, fetching one if needed.
    /// `retry` decides how a token request that has to be made is repeated (the settings of
    /// the calling client).
    pub(crate) async fn token(
        self: &Arc<Self>,
        retry: &RetryConfig,
    ) -> Result<CachedToken, AuthError> {
        let (fetch, fallback) = {
            let mut state = self.lock();
            let now = self.config.clock.now();
            if let Some(current) = &state.current
                && now < current.status.refresh_at
            {
                return Ok(current.clone());
            }
            let fallback = state.current.clone().filter(|t| now < t.status.expires_at);
            let fetch = match &state.in_flight {
                Some(fetch) => fetch.clone(),
                None => {
                    let fetch = Arc::clone(self)
                        .fetch_and_store(retry.clone())
                        .boxed()
                        .shared();
                    state.in_flight = Some(fetch.clone());
                    fetch
                }
            };
            (fetch, fallback)
        };
        match fetch.await {
            Ok(token) => Ok(token),
            Err(error) => match fallback {
                // The refresh failed but the old token has not expired yet: keep using it.
                Some(old) if self.config.clock.now() < old.status.expires_at => {
                    tracing::warn!(error = %error, "token refresh failed; using the current token until it expires");
                    Ok(old)
                }
                _ => Err(error),
            },
        }
    }

    /// Scrubs the client secret and the current and recent access tokens from text.
    pub(crate) fn redactor(&self) -> Redactor {
        let state = self.lock();
        let tokens = state.recent.iter().map(AccessToken::shared);
        let secret = self.config.credentials.as_ref().map(|c| c.secret.shared());
        Redactor::new(tokens.chain(secret).collect::<Vec<_>>())
    }

    /// Forgets the token whose value is `used` if it is still the cached one (the API
    /// answered `401` to it); a token already replaced by another task is left alone.
    pub(crate) fn invalidate_secret(&self, used: &str) {
        let mut state = self.lock();
        if state
            .current
            .as_ref()
            .is_some_and(|t| t.token.expose_secret() == used)
        {
            state.current = None;
        }
    }

    async fn fetch_and_store(
        self: Arc<Self>,
        retry: RetryConfig,
    ) -> Result<CachedToken, AuthError> {
        let span = tracing::info_span!("pearsana.token", url = %self.config.token_url);
        let result = self.fetch_with_retries(&retry).instrument(span).await;
        let mut state = self.lock();
        state.in_flight = None;
        if let Ok(token) = &result {
            if state.recent.len() == RECENT_TOKENS {
                state.recent.pop_front();
            }
            state.recent.push_back(token.token.clone());
            state.current = Some(token.clone());
        }
        result
    }

    async fn fetch_with_retries(&self, retry: &RetryConfig) -> Result<CachedToken, AuthError> {
        let credentials = self
            .config
            .credentials
            .as_ref()
            .ok_or(AuthError::MissingCredentials)?;
        // The token request changes nothing on the server: always safe to repeat.
        let mut retries = RetryLoop::new(retry, None, &*self.config.clock, "oauth2_token", true);
        loop {
            retries.start_attempt();
            match self.fetch_once(credentials).await {
                Ok(token) => return Ok(token),
                Err((error, failure)) => {
                    let failure = failure.unwrap_or(Failure::permanent(error.status()));
                    if !retries.again(&failure).await {
                        return Err(error);
                    }
                }
            }
        }
    }

    /// One token request; on failure also says whether repeating it could help.
    async fn fetch_once(
        &self,
        credentials: &Credentials,
    ) -> Result<CachedToken, (AuthError, Option<Failure>)> {
        let config = &self.config;
        let scope = config.scopes.join(" ");
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "client_credentials"),
            ("client_id", &credentials.client_id),
            ("client_secret", credentials.secret.expose_secret()),
        ];
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        let mut request = config
            .http
            .post(&config.token_url)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, config.user_agent.clone())
            .form(&form);
        if let Some(timeout) = config.timeout {
            request = request.timeout(timeout);
        }
        let sent_at = config.clock.now();
        self.requests.fetch_add(1, Ordering::Relaxed);
        let transport = |e: reqwest::Error| {
            let failure = Failure::from_transport(&e);
            (AuthError::Transport(Arc::new(e)), Some(failure))
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if let Some(location) = crate::redirect::redirect_target(&config.token_url, &response) {
            let location = self.redactor().text(&location);
            return Err((AuthError::Redirected { status, location }, None));
        }
        let headers = response.headers().clone();
        let body = match read_capped(response, MAX_TOKEN_RESPONSE_BODY).await {
            Ok(body) => body,
            Err(BodyError::Transport(e)) => return Err(transport(e)),
            Err(BodyError::TooLarge) => {
                let limit = MAX_TOKEN_RESPONSE_BODY;
                return Err((AuthError::ResponseTooLarge { status, limit }, None));
            }
        };
        if status.is_success() {
            return self.parse_token(&body, sent_at).map_err(|e| (e, None));
        }
        let failure = Failure::from_status(status, &headers);
        let error = match serde_json::from_slice::<OAuthErrorBody>(&body) {
            Ok(rfc) => AuthError::Rejected {
                status,
                kind: OAuthErrorKind::parse(&self.redactor().text(&rfc.error)),
                description: rfc.error_description.map(|d| self.redactor().text(&d)),
            },
            Err(_) => {
                let text = String::from_utf8_lossy(&body);
                let kept: String = text.chars().take(MAX_KEPT_BODY).collect();
                AuthError::UnexpectedResponse {
                    status,
                    body: self.redactor().text(&kept),
                }
            }
        };
        Err((error, Some(failure)))
    }

    fn parse_token(&self, body: &[u8], sent_at: Instant) -> Result<CachedToken, AuthError> {
        let parsed: TokenResponse =
            serde_json::from_slice(body).map_err(|e| AuthError::InvalidTokenResponse {
                // Only the category and position: serde's message could quote the token.
                reason: format!(
                    "not a JSON object ({:?} error at line {} column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                ),
            })?;
        let access_token = match parsed.access_token {
            Some(serde_json::Value::String(token)) => token,
            None | Some(serde_json::Value::Null) => {
                return Err(unusable("access_token is missing"));
            }
            Some(_) => return Err(unusable("access_token is not a string")),
        };
        match parsed.token_type {
            // RFC 6749 section 7.1: the type is case-insensitive.
            Some(serde_json::Value::String(kind)) if kind.eq_ignore_ascii_case("bearer") => {}
            Some(serde_json::Value::String(kind)) => {
                return Err(unusable(format!(
                    "token_type is `{}`, expected `Bearer`",
                    kind.chars().take(32).collect::<String>()
                )));
            }
            // Missing: RFC 6749 requires it, but the token is still usable as a bearer token.
            None | Some(serde_json::Value::Null) => {}
            Some(_) => return Err(unusable("token_type is not a string")),
        }
        if access_token.is_empty() {
            return Err(unusable("access_token is empty"));
        }
        if access_token.len() > MAX_ACCESS_TOKEN_LEN {
            return Err(unusable(format!(
                "access_token is {} bytes long, more than the {MAX_ACCESS_TOKEN_LEN} accepted",
                access_token.len()
            )));
        }
        if HeaderValue::from_str(&access_token).is_err() {
            return Err(unusable(
                "access_token contains characters not allowed in an HTTP header",
            ));
        }
        let lifetime = lifetime_of(parsed.expires_in.as_ref())?.min(MAX_LIFETIME);
        let scope = match parsed.scope {
            Some(serde_json::Value::String(scope)) => Some(scope),
            None | Some(serde_json::Value::Null) => None,
            Some(_) => return Err(unusable("scope is not a string")),
        };
        let margin = self.config.refresh_margin.min(lifetime / 2);
        let jitter = (margin / 4).mul_f64(fastrand::f64());
        let expires_at = sent_at + lifetime;
        let refresh_at = expires_at - margin - jitter;
        let scopes = match scope {
            Some(scope) => scope.split_whitespace().map(str::to_owned).collect(),
            None => self.config.scopes.clone(),
        };
        tracing::debug!(expires_in_s = lifetime.as_secs(), scopes = ?scopes, "obtained access token");
        let mut bearer = HeaderValue::from_str(&format!("Bearer {access_token}"))
            .map_err(|_| unusable("access_token is not usable in an HTTP header"))?;
        bearer.set_sensitive(true);
        Ok(CachedToken {
            token: AccessToken::new(access_token),
            bearer,
            status: Arc::new(TokenStatus {
                scopes,
                expires_at,
                refresh_at,
            }),
        })
    }
}
