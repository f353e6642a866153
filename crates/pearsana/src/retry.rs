//! When to send a request again, and how long to wait first.
//!
//! Two small traits, in the style of google-cloud-rust's `gax`: a [`RetryPolicy`] decides
//! whether a failed attempt is repeated, a [`BackoffPolicy`] how long to wait. Decorators bound
//! any policy in attempts and total time ([`RetryPolicyExt`]).
//!
//! Every failure is first sorted by one function, [`classify`], into one of three kinds, by
//! what the client can know about the server's state. The same function decides retries (API
//! calls and token requests alike), [`Error::may_have_been_processed`](crate::Error::may_have_been_processed)
//! and therefore the CLI's "in doubt" rows:
//! - [`FailureKind::NotProcessed`]: the server certainly did nothing (`429`, `503` with
//!   `Retry-After`, a connection that was never established). Always safe to repeat.
//! - [`FailureKind::Ambiguous`]: the server may or may not have acted (timeouts, `500`, `502`,
//!   `504`, `503` without `Retry-After`, a connection lost after sending). Safe to repeat only
//!   for idempotent operations; see [`is_idempotent`].
//! - [`FailureKind::Permanent`]: repeating cannot help (`4xx`, a redirect, a body over the
//!   limit, an undecodable success). Never repeated.
//!
//! One engine (`RetryLoop`, internal) applies the policy, the back-off and the server's `Retry-After`
//! (delta-seconds or an HTTP date) and sleeps on the client's injected [`Clock`].
//!
//! The default, [`default_policy`], is [`SafeRetry`] limited to
//! 4 attempts and 60 seconds. Opt in to repeating invitations and documents after ambiguous
//! failures with [`retry_ambiguous_policy`] (at the risk of duplicates).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use pearsana_api::spec;
use std::time::Instant;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::time::Clock;

/// How much the client knows about a failed attempt's effect on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// The server certainly did not process the request.
    NotProcessed,
    /// The server may have processed the request.
    Ambiguous,
    /// Repeating the request cannot help.
    Permanent,
}

/// What an attempt ended with, as [`classify`] reads it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Observed<'a> {
    /// The server answered with this status (and this `Retry-After`, if any).
    Status(StatusCode, Option<Duration>),
    /// The request failed in transport.
    Transport(&'a reqwest::Error),
    /// The request was refused before anything was sent (validation, configuration,
    /// credentials).
    NotSent,
}

/// The one failure classifier of the SDK.
///
/// ```
/// use std::time::Duration;
/// use pearsana::retry::{FailureKind, Observed, classify};
/// use reqwest::StatusCode;
///
/// let busy = Observed::Status(StatusCode::SERVICE_UNAVAILABLE, Some(Duration::from_secs(3)));
/// assert_eq!(classify(busy), FailureKind::NotProcessed);
/// assert_eq!(classify(Observed::Status(StatusCode::BAD_GATEWAY, None)), FailureKind::Ambiguous);
/// assert_eq!(classify(Observed::Status(StatusCode::CONFLICT, None)), FailureKind::Permanent);
/// ```
pub fn classify(observed: Observed<'_>) -> FailureKind {
    match observed {
        Observed::Status(status, retry_after) => match status.as_u16() {
            429 => FailureKind::NotProcessed,
            503 if retry_after.is_some() => FailureKind::NotProcessed,
            500 | 502 | 503 | 504 => FailureKind::Ambiguous,
            _ => FailureKind::Permanent,
        },
        Observed::Transport(error) if error.is_builder() => FailureKind::Permanent,
        Observed::Transport(error) if error.is_connect() => FailureKind::NotProcessed,
        Observed::Transport(_) => FailureKind::Ambiguous,
        Observed::NotSent => FailureKind::NotProcessed,
    }
}

/// What a retry policy is told about a failed attempt.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RetryState {
    /// The operation id (snake case, as in [`pearsana_api::spec::operations`]).
    pub operation: String,
    /// Whether repeating the operation is harmless (see [`is_idempotent`]).
    pub idempotent: bool,
    /// The kind of failure.
    pub kind: FailureKind,
    /// HTTP status of the failed attempt, if a response arrived.
    pub status: Option<StatusCode>,
    /// Attempts made so far, including the failed one (1 after the first attempt).
    pub attempts: u32,
    /// Time since the first attempt started.
    pub elapsed: Duration,
    /// How long the client would wait before the next attempt.
    pub next_delay: Duration,
}

/// Decides whether a failed attempt is repeated.
pub trait RetryPolicy: Send + Sync + fmt::Debug + 'static {
    /// `true` to send the request again after `state.next_delay`.
    fn should_retry(&self, state: &RetryState) -> bool;
}

