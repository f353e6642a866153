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
//! - **Safe retries**: failures the server certainly did not process are repeated; ambiguous
//!   ones only for operations where that is harmless ([`retry`]).
//! - **Request ids** on every call, kept across retries, and one `tracing` span per call.
//! - **Validation before I/O** ([`validate`]) and **document helpers** ([`DocumentFile`],
//!   [`Client::submit_documents`]).
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
//! Every operation of the spec is also reachable through [`Client::api`], with the same
//! authentication, request ids, retries and version tracking.

#![deny(missing_docs)]

pub mod auth;
mod call;
mod client;
mod config;
mod documents;
mod envelope;
pub mod error;
mod hooks;
pub mod request_id;
pub mod retry;
pub mod secret;
pub mod time;
mod tls;
pub mod validate;
pub mod version;

pub use pearsana_api::spec;
pub use pearsana_api::types;

pub use auth::{AuthError, OAuthErrorKind, TokenStatus};
pub use client::{Client, UserOutcome};
pub use config::{
    ClientBuilder, DEFAULT_BATCH_CONCURRENCY, DEFAULT_REFRESH_MARGIN, DEFAULT_TIMEOUT, Environment,
    LOCAL_URL, default_user_agent, env,
};
pub use documents::{BatchOutcome, DocumentFile, ItemError, ItemOutcome, external_reference};
pub use error::{
    ApiError, ConfigError, Error, ErrorCode, ErrorDetails, FieldProblem, Result, ValidationError,
};
pub use request_id::{RequestId, with_request_id};
pub use retry::RetryPolicy;
pub use secret::{AccessToken, ClientSecret};
pub use version::{ApiVersion, VersionInfo};
