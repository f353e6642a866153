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
//!   ([`DEFAULT_MAX_RESPONSE_BODY`], [`MAX_TOKEN_RESPONSE_BODY`]), and the client secret and
//!   access tokens are scrubbed from every error text.
//! - **Validation before I/O** ([`validate`]) and **document helpers** ([`DocumentFile`],
//!   [`Client::submit_documents`]).
//!
//! # Adaptive throttling
//!
//! After a `429` the client (all its clones and tasks together) paces its requests at 98 % of
//! the rate the server accepted over the last second, holds sends for the server's
//! `Retry-After` the first time, and probes upwards by 0.5 % per second; after 30 s without a
//! `429` it stops pacing. It is **on by default**: until the first `429` it costs one
//! uncontended lock per answer and never delays a request, and a client that keeps sending at
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
//! let request: types::CreateUserRequest = serde_json::from_value(serde_json::json!({
//!     "identity": {"email": "student@example.com", "firstName": "Jane",
//!                  "lastName": "Smith", "roleName": "student"},
//!     "externalReferences": [{"namespace": "SIS", "externalId": "STU-2024-001"}]
//! }))
//! .expect("a valid request body");
//!
//! match client.create_or_get_user(&request).await? {
//!     UserOutcome::Created(user) => println!("created {}", user.user_id),
//!     UserOutcome::Existing { user_id, .. } => println!("already exists: {user_id}"),
//! }
//! # Ok(())
//! # }
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

#![deny(missing_docs)]

pub mod auth;
mod body;
mod call;
mod client;
mod config;
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

pub use auth::{AuthError, OAuthErrorKind, TokenStatus};
pub use body::{DEFAULT_MAX_RESPONSE_BODY, MAX_ACCESS_TOKEN_LEN, MAX_TOKEN_RESPONSE_BODY};
pub use call::{Call, Decode};
pub use client::{Client, UserOutcome};
pub use config::{
    ClientBuilder, DEFAULT_BATCH_CONCURRENCY, DEFAULT_REFRESH_MARGIN, DEFAULT_TIMEOUT, Environment,
    LOCAL_URL, default_user_agent, env,
};
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