/// Repeats what is certainly safe: failures that left the server untouched, and ambiguous
/// failures of idempotent operations. Unbounded on its own; see [`default_policy`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SafeRetry;

impl RetryPolicy for SafeRetry {
    fn should_retry(&self, state: &RetryState) -> bool {
        match state.kind {
            FailureKind::NotProcessed => true,
            FailureKind::Ambiguous => state.idempotent,
            FailureKind::Permanent => false,
        }
    }
}

/// Opt-in: also repeats non-idempotent operations (invitations, documents) after ambiguous
/// failures. A repeated invitation or document may be created twice. Unbounded on its own;
/// see [`retry_ambiguous_policy`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryAmbiguous;

impl RetryPolicy for RetryAmbiguous {
    fn should_retry(&self, state: &RetryState) -> bool {
        state.kind != FailureKind::Permanent
    }
}

/// Never repeats a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct NeverRetry;

impl RetryPolicy for NeverRetry {
    fn should_retry(&self, _state: &RetryState) -> bool {
        false
    }
}

/// A policy that gives up after a number of attempts.
#[derive(Debug, Clone)]
pub struct AttemptLimit<P> {
    inner: P,
    max_attempts: u32,
}

impl<P: RetryPolicy> RetryPolicy for AttemptLimit<P> {
    fn should_retry(&self, state: &RetryState) -> bool {
        state.attempts < self.max_attempts && self.inner.should_retry(state)
    }
}

/// A policy that gives up when the next attempt would start after a time limit.
#[derive(Debug, Clone)]
pub struct TimeLimit<P> {
    inner: P,
    limit: Duration,
}

impl<P: RetryPolicy> RetryPolicy for TimeLimit<P> {
    fn should_retry(&self, state: &RetryState) -> bool {
        state.elapsed + state.next_delay <= self.limit && self.inner.should_retry(state)
    }
}

/// Decorators for every [`RetryPolicy`].
///
/// ```
/// use std::time::Duration;
/// use pearsana::retry::{RetryPolicyExt, SafeRetry};
///
/// let policy = SafeRetry.with_attempt_limit(6).with_time_limit(Duration::from_secs(120));
/// # let _ = policy;
/// ```
pub trait RetryPolicyExt: RetryPolicy + Sized {
    /// Stops after `max_attempts` attempts in total (the first one included).
    fn with_attempt_limit(self, max_attempts: u32) -> AttemptLimit<Self> {
        AttemptLimit {
            inner: self,
            max_attempts,
        }
    }

    /// Stops when the next attempt would start more than `limit` after the first.
    fn with_time_limit(self, limit: Duration) -> TimeLimit<Self> {
        TimeLimit { inner: self, limit }
    }
}

impl<P: RetryPolicy> RetryPolicyExt for P {}

/// Attempts the default policy allows, the first one included.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 4;
/// Time budget of the default policy.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(60);

/// The default policy: [`SafeRetry`] bounded to [`DEFAULT_MAX_ATTEMPTS`] attempts and
/// [`DEFAULT_TIME_LIMIT`].
pub fn default_policy() -> TimeLimit<AttemptLimit<SafeRetry>> {
    SafeRetry
        .with_attempt_limit(DEFAULT_MAX_ATTEMPTS)
        .with_time_limit(DEFAULT_TIME_LIMIT)
}

/// The opt-in policy for repeating every operation after ambiguous failures:
/// [`RetryAmbiguous`] with the same bounds as [`default_policy`].
///
/// ```no_run
/// # fn run(client: pearsana::Client) {
/// let documents_client = client.with_retry_policy(pearsana::retry::retry_ambiguous_policy());
/// # }
/// ```
pub fn retry_ambiguous_policy() -> TimeLimit<AttemptLimit<RetryAmbiguous>> {
    RetryAmbiguous
        .with_attempt_limit(DEFAULT_MAX_ATTEMPTS)
        .with_time_limit(DEFAULT_TIME_LIMIT)
}

/// How long to wait before the next attempt.
pub trait BackoffPolicy: Send + Sync + fmt::Debug + 'static {
    /// The wait after `attempts` failed attempts (1 after the first).
    fn delay(&self, attempts: u32) -> Duration;
}

/// Exponential back-off with "equal jitter": half of each step is fixed, half random, so waits
/// grow but concurrent clients spread out.
///
/// ```
/// use std::time::Duration;
/// use pearsana::retry::{BackoffPolicy, ExponentialBackoff};
///
/// let backoff = ExponentialBackoff::new(Duration::from_millis(100), Duration::from_secs(5));
/// let first = backoff.delay(1);
/// assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
/// assert!(backoff.delay(20) <= Duration::from_secs(5));
/// ```
#[derive(Debug, Clone)]
pub struct ExponentialBackoff {
    initial: Duration,
    max: Duration,
    multiplier: f64,
}

