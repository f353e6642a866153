//! Rust SDK for the Pearsana Partner API.
//!
//! The generated client in `pearsana-api` describes every operation of the OpenAPI contract;
//! this crate makes it safe to use from a partner's server:
//!
//! - **OAuth 2.0 client credentials**: tokens are fetched, cached and refreshed before they
//!   expire, with at most one token request in flight however many tasks call at once; a
//!   `401` refreshes the token and replays the request once ([`auth`]).
//! - **Versioning**: every request pins `X-API-Version` ([`ApiVersion`], default
//!   [`spec::API_VERSION`]); the versions the server reports are kept ([`Client::version_info`])
//!   and a `410` becomes [`Error::UnsupportedApiVersion`].
//! - **Typed errors**: one [`Error`] enum with the API's [`ErrorCode`]s, typed details, the
//!   request id, and no secrets ([`ClientSecret`] and [`AccessToken`] print as `[redacted]`).
//! - **One call pipeline** ([`Call`]): every call, ergonomic or through [`Client::api`],
//!   runs the same explicit steps with its state travelling with it (no task-locals):
//!   adaptive throttle, token, send (the body serialised once), redirect and size checks,
//!   `401` refresh and replay, one failure classifier ([`retry::classify`]) and one retry
//!   engine with an injected clock, for API calls and token requests alike.
//! - **Per-call options** ([`CallOptions`]): timeout, retry policy (opt a non-idempotent call
//!   into ambiguous retries), request id, extra headers, API version.
//! - **Response metadata** ([`Response`], [`ResponseMetadata`]): request id, status, versions,
//!   rate-limit headers, attempts and elapsed time of a successful call.
//! - **Safe retries**: failures the server certainly did not process are repeated; ambiguous
//!   ones only for operations where that is harmless ([`retry`]).
//! - **Tracing** by the OpenTelemetry HTTP client conventions: a `pearsana.call` span per call
//!   and a `pearsana.attempt` span per attempt, with `http.request.method`, `url.template`,
//!   `server.address`, `server.port`, `http.response.status_code`,
//!   `http.request.resend_count`, `error.type`, `pearsana.operation`, `pearsana.request_id`
//!   and `otel.name` / `otel.kind` for `tracing-opentelemetry`. Never a secret, never a body.
//! - **Hostile servers**: redirects are never followed, response bodies are bounded
//!   ([`limits`]), and the client secret and access tokens are scrubbed from every error
//!   text.
//! - **Validation before I/O** ([`validate`]) and **document helpers** ([`DocumentFile`],
//!   [`Client::submit_documents`]).
//!
//! # Adaptive throttling
//!
//! After a `429` the client (all its clones and tasks together) paces its requests at 98 % of
//! what the server accepts, holds sends for the server's `Retry-After` the first time, and
//! probes upwards by 0.5 % per second, slowing to 0.05 % per second within 1 % of the rate the
//! server refused; after 30 s without a `429` it stops pacing. What the server accepts is
//! counted per one-second window where the refusals show where a window starts, else taken
//! from the last second; a first `429` that comes before a whole second of sending (another
//! process had used most of the window) only starts a provisional pace that grows quickly
//! until the next `429` measures the limit. It is **on by default**: until the first `429` it costs two atomic operations per
//! answer, takes no lock and never delays a request, and a client that keeps sending at
//! a refused rate only spends its own quota on requests bound to fail (every refused request
//! counts against the limit too). Turn it off with
//! [`ClientBuilder::adaptive_throttling`]`(false)` when another layer already paces requests.
//!
//! # Quickstart
//!
//! ```no_run
//! use pearsana::{Client, Environment, UserOutcome, types};
//!
//! # async fn run() -> Result<(), pearsana::Error> {
//! let client = Client::builder()
//!     .environment(Environment::Sandbox)
//!     .credentials("my-client-id", "my-client-secret")
//!     .build()?;
//!
//! // Builders, not struct literals: this keeps compiling when the API adds optional fields,
//! // and a missing required field is an `Error::Validation` that names it.
//! let request: types::CreateUserRequest = types::CreateUserRequest::builder()
//!     .identity(
//!         types::UserIdentity::builder()
//!             .email("student@example.com")
//!             .first_name("Jane")
//!             .last_name("Smith")
//!             .role_name("student"),
//!     )
//!     .external_references(vec![pearsana::external_reference("SIS", "STU-2024-001")?])
//!     .try_into()?;
//!
//! match client.create_or_get_user(&request).await? {
//!     UserOutcome::Created(user) => println!("created {}", user.user_id),
//!     UserOutcome::Existing { user_id, .. } => println!("already exists: {user_id}"),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Every enumerated value of the API (statuses, categories, intents, error codes) is an open
//! enum: a value this version does not know arrives as `Unknown` instead of failing to decode.
//! Match the values you handle and end with a wildcard arm:
//!
//! ```
//! use pearsana::types::DocumentCategory;
//!
//! fn shelf(category: &DocumentCategory) -> &'static str {
//!     match category {
//!         DocumentCategory::Academic => "transcripts",
//!         DocumentCategory::Sports | DocumentCategory::Awards => "achievements",
//!         _ => "other",
//!     }
//! }
//! assert_eq!(shelf(&"academic".parse().unwrap()), "transcripts");
//! assert_eq!(shelf(&"vocational".parse().unwrap()), "other");
//! ```
//!
//! A builder that misses a required field fails with a validation error naming it:
//!
//! ```
//! use pearsana::{Error, types};
//!
//! let missing: Result<types::CreateUserRequest, _> = types::CreateUserRequest::builder()
//!     .external_references(vec![pearsana::external_reference("SIS", "1").unwrap()])
//!     .try_into();
//! let error = Error::from(missing.unwrap_err());
//! assert!(error.to_string().contains("identity"), "{error}");
//! ```
//!
//! Per-call options and the metadata of a successful call:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! # async fn run(client: pearsana::Client) -> Result<(), pearsana::Error> {
//! let pong = client.ping().timeout(Duration::from_secs(2)).send().await?;
//! println!("request id {}", pong.metadata().request_id());
//! # Ok(())
//! # }
//! ```
//!
//! Every operation of the spec is also reachable through [`Client::api`], with the same
//! pipeline (authentication, request ids, retries, throttling and version tracking).
//!
//! # Crate layout
//!
//! The crate root holds what a partner's code names day to day: [`Client`] and its
//! [`ClientBuilder`], the [`Environment`], calls and their [`Response`]s, the error types,
//! the document helpers and the secret wrappers. The rest is grouped by concern:
//! [`config`] (defaults and environment variable names), [`limits`] (response size bounds),
//! [`retry`] (policies and the failure classifier), [`auth`], [`version`], [`request_id`],
//! [`validate`], [`time`] (the injectable clock), [`spec`] (facts of the OpenAPI contract) and
//! [`types`] (the generated request and response models). [`testing`] holds instrumentation
//! for tests, benchmarks and demos, not for production code.
//!
//! The error enums and [`Environment`] are `#[non_exhaustive]`: match them with a wildcard
//! arm, so that a variant added in a later release does not break your build.

