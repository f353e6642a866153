//! A local Pearsana Partner API server for offline development and tests.
//!
//! It serves the six operations of `openapi/pearsana-partner.yaml`, the OAuth 2.0 token
//! endpoint (`POST /oauth2/token`), the spec itself (`GET /openapi.yaml`, `GET
//! /openapi.json`) and its rendered reference (`GET /docs`) on one listener, following the documented behaviour and the project's
//! `ASSUMPTIONS.md`: signed JWT access tokens, scope checks, date versioning, request ids,
//! field-by-field validation, users, invitations and documents kept in memory (or in an SQLite
//! database with [`SandboxBuilder::data_dir`]), and batch submissions with per-item results.
//! Faults (failures, dropped connections, lost answers, latency, a rate limit) can be injected
//! reproducibly, per request with the [`FAULT_HEADER`] header or by a fault script. Test helpers
//! under `/sandbox/v1` accept invitations, read state and the request log back, and reset; a
//! browser console at `/` shows it all. Connections, timeouts and request-body memory are
//! bounded ([`Limits`]), and every error follows the documented envelope.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use pearsana_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox};
//!
//! let sandbox = Sandbox::builder().seed(7).spawn().await?;
//! let http = reqwest::Client::new();
//! let token: serde_json::Value = http
//!     .post(sandbox.token_url())
//!     .form(&[
//!         ("grant_type", "client_credentials"),
//!         ("client_id", DEFAULT_CLIENT_ID),
//!         ("client_secret", DEFAULT_CLIENT_SECRET),
//!     ])
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(token["token_type"], "Bearer");
//! assert_eq!(sandbox.stats().token_requests, 1);
//! sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod api;
mod app;
mod auth;
mod body;
mod cli;
mod config;
mod context;
mod error;
mod faults;
mod hyper_errors;
mod persist;
mod request_id;
mod request_log;
mod responses;
mod server;
mod stats;
mod store;
mod strict_json;
mod validate;
mod versioning;

pub use body::{BATCH_BODY_LIMIT, SINGLE_DOCUMENT_BODY_LIMIT, SMALL_BODY_LIMIT};
pub use cli::{SandboxArgs, banner, run};
pub use config::{
    AppClient, ClientSecret, ConfigError, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_LISTEN,
    DEFAULT_ORGANISATION_ID, DEFAULT_TOKEN_TTL, FaultConfig, Limits, SandboxConfig,
};
pub use context::TOKEN_PATH;
pub use faults::{FAULT_HEADER, ScriptedFault};
pub use request_log::{REQUEST_LOG_CAPACITY, RequestLogEntry};
pub use server::{RunningSandbox, Sandbox, SandboxBuilder, SandboxError};
pub use stats::SandboxStats;
pub use store::{DocumentRecord, InvitationRecord, NormalizedRef, UserRecord};