impl ExponentialBackoff {
    /// Starts at `initial`, doubles each attempt, never exceeds `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            multiplier: 2.0,
        }
    }

    /// Changes the growth factor (at least 1).
    pub fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier.max(1.0);
        self
    }
}

impl Default for ExponentialBackoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(200), Duration::from_secs(10))
    }
}

impl BackoffPolicy for ExponentialBackoff {
    fn delay(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(30) as i32;
        // In f64 seconds and capped before converting: `Duration::mul_f64` would panic on
        // overflow with a large multiplier.
        let step = (self.initial.as_secs_f64() * self.multiplier.powi(exponent))
            .min(self.max.as_secs_f64());
        let step = Duration::try_from_secs_f64(step).unwrap_or(self.max);
        let half = step / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// The longest `Retry-After` the client honours by default; longer waits are capped.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The retry settings of a client.
#[derive(Debug, Clone)]
pub(crate) struct RetryConfig {
    pub(crate) policy: Arc<dyn RetryPolicy>,
    pub(crate) backoff: Arc<dyn BackoffPolicy>,
    pub(crate) max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            policy: Arc::new(default_policy()),
            backoff: Arc::new(ExponentialBackoff::default()),
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

impl RetryConfig {
    /// The wait before the next attempt: the server's `Retry-After` (capped), else back-off.
    pub(crate) fn delay(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(wait) => wait.min(self.max_retry_after),
            None => self.backoff.delay(attempts),
        }
    }
}

/// Whether repeating the operation is harmless, as the spec states it
/// ([`spec::Operation::idempotent`]: `GET` by its semantics, the others by
/// `x-pearsana-idempotent`). `GET /health` and `GET /ping` change nothing; `POST /v1/users` is
/// made safe by email uniqueness (a repeat after a lost response is answered `409 CONFLICT`
/// with the user's id, which `create_or_get_user` turns into success). Invitations and
/// documents would be created twice. An id the spec does not know is not idempotent.
pub fn is_idempotent(operation_id: &str) -> bool {
    spec::operation(operation_id).is_some_and(|op| op.idempotent)
}

/// A failed attempt, as the retry engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) kind: FailureKind,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) status: Option<StatusCode>,
}

impl Failure {
    /// A failure read from a response status and its headers.
    pub(crate) fn from_status(status: StatusCode, headers: &HeaderMap) -> Self {
        let retry_after = retry_after(headers);
        Self {
            kind: classify(Observed::Status(status, retry_after)),
            retry_after,
            status: Some(status),
        }
    }

    /// A failure read from a transport error.
    pub(crate) fn from_transport(error: &reqwest::Error) -> Self {
        Self {
            kind: classify(Observed::Transport(error)),
            retry_after: None,
            status: error.status(),
        }
    }

    /// A failure that must not be repeated.
    pub(crate) fn permanent(status: Option<StatusCode>) -> Self {
        Self {
            kind: FailureKind::Permanent,
            retry_after: None,
            status,
        }
    }
}

/// The retry engine: counts attempts, asks the policy, waits (back-off or `Retry-After`) on
/// the injected clock. API calls and token requests both run their attempts through it:
///
/// ```text
/// let mut retry = RetryLoop::new(..);
/// loop {
///     retry.start_attempt();
///     match attempt().await {
///         Ok(answer) => return Ok(answer),
///         Err(failure) if retry.again(&failure).await => continue,
///         Err(failure) => return Err(failure),
///     }
/// }
/// ```
pub(crate) struct RetryLoop<'a> {
    config: &'a RetryConfig,
    policy: &'a dyn RetryPolicy,
    clock: &'a dyn Clock,
    operation: &'static str,
    idempotent: bool,
    started: Instant,
    attempts: u32,
}

impl<'a> RetryLoop<'a> {
    pub(crate) fn new(
        config: &'a RetryConfig,
        policy: Option<&'a dyn RetryPolicy>,
        clock: &'a dyn Clock,
        operation: &'static str,
        idempotent: bool,
    ) -> Self {
        Self {
            config,
            policy: policy.unwrap_or(&*config.policy),
            clock,
            operation,
            idempotent,
            started: clock.now(),
            attempts: 0,
        }
    }

    /// Counts a new attempt; returns its number (1 for the first).
    pub(crate) fn start_attempt(&mut self) -> u32 {
        self.attempts += 1;
        self.attempts
    }