#![deny(missing_docs)]

pub mod auth;
mod body;
mod call;
mod client;
pub mod config;
mod documents;
mod envelope;
pub mod error;
mod hooks;
mod options;
mod pipeline;
mod redirect;
pub mod request_id;
mod response;
pub mod retry;
pub mod secret;
mod throttle;
pub mod time;
mod tls;
pub mod upload;
pub mod validate;
pub mod version;

pub use pearsana_api::spec;
pub use pearsana_api::types;

/// Bounds on what the client reads from a server, so that a hostile or broken server cannot
/// exhaust its memory. [`ClientBuilder::max_response_body`] changes the first one.
pub mod limits {
    pub use crate::body::{
        DEFAULT_MAX_RESPONSE_BODY, MAX_ACCESS_TOKEN_LEN, MAX_TOKEN_RESPONSE_BODY,
    };
}

/// Instrumentation for tests, benchmarks and demonstrations (how many token requests a client
/// sent). Production code should not depend on it: these counters describe the SDK's
/// internals, which may change in any release.
pub mod testing {
    use crate::Client;

    /// How many requests `client` (and its clones) sent to the token endpoint: proves that
    /// concurrent calls share one token and that a `401` refreshes it once.
    pub fn token_requests(client: &Client) -> u64 {
        client.token_request_count()
    }
}

pub use auth::{AuthError, OAuthErrorKind};
pub use call::{Call, Decode};
pub use client::{Client, UserOutcome};
pub use config::{ClientBuilder, Environment};
pub use documents::{BatchOutcome, DocumentFile, ItemError, ItemOutcome, external_reference};
pub use error::{
    ApiError, ConfigError, Error, ErrorCode, ErrorDetails, FieldProblem, Result, ValidationError,
};
pub use options::CallOptions;
pub use request_id::RequestId;
pub use response::{RateLimit, Response, ResponseMetadata};
pub use retry::RetryPolicy;
pub use secret::{AccessToken, ClientSecret};
pub use upload::{DocumentUpload, UploadItem, UploadRequest, UploadSource};
pub use version::{ApiVersion, VersionInfo};