    /// Time since the loop started.
    pub(crate) fn elapsed(&self) -> Duration {
        self.clock.now().saturating_duration_since(self.started)
    }

    /// After a failed attempt: whether to try again; if so, waits first.
    pub(crate) async fn again(&mut self, failure: &Failure) -> bool {
        if failure.kind == FailureKind::Permanent {
            return false;
        }
        let next_delay = self.config.delay(self.attempts, failure.retry_after);
        let state = RetryState {
            operation: self.operation.to_owned(),
            idempotent: self.idempotent,
            kind: failure.kind,
            status: failure.status,
            attempts: self.attempts,
            elapsed: self.elapsed(),
            next_delay,
        };
        if !self.policy.should_retry(&state) {
            if failure.kind == FailureKind::Ambiguous && !self.idempotent {
                tracing::debug!(
                    operation = self.operation,
                    "not repeating an operation that may have taken effect"
                );
            }
            return false;
        }
        tracing::warn!(
            operation = self.operation,
            attempt = self.attempts,
            kind = ?failure.kind,
            status = failure.status.map(|s| s.as_u16()),
            delay_ms = next_delay.as_millis() as u64,
            "attempt failed; retrying"
        );
        self.clock.sleep(next_delay).await;
        true
    }
}

/// `Retry-After` as delta-seconds or as an HTTP date (RFC 9110 section 10.2.3); a date in
/// the past means "now".
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(kind: FailureKind, idempotent: bool, attempts: u32) -> RetryState {
        RetryState {
            operation: "create_invitation".into(),
            idempotent,
            kind,
            status: None,
            attempts,
            elapsed: Duration::ZERO,
            next_delay: Duration::from_secs(1),
        }
    }

    #[test]
    fn safe_retry_repeats_ambiguous_failures_only_for_idempotent_operations() {
        assert!(SafeRetry.should_retry(&state(FailureKind::NotProcessed, false, 1)));
        assert!(SafeRetry.should_retry(&state(FailureKind::Ambiguous, true, 1)));
        assert!(!SafeRetry.should_retry(&state(FailureKind::Ambiguous, false, 1)));
        assert!(RetryAmbiguous.should_retry(&state(FailureKind::Ambiguous, false, 1)));
    }

    #[test]
    fn limits_bound_attempts_and_time() {
        let policy = default_policy();
        assert!(policy.should_retry(&state(FailureKind::NotProcessed, false, 3)));
        assert!(!policy.should_retry(&state(FailureKind::NotProcessed, false, 4)));
        let mut late = state(FailureKind::NotProcessed, false, 1);
        late.elapsed = Duration::from_secs(59);
        late.next_delay = Duration::from_secs(2);
        assert!(!policy.should_retry(&late));
    }

    #[test]
    fn statuses_are_sorted_by_what_the_server_did() {
        let mut headers = HeaderMap::new();
        let kind = |status, headers: &HeaderMap| Failure::from_status(status, headers).kind;
        assert_eq!(
            kind(StatusCode::SERVICE_UNAVAILABLE, &headers),
            FailureKind::Ambiguous
        );
        assert_eq!(
            kind(StatusCode::INTERNAL_SERVER_ERROR, &headers),
            FailureKind::Ambiguous
        );
        assert_eq!(kind(StatusCode::CONFLICT, &headers), FailureKind::Permanent);
        headers.insert(RETRY_AFTER, "3".parse().unwrap());
        let busy = Failure::from_status(StatusCode::SERVICE_UNAVAILABLE, &headers);
        assert_eq!(busy.kind, FailureKind::NotProcessed);
        assert_eq!(busy.retry_after, Some(Duration::from_secs(3)));
        assert_eq!(
            kind(StatusCode::TOO_MANY_REQUESTS, &headers),
            FailureKind::NotProcessed
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, " 7 ".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let in_a_minute = chrono::Utc::now() + chrono::Duration::seconds(60);
        let date = in_a_minute.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        headers.insert(RETRY_AFTER, date.parse().unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(55) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        headers.insert(
            RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let backoff = ExponentialBackoff::new(Duration::from_millis(100), Duration::from_secs(1));
        for attempt in 1..10 {
            let d = backoff.delay(attempt);
            let step =
                Duration::from_millis(100 * (1 << (attempt - 1))).min(Duration::from_secs(1));
            assert!(d >= step / 2 && d <= step, "attempt {attempt}: {d:?}");
        }
        assert!(is_idempotent("create_user") && !is_idempotent("submit_document"));
        let steep = ExponentialBackoff::new(Duration::from_secs(1), Duration::from_secs(30))
            .with_multiplier(1e9);
        assert!(
            steep.delay(30) <= Duration::from_secs(30),
            "no overflow panic"
        );
    }
}
